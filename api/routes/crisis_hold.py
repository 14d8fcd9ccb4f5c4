"""``/crisis-hold`` — scheduled publishing paused while any incident (or a person) holds it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool

from api.deps import (
    AnyUserDep,
    RequestIdDep,
    SessionDep,
    TemporalDep,
    require_roles,
)
from api.schemas.crisis_hold import HolderPublic, HoldPublic, HoldUpdate
from core.crisis_hold import wake_held
from db import audit, crisis_hold
from db.accounts import Principal
from db.models import CrisisHold
from domain.roles import Role

router = APIRouter(prefix="/crisis-hold", tags=["crisis hold"])

HoldDep = Annotated[Principal, Depends(require_roles(Role.ops_head, Role.risk_compliance, Role.leadership))]


def _hold_out(session: SessionDep) -> HoldPublic:
    mirror = session.get(CrisisHold, 1) or CrisisHold(id=1)
    holders = crisis_hold.holders(session)
    return HoldPublic(
        **mirror.model_dump(exclude={"id"}),
        holders=[HolderPublic.model_validate(h, from_attributes=True) for h in holders],
        held_items=[i.id for i in crisis_hold.held_items(session) if i.id],
        awaiting_release=[i.id for i in crisis_hold.awaiting_release(session) if i.id],
    )


@router.get("", response_model=HoldPublic, summary="Is scheduled publishing paused, and by whom?")
def get_hold(_: AnyUserDep, session: SessionDep) -> HoldPublic:
    return _hold_out(session)


@router.put("", response_model=HoldPublic, summary="Set or release the crisis hold")
async def set_hold(
    body: HoldUpdate, principal: HoldDep, session: SessionDep, client: TemporalDep, rid: RequestIdDep
) -> HoldPublic:

    def write() -> list[str]:
        now = crisis_hold.change(
            session,
            holder=body.incident_id or crisis_hold.MANUAL,
            active=body.active,
            reason=body.reason,
            by=principal.name,
            release_all=not body.active and not body.incident_id,
        )
        audit.record(
            session,
            principal,
            "crisis_hold.set" if body.active else "crisis_hold.release",
            "crisis_hold",
            rid,
            body.model_dump(),
        )
        session.commit()
        # the last holder let go: wake held items now rather than at their next poll
        return [] if now.active else [i.workflow_id for i in crisis_hold.held_items(session)]

    waking = await run_in_threadpool(write)
    if waking:
        await wake_held(client, waking)
    return await run_in_threadpool(_hold_out, session)
