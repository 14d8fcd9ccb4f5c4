"""``socialops backup`` / ``restore``: the embedded data directory as one archive.

The archive holds the application database, the sandbox platform's store and the Temporal dev server's
state, each copied with SQLite's online backup API (a consistent snapshot of each file, write-ahead log
included), and a manifest with their SHA-256. The stack must be stopped: records and their processes live
in two databases, and only a stopped stack has the two agree at one instant (a record whose process start
was recorded in one snapshot but not the other would be lost or run twice).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from core.embedded import pid_alive

DATABASES = ("socialops.db", "sandbox.db", "temporal.db")
MANIFEST = "manifest.json"
FORMAT = 1


class BackupError(RuntimeError):
    pass


def running_stack(var: Path) -> list[int]:
    """Process ids of a ``socialops up`` still running on ``var`` (from its supervisor status file)."""
    status = var / "supervisor.json"
    try:
        children = json.loads(status.read_text()).get("children", {})
    except (OSError, ValueError):
        return []
    alive = []
    for child in children.values():
        pid = int(child.get("pid") or 0)
        if pid_alive(pid):
            alive.append(pid)
    return alive


def _refuse_if_running(var: Path, what: str) -> None:
    pids = running_stack(var)
    if pids:
        raise BackupError(
            f"`socialops up` is running on {var} (pids {', '.join(map(str, pids))}); stop it (Ctrl-C) before "
            f"you {what}: the application and Temporal databases agree only when the stack is stopped"
        )


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _snapshot(src: Path, dst: Path) -> None:
    with sqlite3.connect(f"file:{src}?mode=ro", uri=True) as source, sqlite3.connect(dst) as target:
        source.backup(target)
    target.close()
    source.close()


def backup(var: Path, output: Path) -> dict[str, object]:
    """Write ``output`` (tar.gz) from ``var``; returns the manifest."""
    var = var.resolve()
    _refuse_if_running(var, "back up")
    present = [name for name in DATABASES if (var / name).exists()]
    if "socialops.db" not in present:
        raise BackupError(f"no socialops.db in {var}: nothing to back up (is --var-dir right?)")
    manifest: dict[str, object] = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "var_dir": str(var),
        "files": {},
    }
    files: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in present:
            _snapshot(var / name, Path(tmp) / name)
            files[name] = _sha256(Path(tmp) / name)
        manifest["files"] = files
        output.parent.mkdir(parents=True, exist_ok=True)
        partial = output.with_name(output.name + ".partial")
        partial.unlink(missing_ok=True)
        os.close(os.open(partial, os.O_CREAT | os.O_WRONLY, 0o600))  # the archive holds personal data
        with tarfile.open(partial, "w:gz") as tar:
            body = json.dumps(manifest, indent=2).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode = len(body), 0o600
            tar.addfile(info, io.BytesIO(body))
            for name in present:
                tar.add(Path(tmp) / name, arcname=name, filter=_private)
        partial.replace(output)  # a half-written archive never has the final name
    return manifest


def restore(archive: Path, var: Path, *, force: bool = False) -> dict[str, object]:
    """Put the archive's databases into ``var``; existing ones are moved aside (``force``) or refused."""
    var = var.resolve()
    _refuse_if_running(var, "restore")
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(archive, "r:gz") as tar:
        try:
            manifest = json.loads(tar.extractfile(MANIFEST).read())  # type: ignore[union-attr]
        except (KeyError, AttributeError, ValueError) as exc:
            raise BackupError(f"{archive} is not a socialops backup (no readable {MANIFEST})") from exc
        files = manifest.get("files", {})
        if manifest.get("format") != FORMAT or not isinstance(files, dict) or "socialops.db" not in files:
            raise BackupError(f"{archive}: unsupported backup format {manifest.get('format')!r}")
        for name, digest in files.items():
            if name not in DATABASES:
                raise BackupError(f"{archive}: unexpected file {name!r}")
            tar.extract(name, tmp, filter="data")
            if _sha256(Path(tmp) / name) != digest:
                raise BackupError(f"{archive}: {name} does not match its checksum; the archive is damaged")
        existing = [p for n in DATABASES for p in var.glob(f"{n}*") if p.exists()]
        if existing and not force:
            raise BackupError(
                f"{var} already holds data ({', '.join(sorted(p.name for p in existing))}); pass --force to "
                "move it aside and restore"
            )
        var.mkdir(parents=True, exist_ok=True)
        if existing:
            aside = var / f"pre-restore-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
            aside.mkdir()
            for p in existing:
                shutil.move(str(p), aside / p.name)
            manifest["moved_aside"] = str(aside)
        for name in files:
            shutil.copyfile(Path(tmp) / name, var / name)
            (var / name).chmod(0o600)
    return manifest


def _private(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mode = 0o600
    return info


def make_private(var: Path) -> list[str]:
    """Owner-only modes for the data directory's databases (and their -wal/-shm files); returns those fixed."""
    fixed = []
    for path in sorted(p for name in DATABASES for p in var.glob(f"{name}*")):
        if path.is_file() and path.stat().st_mode & 0o077:
            path.chmod(0o600)
            fixed.append(path.name)
    return fixed
