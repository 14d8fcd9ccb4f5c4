"""The process-start outbox: rows written with their record, read by the dispatcher (core/dispatch.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, col, select

from db.models import ProcessStart, utcnow


def add_start(
    session: Session,
    workflow_id: str,
    workflow: str,
    inp: BaseModel,
    summary: str = "",
    *,
    long_lived: bool = False,
) -> ProcessStart:
    """Record that ``workflow_id`` must be started with ``inp``; part of the caller's transaction.

    A record's process starts once (a finished one is not started again). A ``long_lived`` process (an
    account's poller) is asked for again whenever its owner asks: its row is re-armed, a running one is
    kept as it is and a finished one starts anew.
    """
    row = session.exec(select(ProcessStart).where(ProcessStart.key == workflow_id)).first() if long_lived else None
    if row is None:
        row = ProcessStart(key=workflow_id, workflow_id=workflow_id, workflow=workflow, input={})
    row.input = inp.model_dump(mode="json")
    row.summary = summary[:200]
    row.reuse_closed_id = long_lived
    row.dispatched_at = None
    session.add(row)
    return row


def add_signal(
    session: Session,
    key: str,
    workflow_id: str,
    workflow: str,
    inp: BaseModel,
    signal: str,
    signal_input: BaseModel,
    summary: str = "",
    *,
    restart_finished: bool = True,
) -> ProcessStart:
    """Record a signal-with-start (``key`` makes the same signal recorded twice one row); with
    ``restart_finished=False`` a process that has finished is left as it is (the signal is dropped)."""
    existing = session.exec(select(ProcessStart).where(ProcessStart.key == key)).first()
    if existing is not None:
        return existing
    row = ProcessStart(
        key=key[:300],
        workflow_id=workflow_id,
        workflow=workflow,
        input=inp.model_dump(mode="json"),
        signal=signal,
        signal_input=signal_input.model_dump(mode="json"),
        reuse_closed_id=restart_finished,
        summary=summary[:200],
    )
    session.add(row)
    return row


def pending(
    session: Session, *, keys: list[str] | None = None, created_before: datetime | None = None, limit: int = 500
) -> list[ProcessStart]:
    stmt = select(ProcessStart).where(col(ProcessStart.dispatched_at).is_(None))
    if keys is not None:
        stmt = stmt.where(col(ProcessStart.key).in_(keys))
    if created_before is not None:
        stmt = stmt.where(col(ProcessStart.created_at) <= created_before)
    return list(session.exec(stmt.order_by(col(ProcessStart.id)).limit(limit)).all())


def recorded(session: Session, keys: list[str]) -> set[str]:
    """Those of ``keys`` with a recorded start, dispatched or not."""
    if not keys:
        return set()
    return set(session.exec(select(ProcessStart.key).where(col(ProcessStart.key).in_(keys))).all())


def starting(session: Session, workflow_ids: list[str]) -> set[str]:
    """Those of ``workflow_ids`` whose start is recorded and not yet dispatched (the process is starting)."""
    if not workflow_ids:
        return set()
    rows = session.exec(
        select(ProcessStart.workflow_id).where(
            col(ProcessStart.workflow_id).in_(workflow_ids),
            col(ProcessStart.dispatched_at).is_(None),
            ProcessStart.signal == "",
        )
    ).all()
    return set(rows)


def mark(session: Session, row_id: int, *, dispatched: bool, error: str = "") -> None:
    row = session.get(ProcessStart, row_id)
    if row is None:
        return
    row.attempts += 1
    if dispatched:
        row.dispatched_at = utcnow()
        row.last_error = ""
    else:
        row.last_error = error[:2000]
    session.add(row)


def counts(session: Session) -> dict[str, Any]:
    rows = session.exec(select(ProcessStart).where(col(ProcessStart.dispatched_at).is_(None))).all()
    oldest = min((r.created_at for r in rows), default=None)
    return {"pending": len(rows), "oldest": oldest.isoformat() if oldest else None}
