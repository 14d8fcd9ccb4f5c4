"""The append-only audit log: one row per mutating call or human decision."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from db.accounts import Principal
from db.models import AuditLog


def record(
    session: Session,
    actor: Principal | None,
    action: str,
    target: str,
    request_id: str = "",
    detail: dict[str, Any] | None = None,
    actor_name: str | None = None,
) -> AuditLog:
    """Add an audit row to the caller's transaction, so the change and its record commit together."""
    row = AuditLog(
        actor_id=actor.user_id if actor else None,
        actor_name=actor.name if actor else (actor_name or "system"),
        roles=actor.role_names if actor else [],
        action=action,
        target=target,
        request_id=request_id,
        detail=detail or {},
    )
    session.add(row)
    return row


def query(
    session: Session,
    *,
    action: str | None = None,
    target: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[AuditLog]:
    stmt = select(AuditLog)
    if action:
        stmt = stmt.where(AuditLog.action == action)
    if target:
        stmt = stmt.where(AuditLog.target == target)
    if actor:
        stmt = stmt.where(AuditLog.actor_name == actor)
    if since:
        stmt = stmt.where(col(AuditLog.at) >= since)
    if before_id:
        stmt = stmt.where(col(AuditLog.id) < before_id)
    return list(session.exec(stmt.order_by(col(AuditLog.id).desc()).limit(limit)).all())
