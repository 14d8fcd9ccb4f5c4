"""``/faq`` — the FAQ entries the inbox answers from (R-4.2.1)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import (
    AgentDep,
    AnyUserDep,
    RequestIdDep,
    SessionDep,
)
from api.schemas.faq import FaqCreate, FaqPublic
from db import audit, inbox
from db.models import (
    FaqRow,
)

router = APIRouter(prefix="/faq", tags=["faq"])


@router.get("", response_model=list[FaqPublic])
def list_faq(_: AnyUserDep, session: SessionDep) -> list[FaqPublic]:
    rows = inbox.active_faq(session)
    return [FaqPublic.model_validate(r, from_attributes=True) for r in rows]


@router.post("", response_model=FaqPublic, status_code=201)
def add_faq(body: FaqCreate, principal: AgentDep, session: SessionDep, rid: RequestIdDep) -> FaqPublic:
    row = FaqRow(**body.model_dump(), created_by=principal.name)
    session.add(row)
    session.flush()
    audit.record(session, principal, "faq.add", f"faq:{row.id}", rid, body.model_dump())
    session.commit()
    return FaqPublic.model_validate(row, from_attributes=True)
