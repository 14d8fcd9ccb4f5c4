"""``/shifts`` — the agents' rota that assignment and off-hours cover follow (R-4.2.2)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import AwareDatetime

from api.deps import (
    INBOX_HANDLERS,
    AnyUserDep,
    LeadDep,
    RequestIdDep,
    SessionDep,
    require_person,
)
from api.errors import bad_request, not_found
from api.params import PathId
from api.schemas.shifts import ShiftCreate, ShiftPublic
from db import audit, inbox
from db.models import (
    Shift,
)

router = APIRouter(prefix="/shifts", tags=["shifts"])


@router.get("", response_model=list[ShiftPublic], summary="The shift rota")
def list_shifts(_: AnyUserDep, session: SessionDep, at: AwareDatetime | None = None) -> list[ShiftPublic]:
    return [ShiftPublic.model_validate(r, from_attributes=True) for r in inbox.shifts(session, at)]


@router.post("", response_model=ShiftPublic, status_code=201)
def add_shift(body: ShiftCreate, principal: LeadDep, session: SessionDep, rid: RequestIdDep) -> ShiftPublic:
    if body.ends_at <= body.starts_at:
        raise bad_request("ends_at", "must be after starts_at")
    require_person(session, "user", body.user, any_of=INBOX_HANDLERS)
    row = Shift(**body.model_dump())
    session.add(row)
    session.flush()
    audit.record(session, principal, "shift.add", f"shift:{row.id}", rid, body.model_dump(mode="json"))
    session.commit()
    return ShiftPublic.model_validate(row, from_attributes=True)


@router.delete("/{shift_id}", status_code=204)
def delete_shift(shift_id: PathId, principal: LeadDep, session: SessionDep, rid: RequestIdDep) -> None:
    row = session.get(Shift, shift_id)
    if row is None:
        raise not_found("shift", shift_id)
    session.delete(row)
    audit.record(session, principal, "shift.delete", f"shift:{shift_id}", rid, {})
    session.commit()
