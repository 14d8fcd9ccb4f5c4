"""Calling workflows from the API: updates and queries with errors mapped to HTTP."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any

import structlog
from fastapi import Depends
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import OperationalError
from sqlmodel import Session
from temporalio.client import Client, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import RequestIdDep, SessionDep, TemporalDep
from api.errors import ApiError
from core.dispatch import dispatch
from db import audit, outbox
from db.accounts import Principal
from db.campaign import Campaign
from db.engine import Database
from db.models import ContentItem, Incident, Interaction
from domain.errors import ErrorKind
from domain.kernel import Actor

log = structlog.get_logger("socialops.api")

_STATUS = {
    ErrorKind.conflict.value: (409, "conflict"),
    ErrorKind.forbidden.value: (403, "forbidden"),
    ErrorKind.missing.value: (404, "not_found"),
    ErrorKind.invalid.value: (422, "validation_error"),
}


def actor(p: Principal) -> Actor:
    """The caller as workflow validators see it."""
    return Actor(user_id=p.user_id, name=p.name, roles=sorted(p.roles, key=lambda r: r.value))


_TARGETS = {ContentItem: "content", Incident: "incident", Interaction: "interaction", Campaign: "campaign"}


async def send(
    session: Session,
    client: Client,
    principal: Principal,
    request_id: str,
    record: ContentItem | Incident | Interaction | Campaign,
    update: Any,
    arg: Any,
    *,
    action: str,
    detail: dict[str, Any] | None = None,
) -> Any:
    """The one way a route changes a process: send the update to the record's workflow, map a refusal to
    HTTP, and write the audit row — only for an accepted change (a refused one changed nothing)."""
    try:
        return await update_and_audit(
            session,
            client,
            principal,
            record.workflow_id,
            update,
            arg,
            action=action,
            target=f"{_TARGETS[type(record)]}:{record.id}",
            request_id=request_id,
            detail=detail,
        )
    except ApiError as exc:
        if exc.code == "process_closed" and await run_in_threadpool(_starting, session, record):
            raise ApiError(
                409,
                "process_starting",
                f"{_TARGETS[type(record)]} {record.id} is recorded and its process is starting; "
                "nothing was changed — try again in a moment",
            ) from exc
        raise


@dataclass
class Door:
    """What a route needs to change a process, in one dependency: ``await door.send(principal, record,
    Workflow.update, request, action=…)`` — the update, the error map and the audit row (``send``)."""

    session: Session
    client: Client
    request_id: str

    async def send(
        self,
        principal: Principal,
        record: ContentItem | Incident | Interaction | Campaign,
        update: Any,
        arg: Any,
        *,
        action: str,
        detail: dict[str, Any] | None = None,
    ) -> Any:
        return await send(
            self.session,
            self.client,
            principal,
            self.request_id,
            record,
            update,
            arg,
            action=action,
            detail=detail,
        )

    async def ask(self, record: ContentItem | Incident | Interaction | Campaign, update: Any, arg: Any) -> Any:
        """An update whose result decides whether anything changed (the caller audits what did)."""
        return await execute_update(self.client, record.workflow_id, update, arg)

    async def audit(
        self,
        principal: Principal,
        record: ContentItem | Incident | Interaction | Campaign,
        action: str,
        detail: dict[str, Any],
    ) -> None:
        target = f"{_TARGETS[type(record)]}:{record.id}"
        await write_audit(self.session, principal, action, target, self.request_id, detail)


def door(session: SessionDep, client: TemporalDep, rid: RequestIdDep) -> Door:
    return Door(session=session, client=client, request_id=rid)


DoorDep = Annotated[Door, Depends(door)]


def _starting(session: Session, record: ContentItem | Incident | Interaction | Campaign) -> bool:
    return getattr(record, "stage", "") == "starting" or bool(outbox.starting(session, [record.workflow_id]))


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
    """Send a workflow update to ``workflow_id``; only an accepted one is written to the audit log.

    No database transaction stays open across the wait for Temporal (SQLite would hold its lock), and the
    audit row is written off the event loop; if it cannot be written even after retries, the caller is
    told the truth — the change was applied, its audit row is missing (503 ``audit_unavailable``)."""
    await run_in_threadpool(session.commit)  # ends the read transaction: nothing is held while we wait
    result = await execute_update(client, workflow_id, update, arg)
    await write_audit(session, principal, action, target, request_id, detail or {})
    return result


AUDIT_RETRIES = (0.2, 0.5, 1.0)


async def write_audit(
    session: Session, principal: Principal, action: str, target: str, request_id: str, detail: dict[str, Any]
) -> None:
    """Write (and commit) the audit row of a change already applied, retrying a busy database."""

    def write() -> None:
        audit.record(session, principal, action, target, request_id, detail)
        session.commit()

    for pause in (*AUDIT_RETRIES, None):
        try:
            await run_in_threadpool(write)
            return
        except OperationalError as exc:
            await run_in_threadpool(session.rollback)
            if pause is None:
                log.error(
                    "audit row not written", action=action, target=target, request_id=request_id, error=str(exc)
                )
                raise ApiError(
                    503,
                    "audit_unavailable",
                    f"{action} on {target} was applied, but its audit row could not be written (the database "
                    "is busy or unavailable); the change stands — reload before repeating it",
                ) from exc
            await asyncio.sleep(pause)


async def start_recorded(client: Client | None, db: Database, task_queue: str, keys: list[str]) -> set[str]:
    """Start, right after their commit, the processes recorded with their rows (db/outbox.py).

    Returns the workflow ids now running; any other stays recorded and the reconciler starts it within
    a minute, so a caller answers 201 either way and says which processes are still starting.
    """
    if client is None or not keys:
        return set()
    res = await dispatch(client, db, task_queue, keys=keys)
    return set(res.started)


async def live_state(
    client: Client | None, session: Session, workflow_id: str, query_fn: Any
) -> tuple[Any | None, str | None]:
    """The process's live state, or None and why not — a detail page answers from its record either way
    (the process is starting, has ended, or Temporal is unavailable)."""
    if client is not None:
        try:
            return await query(client, workflow_id, query_fn), None
        except ApiError as exc:
            error = exc.message
        except Exception as exc:  # a worker that does not answer the query in time
            error = f"live state unavailable: {exc}"
    else:
        error = "live state unavailable: Temporal is not reachable"
    if await run_in_threadpool(outbox.starting, session, [workflow_id]):
        error = "the process is starting: recorded, and started within a minute"
    return None, error


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
    # Anything else the workflow refused (a handler raced another message, a validator we did not type):
    # the change was not applied, and trying again after reading the current state is the remedy.
    return ApiError(409, "conflict", f"the process did not apply this change: {cause or exc}")


async def execute_update(client: Client, workflow_id: str, update: Any, arg: Any) -> Any:
    handle = client.get_workflow_handle(workflow_id)
    try:
        return await handle.execute_update(update, arg)
    except WorkflowUpdateFailedError as exc:
        raise map_update_error(exc) from exc
    except WorkflowUpdateRPCTimeoutOrCancelledError as exc:
        raise ApiError(
            503, "temporal_unavailable", "the process did not answer in time; read its state before retrying"
        ) from exc
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
    return temporal_error(exc, workflow_id)


def temporal_error(exc: Exception, workflow_id: str = "") -> ApiError:
    """One mapping of Temporal's client errors to HTTP, for the helpers above and the app-wide handler."""
    what = f"process {workflow_id}" if workflow_id else "the process"
    if isinstance(exc, WorkflowAlreadyStartedError):
        return ApiError(409, "conflict", f"{what} is already running (started by an earlier request)")
    if isinstance(exc, WorkflowUpdateFailedError):
        return map_update_error(exc)
    if isinstance(exc, RPCError):
        if exc.status == RPCStatusCode.NOT_FOUND:
            return ApiError(409, "process_closed", f"{what} is not running any more")
        if exc.status == RPCStatusCode.ALREADY_EXISTS:
            return ApiError(409, "conflict", f"{what} already exists: {exc.message}")
        if exc.status in (RPCStatusCode.INVALID_ARGUMENT, RPCStatusCode.FAILED_PRECONDITION):
            return ApiError(409, "conflict", f"Temporal refused the call: {exc.message}")
        return ApiError(503, "temporal_unavailable", f"Temporal did not answer: {exc.message}")
    return ApiError(503, "temporal_unavailable", f"Temporal could not be reached: {exc}")
