"""Calling workflows from the API: updates and queries with errors mapped to HTTP."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import ApiError
from db import audit
from db.accounts import Principal
from domain.errors import ErrorKind
from domain.kernel import Actor

_STATUS = {
    ErrorKind.conflict.value: (409, "conflict"),
    ErrorKind.forbidden.value: (403, "forbidden"),
    ErrorKind.missing.value: (404, "not_found"),
    ErrorKind.invalid.value: (422, "validation_error"),
}


def actor(p: Principal) -> Actor:
    """The caller as workflow validators see it."""
    return Actor(user_id=p.user_id, name=p.name, roles=sorted(p.roles, key=lambda r: r.value))


async def update_and_audit(
    session: Session,
    client: Client,
    principal: Principal,
    workflow_id: str,
    update: Any,
    arg: Any,
    *,
    action: str,
    target: str,
    request_id: str,
    detail: dict[str, Any] | None = None,
) -> Any:
    """Send a workflow update; only an accepted one is written to the audit log."""
    result = await execute_update(client, workflow_id, update, arg)
    audit.record(session, principal, action, target, request_id, detail or {})
    session.commit()
    return result


def map_update_error(exc: WorkflowUpdateFailedError) -> ApiError:
    cause = exc.cause
    if isinstance(cause, ApplicationError) and cause.type in _STATUS:
        details = dict(cause.details[0]) if cause.details and isinstance(cause.details[0], dict) else {}
        field = str(details.pop("field", "")) or None
        status, code = _STATUS[cause.type or ""]
        message = cause.message
        extra: dict[str, Any] = details  # forbidden: required_roles, your_roles
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


async def query(client: Client, workflow_id: str, query_fn: Any, *args: Any) -> Any:
    try:
        return await client.get_workflow_handle(workflow_id).query(query_fn, *args)
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
