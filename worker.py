"""Temporal worker entry: settings → logging → client → activities → Worker."""

from __future__ import annotations

import asyncio
import concurrent.futures
import signal
from collections.abc import Callable
from typing import Any

import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from connectors import notifiers
from core import connectors as installed_connectors
from core.dispatch import ensure_reconciler
from core.interceptors import LoggingInterceptor
from core.logging import configure_logging
from core.registry import WORKFLOWS, Dependencies, activities
from core.schedules import ensure_daily_checks
from core.settings import Settings, get_settings
from core.temporal import connect, ensure_search_attributes
from core.warmup import settle
from core.worker_health import WorkerHealthServer
from db.engine import Database

log = structlog.get_logger("socialops.worker")


def build_worker(
    client: Client,
    task_queue: str,
    deps: Dependencies,
    executor: concurrent.futures.Executor,
    replace: dict[str, Callable[..., Any]] | None = None,
) -> Worker:
    """The worker for ``task_queue``; ``replace`` swaps activities by their name (tests)."""
    acts = activities(deps)
    if replace:
        acts = [replace.get(activity_name(a), a) for a in acts]
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=acts,
        activity_executor=executor,
        interceptors=[LoggingInterceptor()],
    )


def activity_name(fn: Callable[..., Any]) -> str:
    """Our activities keep their method names (``@activity.defn`` without ``name=``)."""
    return str(fn.__name__)


async def run_worker(settings: Settings) -> None:
    client = await connect(settings)
    added = await ensure_search_attributes(client, client.namespace)
    if added:
        log.info("registered search attributes", names=added)
    await ensure_reconciler(client, settings.task_queue)
    await ensure_daily_checks(client, settings.task_queue)
    db = Database(settings.effective_database_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as executor:
        deps = Dependencies(
            db=db,
            # Every installed plug-in (the `socialops.connectors` entry points), over the sealed DB store.
            connectors=installed_connectors.installed(settings, db),
            notifiers=notifiers.from_settings(settings),
            secret_key=settings.secret_key.get_secret_value(),
        )
        worker = build_worker(client, settings.task_queue, deps, executor)
        health = await _start_health(client, settings)
        settle()
        log.info(
            "worker started",
            task_queue=settings.task_queue,
            temporal=client.service_client.config.target_host,
            namespace=client.namespace,
            payload_encryption=client.data_converter.payload_codec is not None,
        )
        async with worker:
            if health:
                health.running = True
            await stop.wait()
            log.info("worker stopping")
            if health:
                health.running = False
        if health:
            await health.stop()
    db.dispose()
    log.info("worker stopped")


async def _start_health(client: Client, settings: Settings) -> WorkerHealthServer | None:
    if settings.worker_health_port is None:
        return None

    async def check() -> dict[str, object]:
        if not await client.service_client.check_health():
            raise RuntimeError("Temporal frontend reports not serving")
        return {"temporal": "ok", "task_queue": settings.task_queue}

    server = WorkerHealthServer(check, "0.0.0.0", settings.worker_health_port)
    await server.start()
    log.info("worker health endpoint", port=settings.worker_health_port, path="/health")
    return server


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    asyncio.run(run_worker(settings))


if __name__ == "__main__":
    main()
