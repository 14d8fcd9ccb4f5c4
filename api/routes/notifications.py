"""``/notifications`` — what the system told me (or my roles)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import or_
from sqlmodel import col, select

from api.deps import (
    AnyUserDep,
    SessionDep,
)
from api.schemas.notifications import NotificationPublic
from db.models import Notification

router = APIRouter(prefix="/notifications", tags=["notifications"])


@router.get("", response_model=list[NotificationPublic], summary="Reminders, escalations and alerts for me")
def my_notifications(
    principal: AnyUserDep,
    session: SessionDep,
    ref: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[NotificationPublic]:
    stmt = select(Notification).where(
        or_(
            col(Notification.recipient_user) == principal.name,
            col(Notification.recipient_role).in_(principal.role_names),
        )
    )
    if ref:
        stmt = stmt.where(Notification.ref == ref)
    rows = session.exec(stmt.order_by(col(Notification.id).desc()).limit(limit)).all()
    return [NotificationPublic.model_validate(r, from_attributes=True) for r in rows]
