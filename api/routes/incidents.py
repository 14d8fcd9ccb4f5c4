"""Emergency response (R-5.2): report, confirm, team, assess, statements, tasks, resolve, post-mortem."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, model_validator
from sqlmodel import col, select

from api import workflows as wf
from api.deps import (
    RequestIdDep,
    SessionDep,
    TemporalDep,
    authenticated,
    get_settings,
    require_person,
    require_roles,
)
from api.errors import ApiError, bad_request, conflict, not_found
from api.workflows import actor
from core.settings import Settings
from db import audit
from db import emergency as q
from db.accounts import Principal
from db.models import Incident, IncidentEvent
from domain.emergency import (
    AckRequest,
    ActionItem,
    ApproveStatementRequest,
    AssessRequest,
    ConfirmRequest,
    DraftStatementRequest,
    Evidence,
    IncidentPlan,
    IncidentState,
    MemberRequest,
    Mode,
    PostmortemRequest,
    ResolveRequest,
    Statement,
    StatementKind,
    StatementRef,
    TaskRecord,
    TaskRequest,
    TaskResult,
    TaskUpdate,
    Truth,
    fill,
)
from domain.risk import Impact, Likelihood, RiskLevel
from domain.roles import Role
from workflows.emergency import EmergencyWorkflow, IncidentTaskWorkflow

router = APIRouter(tags=["incidents"])
TEAM = tuple(Role)  # every role may report and take part; validators decide who may do what
AnyUserDep = Annotated[Principal, Depends(authenticated())]
TeamDep = Annotated[Principal, Depends(require_roles(*TEAM))]
SettingsDep = Annotated[Settings, Depends(get_settings)]


class ReportIn(BaseModel):
    title: str = Field(min_length=1, max_length=500)
    description: str = Field(default="", max_length=10000)
    evidence: list[Evidence] = Field(default_factory=list, max_length=50)
    topic: str = Field(default="", max_length=200)


class IncidentSummary(BaseModel):
    id: int
    title: str
    mode: str
    level: str
    stage: str
    commander: str
    reported_by: str
    created_at: datetime
    resolved_at: datetime | None
    figures: dict[str, Any] | None


class IncidentDetail(IncidentSummary):
    description: str
    evidence: list[dict[str, Any]]
    topic: str
    timeline: list[dict[str, Any]]
    postmortem: dict[str, Any] | None
    drill_scenario: dict[str, Any] | None
    state: IncidentState | None
    state_error: str | None = None


def _summary(row: Incident) -> IncidentSummary:
    assert row.id is not None
    return IncidentSummary(
        id=row.id,
        title=row.title,
        mode=row.mode,
        level=row.level,
        stage=row.stage,
        commander=row.commander,
        reported_by=row.reported_by,
        created_at=row.created_at,
        resolved_at=row.resolved_at,
        figures=row.figures,
    )


def _row(session: SessionDep, incident_id: int) -> Incident:
    row = session.get(Incident, incident_id)
    if row is None:
        raise not_found("incident", incident_id)
    return row


@router.post("/incidents", response_model=IncidentSummary, status_code=201, summary="Report an incident (manual)")
async def report(
    body: ReportIn,
    principal: TeamDep,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    rid: RequestIdDep,
) -> IncidentSummary:
    try:
        row, inp = q.open_incident(
            session,
            title=body.title,
            description=body.description,
            reported_by=principal.name,
            evidence=body.evidence,
            topic=body.topic,
        )
    except ValueError as exc:
        raise ApiError(409, "conflict", str(exc)) from exc
    try:
        await client.start_workflow(
            EmergencyWorkflow.run,
            inp,
            id=row.workflow_id,
            task_queue=settings.task_queue,
            static_summary=f"事件 #{row.id}：{body.title}",
        )
    except Exception as exc:
        session.rollback()
        raise ApiError(503, "temporal_unavailable", f"could not start the incident process: {exc}") from exc
    audit.record(session, principal, "incident.report", f"incident:{row.id}", rid, {"title": body.title})
    session.commit()
    return _summary(row)


@router.get("/incidents", response_model=list[IncidentSummary])
def list_incidents(
    _: TeamDep,
    session: SessionDep,
    mode: Mode | None = None,
    stage: str | None = None,
    level: RiskLevel | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[IncidentSummary]:
    stmt = select(Incident)
    if mode:
        stmt = stmt.where(Incident.mode == mode.value)
    if stage:
        stmt = stmt.where(Incident.stage == stage)
    if level:
        stmt = stmt.where(Incident.level == level.value)
    return [_summary(r) for r in session.exec(stmt.order_by(col(Incident.id).desc()).limit(limit))]


@router.get("/incidents/{incident_id}", response_model=IncidentDetail, summary="Detail with the timeline")
async def get_incident(incident_id: int, _: TeamDep, session: SessionDep, request: Request) -> IncidentDetail:
    row = _row(session, incident_id)
    events = session.exec(
        select(IncidentEvent).where(IncidentEvent.incident_id == incident_id).order_by(col(IncidentEvent.seq))
    ).all()
    state, error = None, None
    try:
        client = await request.app.state.temporal.get()
        state = await wf.query(client, row.workflow_id, EmergencyWorkflow.current)
    except ApiError as exc:
        error = exc.message
    except Exception as exc:
        error = f"live state unavailable: {exc}"
    return IncidentDetail(
        **_summary(row).model_dump(),
        description=row.description,
        evidence=row.evidence,
        topic=row.topic,
        timeline=[
            {"seq": e.seq, "at": e.at, "kind": e.kind, "actor": e.actor, "detail": e.detail} for e in events
        ],
        postmortem=row.postmortem,
        drill_scenario=row.drill_scenario,
        state=state,
        state_error=error,
    )


async def _update(
    session: SessionDep,
    client: TemporalDep,
    principal: Principal,
    incident_id: int,
    update: Any,
    arg: Any,
    action: str,
    rid: str,
    detail: dict[str, Any] | None = None,
) -> Any:
    row = _row(session, incident_id)
    return await wf.update_and_audit(
        session,
        client,
        principal,
        row.workflow_id,
        update,
        arg,
        action=action,
        target=f"incident:{incident_id}",
        request_id=rid,
        detail=detail,
    )


class ConfirmIn(BaseModel):
    truth: Truth
    scope: str = Field(default="", max_length=2000)
    impact: Impact
    likelihood: Likelihood
    note: str = Field(default="", max_length=2000)


@router.post("/incidents/{incident_id}/confirm", response_model=IncidentState)
async def confirm(
    incident_id: int,
    body: ConfirmIn,
    principal: Annotated[Principal, Depends(require_roles(Role.risk_compliance))],
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
) -> IncidentState:
    st: IncidentState = await _update(
        session,
        client,
        principal,
        incident_id,
        EmergencyWorkflow.confirm,
        ConfirmRequest(actor=actor(principal), **body.model_dump()),
        "incident.confirm",
        rid,
        body.model_dump(mode="json"),
    )
    return st


@router.post("/incidents/{incident_id}/acknowledge", response_model=IncidentState, summary="Acknowledge a page")
async def acknowledge(
    incident_id: int, principal: TeamDep, session: SessionDep, client: TemporalDep, rid: RequestIdDep
) -> IncidentState:
    st: IncidentState = await _update(
        session,
        client,
        principal,
        incident_id,
        EmergencyWorkflow.acknowledge,
        AckRequest(actor=actor(principal)),
        "incident.acknowledge",
        rid,
    )
    return st


class MemberIn(BaseModel):
    user: str = Field(min_length=1, max_length=64)
    role: Role


async def _team_change(
    update: Any,
    action: str,
    incident_id: int,
    body: MemberIn,
    principal: Principal,
    session: SessionDep,
    client: TemporalDep,
    rid: str,
) -> IncidentState:
    """Add a member or hand over command: the person must be active and hold the role they are given."""
    require_person(session, "user", body.user, any_of=(body.role,))
    st: IncidentState = await _update(
        session,
        client,
        principal,
        incident_id,
        update,
        MemberRequest(actor=actor(principal), **body.model_dump()),
        action,
        rid,
        body.model_dump(mode="json"),
    )
    return st


@router.post("/incidents/{incident_id}/members", response_model=IncidentState)
async def add_member(
    incident_id: int,
    body: MemberIn,
    principal: TeamDep,
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
) -> IncidentState:
    return await _team_change(
        EmergencyWorkflow.add_member, "incident.add_member", incident_id, body, principal, session, client, rid
    )


@router.post("/incidents/{incident_id}/hand-over", response_model=IncidentState, summary="Hand over command")
async def hand_over(
    incident_id: int,
    body: MemberIn,
    principal: TeamDep,
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
) -> IncidentState:
    return await _team_change(
        EmergencyWorkflow.hand_over, "incident.hand_over", incident_id, body, principal, session, client, rid
    )


class AssessIn(BaseModel):
    nature: str = Field(min_length=1, max_length=2000)
    trend: str = Field(default="", max_length=2000)
    likely_impact: str = Field(default="", max_length=2000)
    impact: Impact | None = None
    likelihood: Likelihood | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> AssessIn:
        if (self.impact is None) != (self.likelihood is None):
            missing = "likelihood" if self.likelihood is None else "impact"
            raise ValueError(f"{missing}: give impact and likelihood together to re-level")
        return self


@router.post("/incidents/{incident_id}/assess", response_model=IncidentState, summary="Assess; may re-level")
async def assess(
    incident_id: int,
    body: AssessIn,
    principal: TeamDep,
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
) -> IncidentState:
    st: IncidentState = await _update(
        session,
        client,
        principal,
        incident_id,
        EmergencyWorkflow.assess,
        AssessRequest(actor=actor(principal), **body.model_dump()),
        "incident.assess",
        rid,
        body.model_dump(mode="json"),
    )
    return st


class StatementIn(BaseModel):
    kind: StatementKind
    template_key: str = Field(default="", max_length=64)
    values: dict[str, str] = Field(default_factory=dict, description="Placeholder values for the template")
    text: str = Field(default="", max_length=5000, description="The (edited) text; empty: fill the template")
    channels: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _text_or_template(self) -> StatementIn:
        if not self.text.strip() and not self.template_key:
            raise ValueError("text: give the statement text or a template_key with values")
        return self


@router.post("/incidents/{incident_id}/statements", response_model=Statement, status_code=201)
async def draft_statement(
    incident_id: int,
    body: StatementIn,
    principal: TeamDep,
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
) -> Statement:
    text = body.text.strip()
    if body.template_key:
        template = q.approved_template(session, body.template_key)
        if template is None:
            raise bad_request(
                "template_key", f"no approved template {body.template_key!r}; only approved templates can be used"
            )
        if not text:
            try:
                text = fill(template.body, body.values)
            except ValueError as exc:
                raise bad_request("values", str(exc).removeprefix("values: ")) from None
    req = DraftStatementRequest(
        actor=actor(principal), kind=body.kind, text=text, template_key=body.template_key, channels=body.channels
    )
    stmt: Statement = await _update(
        session,
        client,
        principal,
        incident_id,
        EmergencyWorkflow.draft_statement,
        req,
        "incident.statement_draft",
        rid,
        {"kind": body.kind.value, "text": text},
    )
    return stmt


class ApproveIn(BaseModel):
    text_hash: str = Field(min_length=64, max_length=64)


@router.post("/incidents/{incident_id}/statements/{statement_id}/approve", response_model=Statement)
async def approve_statement(
    incident_id: int,
    statement_id: int,
    body: ApproveIn,
    principal: TeamDep,
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
) -> Statement:
    req = ApproveStatementRequest(actor=actor(principal), statement_id=statement_id, text_hash=body.text_hash)
    stmt: Statement = await _update(
        session,
        client,
        principal,
        incident_id,
        EmergencyWorkflow.approve_statement,
        req,
        "incident.statement_approve",
        rid,
        {"statement": statement_id, "text_hash": body.text_hash},
    )
    return stmt


@router.post("/incidents/{incident_id}/statements/{statement_id}/publish", response_model=Statement)
async def publish_statement(
    incident_id: int,
    statement_id: int,
    principal: TeamDep,
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
) -> Statement:
    stmt: Statement = await _update(
        session,
        client,
        principal,
        incident_id,
        EmergencyWorkflow.publish_statement,
        StatementRef(actor=actor(principal), statement_id=statement_id),
        "incident.statement_publish",
        rid,
        {"statement": statement_id},
    )
    return stmt


class TaskIn(BaseModel):
    kind: str = Field(min_length=1, max_length=32, pattern=r"^[a-z_]+$")
    title: str = Field(min_length=1, max_length=500)
    owner: str = Field(min_length=1, max_length=64)
    due_in_minutes: int = Field(ge=1, le=60 * 24 * 90)
    required: bool = True


@router.post(
    "/incidents/{incident_id}/tasks",
    response_model=TaskRecord,
    status_code=201,
    summary="Offline coordination task (customer_service, legal, pr, media, partners …)",
)
async def add_task(
    incident_id: int, body: TaskIn, principal: TeamDep, session: SessionDep, client: TemporalDep, rid: RequestIdDep
) -> TaskRecord:
    require_person(session, "owner", body.owner)
    req = TaskRequest(
        actor=actor(principal),
        kind=body.kind,
        title=body.title,
        owner=body.owner,
        due_in=timedelta(minutes=body.due_in_minutes),
        required=body.required,
    )
    rec: TaskRecord = await _update(
        session,
        client,
        principal,
        incident_id,
        EmergencyWorkflow.add_task,
        req,
        "incident.task_add",
        rid,
        body.model_dump(),
    )
    return rec


class TaskDoneIn(BaseModel):
    note: str = Field(default="", max_length=2000)


@router.post("/incidents/{incident_id}/tasks/{number}/complete", response_model=TaskResult)
async def complete_task(
    incident_id: int,
    number: int,
    body: TaskDoneIn,
    principal: TeamDep,
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
) -> TaskResult:
    row = _row(session, incident_id)
    state: IncidentState = await wf.query(client, row.workflow_id, EmergencyWorkflow.current)
    task = next((t for t in state.tasks if t.number == number), None)
    if task is None:
        raise ApiError(404, "not_found", f"incident {incident_id} has no task {number}")
    if task.status != "open":
        raise conflict(f"task {number} is already {task.status}", field="number")
    workflow_id = task.workflow_id
    result: TaskResult = await wf.execute_update(
        client, workflow_id, IncidentTaskWorkflow.complete, TaskUpdate(actor=actor(principal), note=body.note)
    )
    audit.record(
        session,
        principal,
        "incident.task_complete",
        f"incident:{incident_id}",
        rid,
        {"task": number, "note": body.note},
    )
    session.commit()
    return result


class ResolveIn(BaseModel):
    summary: str = Field(min_length=1, max_length=5000)
    waive_reason: str = Field(default="", max_length=2000)


@router.post("/incidents/{incident_id}/resolve", response_model=IncidentState)
async def resolve(
    incident_id: int,
    body: ResolveIn,
    principal: TeamDep,
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
) -> IncidentState:
    st: IncidentState = await _update(
        session,
        client,
        principal,
        incident_id,
        EmergencyWorkflow.resolve,
        ResolveRequest(actor=actor(principal), **body.model_dump()),
        "incident.resolve",
        rid,
        body.model_dump(),
    )
    return st


class ActionItemIn(BaseModel):
    title: str = Field(min_length=1, max_length=500)
    kind: str = Field(default="improvement", pattern=r"^(plan_revision|training|improvement)$")
    owner: str = Field(min_length=1, max_length=64)
    due_in_days: int = Field(default=14, ge=1, le=365)


class PostmortemIn(BaseModel):
    causes: str = Field(min_length=1, max_length=10000)
    went_well: str = Field(default="", max_length=10000)
    went_badly: str = Field(default="", max_length=10000)
    lessons: str = Field(default="", max_length=10000)
    action_items: list[ActionItemIn] = Field(default_factory=list, max_length=50)
    plan_revision: IncidentPlan | None = None


@router.post("/incidents/{incident_id}/postmortem", response_model=IncidentState)
async def postmortem(
    incident_id: int,
    body: PostmortemIn,
    principal: TeamDep,
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
) -> IncidentState:
    req = PostmortemRequest(
        actor=actor(principal),
        causes=body.causes,
        went_well=body.went_well,
        went_badly=body.went_badly,
        lessons=body.lessons,
        plan_revision=body.plan_revision,
        action_items=[
            ActionItem(title=a.title, kind=a.kind, owner=a.owner, due_in=timedelta(days=a.due_in_days))
            for a in body.action_items
        ],
    )
    st: IncidentState = await _update(
        session,
        client,
        principal,
        incident_id,
        EmergencyWorkflow.postmortem,
        req,
        "incident.postmortem",
        rid,
        {"action_items": len(body.action_items)},
    )
    return st
