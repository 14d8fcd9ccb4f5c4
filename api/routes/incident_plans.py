"""``/incident-plans`` — the response plan of each risk level, versioned (R-5.2.2)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import AnyUserDep, PlannersDep, RequestIdDep, SessionDep
from api.errors import bad_request
from api.schemas.incident_plans import PlanCreate, PlanPublic
from db import audit, emergency
from db.models import IncidentPlanRow
from domain.emergency import IncidentPlan
from domain.risk import RiskLevel

router = APIRouter(prefix="/incident-plans", tags=["incident plans"])


def _plan_out(row: IncidentPlanRow) -> PlanPublic:
    return PlanPublic(
        level=row.level,
        version=row.version,
        created_by=row.created_by,
        created_at=row.created_at,
        note=row.note,
        plan=IncidentPlan.model_validate(row.content),
    )


@router.get("", response_model=list[PlanPublic], summary="The current plan of each level")
def current_plans(_: AnyUserDep, session: SessionDep) -> list[PlanPublic]:
    out = []
    for level in (RiskLevel.low, RiskLevel.medium, RiskLevel.high):
        row = emergency.latest_plan(session, level)
        if row is not None:
            out.append(_plan_out(row))
    return out


@router.get("/{level}", response_model=list[PlanPublic], summary="Every version of one level's plan")
def plan_versions(level: RiskLevel, _: AnyUserDep, session: SessionDep) -> list[PlanPublic]:
    rows = emergency.plan_versions(session, level)
    return [_plan_out(r) for r in rows]


@router.post("/{level}", response_model=PlanPublic, status_code=201, summary="A new plan version")
def revise_plan(
    level: RiskLevel, body: PlanCreate, principal: PlannersDep, session: SessionDep, rid: RequestIdDep
) -> PlanPublic:
    if body.plan.level is not level:
        raise bad_request("plan.level", f"must be {level.value} for this URL")
    if level is RiskLevel.none:
        raise bad_request("level", "there is no plan for risk level none")
    version = emergency.next_plan_version(session, level)
    row = IncidentPlanRow(
        level=level.value,
        version=version,
        content=body.plan.model_dump(mode="json"),
        created_by=principal.name,
        note=body.note,
    )
    session.add(row)
    audit.record(
        session, principal, "plan.revise", f"plan:{level.value}", rid, {"version": version, "note": body.note}
    )
    session.commit()
    return _plan_out(row)
