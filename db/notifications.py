"""Query functions for the notifications the system sends people and roles."""

from __future__ import annotations

from sqlalchemy import or_
from sqlmodel import Session, col, select

from db.models import Notification


def for_recipient(
    session: Session, user: str, roles: list[str], ref: str | None, limit: int
) -> list[Notification]:
    """Notifications to ``user`` or to any of ``roles`` (about ``ref``), newest first."""
    stmt = select(Notification).where(
        or_(
            col(Notification.recipient_user) == user,
            col(Notification.recipient_role).in_(roles),
        )
    )
    if ref:
        stmt = stmt.where(Notification.ref == ref)
    return list(session.exec(stmt.order_by(col(Notification.id).desc()).limit(limit)).all())
