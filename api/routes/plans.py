"""Plans per risk level, the statement library, the risk matrix (R-5.1.5–R-5.1.7), drill schedules (R-5.1.8)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlmodel import col, select
from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
)
from temporalio.service import RPCError, RPCStatusCode

from api.deps import RequestIdDep, SessionDep, TemporalDep, authenticated, get_settings, require_roles
from api.errors import bad_request, conflict, not_found
from core.settings import Settings
from db import audit
from db import emergency as q
from db.accounts import Principal
from db.models import Incident, IncidentPlanRow, RiskMatrixRow, StatementTemplateRow, utcnow
from domain.emergency import DrillScenario, IncidentPlan, StatementTemplate, placeholders
from domain.risk import RiskLevel, RiskMatrix
from domain.roles import Role
from workflows.emergency import DrillWorkflow

router = APIRouter(tags=["plans"])
AnyUserDep = Annotated[Principal, Depends(authenticated())]
PlannersDep = Annotated[Principal, Depends(require_roles(Role.risk_compliance, Role.leadership))]
WritersDep = Annotated[Principal, Depends(require_roles(Role.risk_compliance, Role.ops_head, Role.marketing))]
ComplianceDep = Annotated[Principal, Depends(require_roles(Role.risk_compliance))]
SettingsDep = Annotated[Settings, Depends(get_settings)]


class PlanOut(BaseModel):
    level: str
    version: int
    created_by: str
    created_at: datetime
    note: str
    plan: IncidentPlan


def _plan_out(row: IncidentPlanRow) -> PlanOut:
    return PlanOut(
        level=row.level,
        version=row.version,
        created_by=row.created_by,
        created_at=row.created_at,
        note=row.note,
        plan=IncidentPlan.model_validate(row.content),
    )


@router.get("/incident-plans", response_model=list[PlanOut], summary="The current plan of each level")
def current_plans(_: AnyUserDep, session: SessionDep) -> list[PlanOut]:
    out = []
    for level in (RiskLevel.low, RiskLevel.medium, RiskLevel.high):
        row = session.exec(
            select(IncidentPlanRow)
            .where(IncidentPlanRow.level == level.value)
            .order_by(col(IncidentPlanRow.version).desc())
        ).first()
        if row is not None:
            out.append(_plan_out(row))
    return out


@router.get("/incident-plans/{level}", response_model=list[PlanOut], summary="Every version of one level's plan")
def plan_versions(level: RiskLevel, _: AnyUserDep, session: SessionDep) -> list[PlanOut]:
    rows = session.exec(
        select(IncidentPlanRow).where(IncidentPlanRow.level == level.value).order_by(col(IncidentPlanRow.version))
    ).all()
    return [_plan_out(r) for r in rows]


class PlanIn(BaseModel):
    plan: IncidentPlan
    note: str = Field(default="", max_length=2000)


@router.post("/incident-plans/{level}", response_model=PlanOut, status_code=201, summary="A new plan version")
def revise_plan(
    level: RiskLevel, body: PlanIn, principal: PlannersDep, session: SessionDep, rid: RequestIdDep
) -> PlanOut:
    if body.plan.level is not level:
        raise bad_request("plan.level", f"must be {level.value} for this URL")
    if level is RiskLevel.none:
        raise bad_request("level", "there is no plan for risk level none")
    version = (
        max(
            [r.version for r in session.exec(select(IncidentPlanRow).where(IncidentPlanRow.level == level.value))]
            or [0]
        )
        + 1
    )
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


class TemplateOut(StatementTemplate):
    version: int
    status: str
    placeholders: list[str]
    created_by: str
    approved_by: str
    approved_at: datetime | None


def _template_out(row: StatementTemplateRow) -> TemplateOut:
    return TemplateOut(
        key=row.key,
        scenario=row.scenario,
        level=RiskLevel(row.level),
        title=row.title,
        body=row.body,
        version=row.version,
        status=row.status,
        placeholders=placeholders(row.body),
        created_by=row.created_by,
        approved_by=row.approved_by,
        approved_at=row.approved_at,
    )


@router.get(
    "/statement-templates", response_model=list[TemplateOut], summary="The statement library, all versions"
)
def list_templates(
    _: AnyUserDep, session: SessionDep, key: str | None = None, approved_only: bool = False
) -> list[TemplateOut]:
    stmt = select(StatementTemplateRow)
    if key:
        stmt = stmt.where(StatementTemplateRow.key == key)
    if approved_only:
        stmt = stmt.where(StatementTemplateRow.status == "approved")
    rows = session.exec(stmt.order_by(col(StatementTemplateRow.key), col(StatementTemplateRow.version))).all()
    return [_template_out(r) for r in rows]


@router.post(
    "/statement-templates",
    response_model=TemplateOut,
    status_code=201,
    summary="A new template, or a new version of one (a draft until risk_compliance approves)",
)
def add_template(
    body: StatementTemplate, principal: WritersDep, session: SessionDep, rid: RequestIdDep
) -> TemplateOut:
    row = StatementTemplateRow(
        key=body.key,
        version=q.next_template_version(session, body.key),
        scenario=body.scenario,
        level=body.level.value,
        title=body.title,
        body=body.body,
        created_by=principal.name,
    )
    session.add(row)
    audit.record(session, principal, "template.draft", f"template:{body.key}", rid, {"version": row.version})
    session.commit()
    return _template_out(row)


@router.post("/statement-templates/{key}/versions/{version}/approve", response_model=TemplateOut)
def approve_template(
    key: str, version: int, principal: ComplianceDep, session: SessionDep, rid: RequestIdDep
) -> TemplateOut:
    row = session.exec(
        select(StatementTemplateRow).where(
            StatementTemplateRow.key == key, StatementTemplateRow.version == version
        )
    ).first()
    if row is None:
        raise not_found(f"template {key} version", version)
    if row.status == "approved":
        raise conflict(f"template {key} v{version} is already approved")
    row.status, row.approved_by, row.approved_at = "approved", principal.name, utcnow()
    session.add(row)
    audit.record(session, principal, "template.approve", f"template:{key}", rid, {"version": version})
    session.commit()
    return _template_out(row)


@router.get("/risk-matrix", response_model=RiskMatrix, summary="Impact × likelihood → level (R-5.1.5)")
def get_matrix(_: AnyUserDep, session: SessionDep) -> RiskMatrix:
    return q.matrix(session)


@router.put("/risk-matrix", response_model=RiskMatrix)
def set_matrix(body: RiskMatrix, principal: PlannersDep, session: SessionDep, rid: RequestIdDep) -> RiskMatrix:
    row = session.get(RiskMatrixRow, 1) or RiskMatrixRow(id=1, cells={}, priority={})
    data = body.model_dump(mode="json")
    row.cells, row.priority, row.updated_by, row.updated_at = (
        data["cells"],
        data["priority"],
        principal.name,
        utcnow(),
    )
    session.add(row)
    audit.record(session, principal, "risk_matrix.update", "risk_matrix", rid, data)
    session.commit()
    return body


# --- drills ------------------------------------------------------------------------------------------


class DrillCalendar(BaseModel):
    months: list[int] = Field(default_factory=lambda: [3, 6, 9, 12], description="1–12")
    day_of_month: int = Field(default=15, ge=1, le=31)
    hour: int = Field(default=10, ge=0, le=23)
    minute: int = Field(default=0, ge=0, le=59)


class DrillScheduleIn(BaseModel):
    key: str = Field(min_length=1, max_length=50, pattern=r"^[a-z0-9-]+$")
    scenario: DrillScenario
    calendar: DrillCalendar = Field(default_factory=DrillCalendar)
    timezone: str = Field(default="Asia/Shanghai", max_length=64)
    note: str = Field(default="", max_length=500)


class DrillScheduleOut(BaseModel):
    key: str
    schedule_id: str
    paused: bool
    note: str
    next_runs: list[datetime]
    recent_runs: list[str]


def _schedule_id(key: str) -> str:
    return f"drill-{key}"


async def _describe(client: TemporalDep, key: str) -> DrillScheduleOut:
    try:
        desc = await client.get_schedule_handle(_schedule_id(key)).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise not_found("drill schedule", key) from None
        raise
    return DrillScheduleOut(
        key=key,
        schedule_id=desc.id,
        paused=desc.schedule.state.paused,
        note=desc.schedule.state.note or "",
        next_runs=desc.info.next_action_times[:5],
        recent_runs=[getattr(a.action, "workflow_id", "") for a in desc.info.recent_actions],
    )


@router.post("/drill-schedules", response_model=DrillScheduleOut, status_code=201, summary="Schedule drills")
async def create_drill_schedule(
    body: DrillScheduleIn,
    principal: PlannersDep,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    rid: RequestIdDep,
) -> DrillScheduleOut:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(body.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise bad_request("timezone", f"unknown time zone {body.timezone!r}") from None
    bad = [m for m in body.calendar.months if not 1 <= m <= 12]
    if bad or not body.calendar.months:
        raise bad_request("calendar.months", "give months between 1 and 12")
    c = body.calendar
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            DrillWorkflow.run, body.scenario, id=f"drill-{body.key}-run", task_queue=settings.task_queue
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    month=[ScheduleRange(m) for m in sorted(set(c.months))],
                    day_of_month=[ScheduleRange(c.day_of_month)],
                    hour=[ScheduleRange(c.hour)],
                    minute=[ScheduleRange(c.minute)],
                )
            ],
            time_zone_name=body.timezone,
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        state=ScheduleState(note=body.note or body.scenario.name),
    )
    try:
        await client.create_schedule(_schedule_id(body.key), schedule)
    except ScheduleAlreadyRunningError:
        raise conflict(f"drill schedule {body.key!r} already exists", field="key") from None
    audit.record(
        session, principal, "drill_schedule.create", f"schedule:{body.key}", rid, body.model_dump(mode="json")
    )
    session.commit()
    return await _describe(client, body.key)


@router.get("/drill-schedules", response_model=list[DrillScheduleOut])
async def list_drill_schedules(_: AnyUserDep, client: TemporalDep) -> list[DrillScheduleOut]:
    out = []
    async for s in await client.list_schedules():
        if s.id.startswith("drill-"):
            out.append(await _describe(client, s.id.removeprefix("drill-")))
    return out


@router.get("/drill-schedules/{key}", response_model=DrillScheduleOut)
async def get_drill_schedule(key: str, _: AnyUserDep, client: TemporalDep) -> DrillScheduleOut:
    return await _describe(client, key)


class NoteIn(BaseModel):
    note: str = Field(default="", max_length=500)


async def _act(
    client: TemporalDep, session: SessionDep, principal: Principal, key: str, action: str, rid: str, note: str = ""
) -> DrillScheduleOut:
    await _describe(client, key)  # 404 first
    handle = client.get_schedule_handle(_schedule_id(key))
    if action == "pause":
        await handle.pause(note=note or f"paused by {principal.name}")
    elif action == "unpause":
        await handle.unpause(note=note or f"resumed by {principal.name}")
    elif action == "trigger":
        await handle.trigger(overlap=ScheduleOverlapPolicy.ALLOW_ALL)
    audit.record(session, principal, f"drill_schedule.{action}", f"schedule:{key}", rid, {"note": note})
    session.commit()
    return await _describe(client, key)


@router.post("/drill-schedules/{key}/pause", response_model=DrillScheduleOut)
async def pause(
    key: str, body: NoteIn, principal: PlannersDep, session: SessionDep, client: TemporalDep, rid: RequestIdDep
) -> DrillScheduleOut:
    return await _act(client, session, principal, key, "pause", rid, body.note)


@router.post("/drill-schedules/{key}/unpause", response_model=DrillScheduleOut)
async def unpause(
    key: str, body: NoteIn, principal: PlannersDep, session: SessionDep, client: TemporalDep, rid: RequestIdDep
) -> DrillScheduleOut:
    return await _act(client, session, principal, key, "unpause", rid, body.note)


@router.post("/drill-schedules/{key}/trigger", response_model=DrillScheduleOut, summary="Run a drill now")
async def trigger(
    key: str, principal: PlannersDep, session: SessionDep, client: TemporalDep, rid: RequestIdDep
) -> DrillScheduleOut:
    return await _act(client, session, principal, key, "trigger", rid)


@router.delete("/drill-schedules/{key}", status_code=204)
async def delete_drill_schedule(
    key: str, principal: PlannersDep, session: SessionDep, client: TemporalDep, rid: RequestIdDep
) -> None:
    await _describe(client, key)
    await client.get_schedule_handle(_schedule_id(key)).delete()
    audit.record(session, principal, "drill_schedule.delete", f"schedule:{key}", rid, {})
    session.commit()


class DrillResult(BaseModel):
    incident_id: int
    title: str
    stage: str
    level: str
    started_at: datetime
    scenario: dict[str, Any] | None
    scorecard: dict[str, Any] | None


@router.get("/drills", response_model=list[DrillResult], summary="Drill runs and their scorecards")
def list_drills(_: AnyUserDep, session: SessionDep) -> list[DrillResult]:
    rows = session.exec(select(Incident).where(Incident.mode == "drill").order_by(col(Incident.id).desc())).all()
    return [
        DrillResult(
            incident_id=r.id or 0,
            title=r.title,
            stage=r.stage,
            level=r.level,
            started_at=r.created_at,
            scenario=r.drill_scenario,
            scorecard=r.figures,
        )
        for r in rows
    ]
