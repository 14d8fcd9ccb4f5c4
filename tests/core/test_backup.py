"""`socialops backup` / `restore`: the embedded data directory (application DB + Temporal DB) round trip."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from db import migrate
from db.accounts import create_user
from db.engine import Database
from domain.roles import Role
from tests.conftest import free_port, temporal_cli

SOCIALOPS = str(Path(sys.executable).parent / "socialops")


@contextmanager
def _dev_server(state: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [temporal_cli(), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port), "--headless",
         "--db-filename", str(state), "--log-level", "error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("dev server did not open its port")
                time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(20)


def _cli(var: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALOPS_")} | {"SOCIALOPS_VAR_DIR": str(var)}
    return subprocess.run([SOCIALOPS, *args], env=env, capture_output=True, text=True, timeout=120)


async def test_backup_and_restore_the_embedded_data(tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.mkdir()
    db = Database(f"sqlite:///{var / 'socialops.db'}")
    migrate.upgrade(db.engine)
    with db.session() as s:
        create_user(s, "xiaozhou", [Role.interaction_agent], "小周", "test")
        s.commit()
    db.dispose()
    async with _running_workflow(var / "temporal.db") as wid:
        pass

    r = _cli(var, "backup", "--output", str(tmp_path / "b.tar.gz"))
    assert r.returncode == 0, r.stderr
    manifest = json.loads(r.stdout)
    assert set(manifest["files"]) == {"socialops.db", "temporal.db"}
    with tarfile.open(tmp_path / "b.tar.gz") as tar:
        assert sorted(tar.getnames()) == ["manifest.json", "socialops.db", "temporal.db"]
        assert all(m.mode == 0o600 for m in tar.getmembers())  # personal data: owner-only, also inside
    assert (tmp_path / "b.tar.gz").stat().st_mode & 0o777 == 0o600

    (var / "supervisor.json").write_text(json.dumps({"children": {"api": {"pid": os.getpid()}}}))
    r = _cli(var, "backup", "--output", str(tmp_path / "c.tar.gz"))
    assert r.returncode == 1 and "`socialops up` is running" in r.stderr and not (tmp_path / "c.tar.gz").exists()
    (var / "supervisor.json").unlink()

    fresh = tmp_path / "fresh"
    r = _cli(fresh, "restore", str(tmp_path / "b.tar.gz"))
    assert r.returncode == 0, r.stderr
    assert all((fresh / n).stat().st_mode & 0o777 == 0o600 for n in ("socialops.db", "temporal.db"))
    db = Database(f"sqlite:///{fresh / 'socialops.db'}")
    with db.session() as s:
        from db.models import User

        assert s.get(User, 1) is not None and s.get(User, 1).name == "xiaozhou"  # type: ignore[union-attr]
    db.dispose()
    with _dev_server(fresh / "temporal.db") as address:  # the process is there, still running
        client = await Client.connect(address)
        desc = await client.get_workflow_handle(wid).describe()
        assert desc.status == WorkflowExecutionStatus.RUNNING

    r = _cli(fresh, "restore", str(tmp_path / "b.tar.gz"))
    assert r.returncode == 1 and "already holds data" in r.stderr and "--force" in r.stderr
    r = _cli(fresh, "restore", "--force", str(tmp_path / "b.tar.gz"))
    assert r.returncode == 0, r.stderr
    aside = Path(json.loads(r.stdout)["moved_aside"])
    assert (aside / "socialops.db").exists() and (fresh / "socialops.db").exists()

    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(tmp_path / "b.tar.gz") as src, tarfile.open(damaged, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "socialops.db":
                data = data[:-1] + bytes([data[-1] ^ 1])
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    r = _cli(tmp_path / "other", "restore", str(damaged))
    assert r.returncode == 1 and "does not match its checksum" in r.stderr
    assert not (tmp_path / "other" / "socialops.db").exists()


@asynccontextmanager
async def _running_workflow(state: Path) -> AsyncIterator[str]:
    """A dev server on ``state`` with one workflow started (no worker: it stays running), then stopped."""
    with _dev_server(state) as address:
        client = await Client.connect(address)
        handle = await client.start_workflow("SystemCheckWorkflow", id="kept-across-backup", task_queue="nobody")
        yield handle.id
