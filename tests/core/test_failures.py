"""Failures from outside the code: a worker killed mid-flight, the Temporal server restarted mid-flight.

Each runs real ``socialops worker`` processes against a real Temporal server and a file database shared by
the processes, pushes a burst of inbox items whose processes each post one reply, breaks something while
they run, and checks that every process completes and that no reply was posted twice. (A crash between
storing a record and starting its process, and redelivery after it, are tests/api/test_process_starts.py.)
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter

from connectors.sandbox import SandboxPlatform
from core.dispatch import dispatch
from core.temporal import dev_server_search_attribute_flags
from db.engine import Database
from db.inbox import store_items
from domain import ids
from domain.kernel import Platform
from tests.conftest import DevServer, free_port, temporal_cli
from tests.seeds import seed_accounts

SOCIALOPS = str(Path(sys.executable).parent / "socialops")
PRAISE = ["很好用", "质量不错", "颜值很高", "物流很快", "客服很耐心", "包装用心", "性价比高", "做工扎实"]
PRODUCTS = ["暖手宝", "降噪耳机", "充电宝", "保温杯", "台灯"]


def _texts(n: int) -> list[str]:
    return [f"{PRODUCTS[i % len(PRODUCTS)]}{PRAISE[i // len(PRODUCTS) % len(PRAISE)]}，支持！" for i in range(n)]


@contextmanager
def _worker(
    address: str, db: Database, sandbox_url: str, queue: str, var: Path
) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALOPS_")}
    env |= {
        "SOCIALOPS_TEMPORAL_ADDRESS": address,
        "SOCIALOPS_DATABASE_URL": db.url,
        "SOCIALOPS_SANDBOX_DATABASE_URL": sandbox_url,
        "SOCIALOPS_TASK_QUEUE": queue,
        "SOCIALOPS_VAR_DIR": str(var),
    }
    log = open(var / f"worker-{uuid.uuid4().hex[:6]}.log", "wb")
    proc = subprocess.Popen([SOCIALOPS, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()


def _push(db: Database, n: int, tag: str) -> list[str]:
    seed_accounts(db)
    items = [{"external_id": f"{tag}-{i}", "text": t, "author": f"粉丝{tag}{i}"} for i, t in enumerate(_texts(n))]
    inputs = store_items(db, Platform.weibo, "brand_weibo", items)
    assert len(inputs) == n and all(i.classification.intent.value == "praise" for i in inputs), [
        (i.text, i.classification.intent) for i in inputs
    ]
    return [ids.interaction(Platform.weibo, i.external_id) for i in inputs]


async def _wait_all_completed(client: Client, wids: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    left = list(wids)
    while left and time.monotonic() < deadline:
        still = []
        for wid in left:
            try:
                status = (await client.get_workflow_handle(wid).describe()).status
            except Exception:  # the server is coming back
                still.append(wid)
                continue
            if status != WorkflowExecutionStatus.COMPLETED:
                assert status == WorkflowExecutionStatus.RUNNING, (wid, status)
                still.append(wid)
        left = still
        if left:
            await asyncio.sleep(0.5)
    assert not left, f"{len(left)} of {len(wids)} processes did not complete: {left[:5]}"


def _replies_once(sandbox: SandboxPlatform, tag: str, n: int) -> None:
    counts = {i: len(sandbox.replies_to(Platform.weibo, f"{tag}-{i}")) for i in range(n)}
    assert all(c == 1 for c in counts.values()), {i: c for i, c in counts.items() if c != 1}


async def _replied(sandbox: SandboxPlatform, tag: str, n: int, at_least: int, timeout: float) -> int:
    """Wait until at least ``at_least`` items have their reply; returns how many had one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = sum(bool(sandbox.replies_to(Platform.weibo, f"{tag}-{i}")) for i in range(n))
        if done >= at_least:
            return done
        await asyncio.sleep(0.1)
    pytest.fail(f"fewer than {at_least} replies in {timeout:g} s")


async def test_a_worker_killed_mid_flight_loses_nothing_and_posts_nothing_twice(
    dev_server: DevServer, sqlite_database: Database, tmp_path: Path
) -> None:
    db, n, tag = sqlite_database, 30, f"kill{uuid.uuid4().hex[:4]}"
    sandbox_url = f"sqlite:///{tmp_path / 'sandbox.db'}"
    sandbox = SandboxPlatform(sandbox_url)
    client = await Client.connect(dev_server.address, data_converter=pydantic_data_converter)
    queue = f"failures-{uuid.uuid4().hex[:6]}"
    with (
        _worker(dev_server.address, db, sandbox_url, queue, tmp_path) as doomed,
        _worker(dev_server.address, db, sandbox_url, queue, tmp_path),
    ):
        wids = _push(db, n, tag)
        started = await dispatch(client, db, queue, keys=wids)
        assert sorted(started.started) == sorted(wids), started.failed
        done = await _replied(sandbox, tag, n, at_least=3, timeout=90)
        doomed.send_signal(signal.SIGKILL)  # whatever it held (workflow tasks, reply activities) moves over
        doomed.wait(10)
        assert done < n  # killed mid-flight, not after the work was over
        await _wait_all_completed(client, wids, timeout=180)
    _replies_once(sandbox, tag, n)
    sandbox.engine.dispose()


async def test_a_temporal_restart_mid_flight_loses_nothing_and_posts_nothing_twice(
    sqlite_database: Database, tmp_path: Path
) -> None:
    db, n, tag = sqlite_database, 30, f"restart{uuid.uuid4().hex[:4]}"
    port, ui = free_port(), free_port()
    state = tmp_path / "temporal.db"
    cmd = [
        temporal_cli(), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port), "--ui-port", str(ui),
        "--db-filename", str(state), "--log-level", "error", *dev_server_search_attribute_flags(),
    ]  # fmt: skip

    def start_server() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import socket

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return proc
            except OSError:
                time.sleep(0.2)
        proc.kill()
        pytest.fail("dev server did not open its port")

    server = start_server()
    address = f"127.0.0.1:{port}"
    sandbox_url = f"sqlite:///{tmp_path / 'sandbox.db'}"
    sandbox = SandboxPlatform(sandbox_url)
    queue = f"restart-{uuid.uuid4().hex[:6]}"
    try:
        client = await Client.connect(address, data_converter=pydantic_data_converter)
        with _worker(address, db, sandbox_url, queue, tmp_path):
            wids = _push(db, n, tag)
            started = await dispatch(client, db, queue, keys=wids)
            assert sorted(started.started) == sorted(wids), started.failed
            done = await _replied(sandbox, tag, n, at_least=2, timeout=90)
            server.send_signal(signal.SIGKILL)  # its state is on disk: it comes back with every process
            server.wait(10)
            assert done < n  # restarted mid-flight
            await asyncio.sleep(2)
            server = start_server()
            client = await Client.connect(address, data_converter=pydantic_data_converter)
            await _wait_all_completed(client, wids, timeout=180)
        _replies_once(sandbox, tag, n)
    finally:
        server.terminate()
        server.wait(20)
        sandbox.engine.dispose()
