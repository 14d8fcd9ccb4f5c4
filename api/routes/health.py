"""``GET /health``: real checks of the database, Temporal, and a worker polling our task queue."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from core.temporal import describe_pollers

router = APIRouter(tags=["health"])
CHECK_TIMEOUT_S = 5.0


async def _check_database(request: Request) -> dict[str, Any]:
    await asyncio.wait_for(run_in_threadpool(request.app.state.db.ping), CHECK_TIMEOUT_S)
    return {"ok": True}


async def _check_temporal_and_worker(request: Request) -> tuple[dict[str, Any], dict[str, Any]]:
    settings = request.app.state.settings
    try:
        client = await request.app.state.temporal.get(timeout=CHECK_TIMEOUT_S)
        healthy = await asyncio.wait_for(client.service_client.check_health(), CHECK_TIMEOUT_S)
        if not healthy:
            raise RuntimeError("Temporal frontend reports not serving")
    except Exception as exc:
        temporal = {"ok": False, "address": settings.temporal_address, "error": _describe(exc)}
        return temporal, {"ok": False, "task_queue": settings.task_queue, "error": "Temporal unreachable"}
    # The client's own target and namespace: they may come from the TEMPORAL_* environment configuration.
    temporal = {"ok": True, "address": client.service_client.config.target_host, "namespace": client.namespace}
    try:
        pollers = await describe_pollers(
            client, client.namespace, settings.task_queue, settings.worker_poll_stale_seconds
        )
    except Exception as exc:
        return temporal, {"ok": False, "task_queue": settings.task_queue, "error": _describe(exc)}
    worker: dict[str, Any] = {
        "ok": pollers.ok,
        "task_queue": settings.task_queue,
        "workflow_pollers": pollers.workflow_pollers,
        "activity_pollers": pollers.activity_pollers,
        "last_poll_age_s": pollers.freshest_poll_age_s,
    }
    if not pollers.ok:
        worker["error"] = (
            f"no worker has polled task queue {settings.task_queue!r} "
            f"in the last {settings.worker_poll_stale_seconds:g}s"
        )
    return temporal, worker


def _supervisor(request: Request) -> dict[str, Any] | None:
    """Under ``socialops up``: each child's state (restarts, last exit) as the supervisor last wrote it."""
    path = request.app.state.settings.supervisor_status
    if path is None:
        return None
    try:
        body = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        return {"ok": False, "error": f"supervisor status unreadable: {type(exc).__name__}"}
    children = body.get("children", {})
    down = sorted(name for name, c in children.items() if not c.get("alive"))
    out: dict[str, Any] = {"ok": not down, "children": children, "updated_at": body.get("updated_at")}
    if down:
        out["error"] = f"restarting: {', '.join(down)}"
    return out


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return f"timed out after {CHECK_TIMEOUT_S:g}s"
    return f"{type(exc).__name__}: {exc}"[:300]


@router.get(
    "/health",
    summary="Component health (public, no token)",
    responses={503: {"description": "Degraded: the body names the failed component ({status, components})"}},
)
async def health(request: Request) -> JSONResponse:
    async def db_check() -> dict[str, Any]:
        try:
            return await _check_database(request)
        except Exception as exc:
            return {"ok": False, "error": _describe(exc)}

    database, (temporal, worker) = await asyncio.gather(db_check(), _check_temporal_and_worker(request))
    components = {"database": database, "temporal": temporal, "worker": worker}
    supervisor = await run_in_threadpool(_supervisor, request)
    if supervisor is not None:
        components["supervisor"] = supervisor
    ok = all(c["ok"] for c in components.values())
    return JSONResponse(
        {"status": "ok" if ok else "degraded", "components": components}, status_code=200 if ok else 503
    )
