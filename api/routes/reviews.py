"""``/reviews`` — what waits for my review, by my roles (R-4.1.3)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import (
    ReviewerDep,
    SessionDep,
)
from api.schemas.content import ContentPublic
from db import content
from domain.content import (
    REVIEW_STAGES,
    STAGE_ROLES,
)

router = APIRouter(prefix="/reviews", tags=["content"])


@router.get(
    "/mine",
    response_model=list[ContentPublic],
    summary="Awaiting my review, by my roles",
    description="Read from the items' records, which follow their processes within a moment: an item "
    "decided a second ago may still be listed. GET /content/{id} shows the live state; a decision on a "
    "stage that has moved on is refused with 409.",
)
def awaiting_my_review(principal: ReviewerDep, session: SessionDep) -> list[ContentPublic]:
    stages = [s.value for s in REVIEW_STAGES if STAGE_ROLES[s] & principal.roles]
    if not stages:
        return []
    rows = content.awaiting_review(session, stages, principal.user_id)
    return [ContentPublic.of(i) for i in rows]
