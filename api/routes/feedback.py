"""``/feedback`` — user feedback routed to a department and closed with the user told (R-4.2.4)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool

from api import workflows as wf
from api.deps import (
    RequestIdDep,
    SessionDep,
    TemporalDep,
    require_roles,
)
from api.errors import not_found
from api.params import PathId
from api.resources import interaction
from api.schemas.feedback import FeedbackPublic, OutcomeIn
from api.workflows import actor
from db import inbox
from db.accounts import Principal
from db.models import (
    FeedbackRecord,
    Interaction,
)
from domain.inbox_io import (
    FeedbackOutcome,
    InteractionState,
)
from domain.roles import Role
from workflows.interaction import InteractionWorkflow

router = APIRouter(prefix="/feedback", tags=["feedback"])

DeptDep = Annotated[Principal, Depends(require_roles(*Role))]


@router.get("", response_model=list[FeedbackPublic], summary="Feedback records by department")
def list_feedback(
    _: DeptDep,
    session: SessionDep,
    department: str | None = None,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[FeedbackPublic]:
    rows = inbox.feedback_records(session, department, status, limit)
    return [FeedbackPublic.model_validate(r, from_attributes=True) for r in rows]


@router.post(
    "/{feedback_id}/resolve",
    response_model=InteractionState,
    summary="The department's outcome; the user is told",
)
async def resolve_feedback(
    feedback_id: PathId,
    body: OutcomeIn,
    principal: DeptDep,
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
) -> InteractionState:
    def read() -> Interaction:
        fb = session.get(FeedbackRecord, feedback_id)
        if fb is None:
            raise not_found("feedback", feedback_id)
        return interaction(fb.interaction_id, session)

    record = await run_in_threadpool(read)
    return await wf.send(
        session,
        client,
        principal,
        rid,
        record,
        InteractionWorkflow.resolve_feedback,
        FeedbackOutcome(actor=actor(principal), outcome=body.outcome),
        action="feedback.resolve",
        detail={"feedback": feedback_id, **body.model_dump()},
    )
