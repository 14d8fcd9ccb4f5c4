"""``/notifications`` — what the system told me (or my roles)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import (
    AnyUserDep,
    SessionDep,
)
from api.schemas.notifications import NotificationPublic
from db import notifications

router = APIRouter(prefix="/notifications", tags=["notifications"])


@router.get("", response_model=list[NotificationPublic], summary="Reminders, escalations and alerts for me")
def my_notifications(
    principal: AnyUserDep,
    session: SessionDep,
    ref: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[NotificationPublic]:
    rows = notifications.for_recipient(session, principal.name, principal.role_names, ref, limit)
    return [NotificationPublic.model_validate(r, from_attributes=True) for r in rows]
