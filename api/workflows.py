"""Calling workflows from the API: updates and queries with errors mapped to HTTP."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import ApiError
from domain.errors import CONFLICT, FORBIDDEN

_STATUS = {CONFLICT: (409, "conflict"), FORBIDDEN: (403, "forbidden")}


def map_update_error(exc: WorkflowUpdateFailedError) -> ApiError:
    cause = exc.cause
    if isinstance(cause, ApplicationError):
        field = str(cause.details[0]) if cause.details else None
        status, code = _STATUS.get(cause.type or "", (422, "validation_error"))
        message = cause.message
        extra: dict[str, Any] = {}
        if status == 422 and field:
            extra["fields"] = [{"field": field, "reason": message.removeprefix(f"{field}: ")}]
        return ApiError(status, code, message, field=field, **extra)
    return ApiError(500, "workflow_error", f"the workflow could not apply this change: {cause}")


async def execute_update(client: Client, workflow_id: str, update: Any, arg: Any) -> Any:
    handle = client.get_workflow_handle(workflow_id)
    try:
        return await handle.execute_update(update, arg)
    except WorkflowUpdateFailedError as exc:
        raise map_update_error(exc) from exc
    except RPCError as exc:
        raise _rpc(exc, workflow_id) from exc


async def query(client: Client, workflow_id: str, query_fn: Any) -> Any:
    try:
        return await client.get_workflow_handle(workflow_id).query(query_fn)
    except RPCError as exc:
        raise _rpc(exc, workflow_id) from exc


async def signal(client: Client, workflow_id: str, signal_fn: Any) -> None:
    try:
        await client.get_workflow_handle(workflow_id).signal(signal_fn)
    except RPCError as exc:
        raise _rpc(exc, workflow_id) from exc


def _rpc(exc: RPCError, workflow_id: str) -> ApiError:
    if exc.status == RPCStatusCode.NOT_FOUND:
        return ApiError(409, "process_closed", f"process {workflow_id} is not running any more")
    if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
        return ApiError(503, "temporal_unavailable", f"Temporal did not answer: {exc.message}")
    return ApiError(502, "temporal_error", f"Temporal refused the call: {exc.message}")
