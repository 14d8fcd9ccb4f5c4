"""``/incidents`` — the emergency response: report, confirm, team, assessment, statements, tasks, post-mortem (R-5.2).

Over 400 lines because the emergency response has many steps, each a thin route over one update.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from fastapi.concurrency import run_in_threadpool
from temporalio.client import Client

from api import resources
from api import workflows as wf
from api.deps import (
    DbDep,
    MaybeTemporalDep,
    RequestIdDep,
    SessionDep,
    SettingsDep,
    TemporalDep,
    require_person,
    require_roles,
)
from api.errors import ApiError, bad_request, conflict
from api.params import PathId, PathNumber
from api.resources import IncidentDep
from api.schemas.incidents import (
    ApproveIn,
    AssessIn,
    ConfirmIn,
    IncidentCreate,
    IncidentDetailPublic,
    IncidentPublic,
    MemberCreate,
    OverrideIn,
    PostmortemCreate,
    ResolveIn,
    StatementCreate,
    TaskCreate,
    TaskDoneIn,
    TaskReassignIn,
)
from api.workflows import DoorDep, actor
from db import audit
from db import emergency as q
from db.accounts import Principal
from db.models import Incident, IncidentEvent
from domain.emergency import (
    CLOSED_STAGES,
    AckRequest,
    ActionItem,
    ApproveStatementRequest,
    AssessRequest,
    ConfirmRequest,
    DraftStatementRequest,
    IncidentState,
    MemberRequest,
    Mode,
    PostmortemRequest,
    ResolveRequest,
    Statement,
    StatementOverride,
    StatementRef,
    TaskReassign,
    TaskRecord,
    TaskRequest,
    TaskResult,
    TaskStatus,
    TaskUpdate,
    fill,
)
from domain.risk import RiskLevel
from domain.roles import Role
from workflows.emergency import EmergencyWorkflow, IncidentTaskWorkflow

router = APIRouter(prefix="/incidents", tags=["incidents"])

TEAM = tuple(Role)  # every role may report and take part; validators decide who may do what
TeamDep = Annotated[Principal, Depends(require_roles(*TEAM))]


def _summary(row: Incident, *, starting: bool = False) -> IncidentPublic:
    assert row.id is not None
    return IncidentPublic(
        process="starting" if starting else "started",
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


@router.post("", response_model=IncidentPublic, status_code=201, summary="Report an incident (manual)")
async def report(
    body: IncidentCreate,
    principal: TeamDep,
    session: SessionDep,
    client: MaybeTemporalDep,
    db: DbDep,
    settings: SettingsDep,
    rid: RequestIdDep,
) -> IncidentPublic:

    def record() -> Incident:  # off the event loop: a busy database must not stall other requests
        try:
            row, _ = q.open_incident(
                session,
                title=body.title,
                description=body.description,
                reported_by=principal.name,
                evidence=body.evidence,
                topic=body.topic,
            )
        except ValueError as exc:
            raise ApiError(409, "conflict", str(exc)) from exc
        audit.record(session, principal, "incident.report", f"incident:{row.id}", rid, {"title": body.title})
        session.commit()
        return row

    row = await run_in_threadpool(record)
    running = await wf.start_recorded(client, db, settings.task_queue, [row.workflow_id])
    return _summary(row, starting=row.workflow_id not in running)


@router.get("", response_model=list[IncidentPublic])
def list_incidents(
    _: TeamDep,
    session: SessionDep,
    mode: Mode | None = None,
    stage: str | None = None,
    level: RiskLevel | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[IncidentPublic]:
    return [_summary(r) for r in q.incidents(session, mode, stage, level, limit)]


@router.get("/{incident_id}", response_model=IncidentDetailPublic, summary="Detail with the timeline")
async def get_incident(
    incident_id: PathId, _: TeamDep, session: SessionDep, client: MaybeTemporalDep
) -> IncidentDetailPublic:
    def read() -> tuple[Incident, list[IncidentEvent]]:
        return resources.incident(incident_id, session), q.incident_events(session, incident_id)

    row, events = await run_in_threadpool(read)
    state, error = await wf.live_state(client, session, row.workflow_id, EmergencyWorkflow.current)
    if state is not None and client is not None and state.stage in CLOSED_STAGES:
        state = await _with_live_tasks(client, state)
    return IncidentDetailPublic(
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


async def _with_live_tasks(client: Client, state: IncidentState) -> IncidentState:
    """A closed incident's process no longer hears from its tasks; action items are completed after the
    post-mortem, so their status is read from each task's own process."""
    for task in state.tasks:
        if task.status is not TaskStatus.open:
            continue
        try:
            live: TaskResult = await wf.query(client, task.workflow_id, IncidentTaskWorkflow.current)
        except ApiError:
            continue  # gone past retention: the record keeps what it last knew
        task.status, task.note = live.status, live.note or task.note
    return state


@router.post("/{incident_id}/confirm", response_model=IncidentState)
async def confirm(
    incident_id: PathId,
    principal: Annotated[Principal, Depends(require_roles(Role.risk_compliance))],
    incident: IncidentDep,
    body: ConfirmIn,
    door: DoorDep,
) -> IncidentState:
    st: IncidentState = await door.send(
        principal,
        incident,
        EmergencyWorkflow.confirm,
        ConfirmRequest(actor=actor(principal), **body.model_dump()),
        action="incident.confirm",
        detail=body.model_dump(mode="json"),
    )
    return st


@router.post("/{incident_id}/acknowledge", response_model=IncidentState, summary="Acknowledge a page")
async def acknowledge(
    incident_id: PathId,
    principal: TeamDep,
    incident: IncidentDep,
    door: DoorDep,
) -> IncidentState:
    st: IncidentState = await door.send(
        principal,
        incident,
        EmergencyWorkflow.acknowledge,
        AckRequest(actor=actor(principal)),
        action="incident.acknowledge",
    )
    return st


async def _team_change(
    update: Any,
    action: str,
    incident: Incident,
    body: MemberCreate,
    principal: Principal,
    session: SessionDep,
    client: TemporalDep,
    rid: str,
) -> IncidentState:
    """Add a member or hand over command: the person must be active and hold the role they are given."""
    await run_in_threadpool(require_person, session, "user", body.user, any_of=(body.role,))
    st: IncidentState = await wf.send(
        session,
        client,
        principal,
        rid,
        incident,
        update,
        MemberRequest(actor=actor(principal), **body.model_dump()),
        action=action,
        detail=body.model_dump(mode="json"),
    )
    return st


@router.post("/{incident_id}/members", response_model=IncidentState)
async def add_member(
    incident_id: PathId,
    principal: TeamDep,
    incident: IncidentDep,
    body: MemberCreate,
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
) -> IncidentState:
    return await _team_change(
        EmergencyWorkflow.add_member, "incident.add_member", incident, body, principal, session, client, rid
    )


@router.post("/{incident_id}/hand-over", response_model=IncidentState, summary="Hand over command")
async def hand_over(
    incident_id: PathId,
    principal: TeamDep,
    incident: IncidentDep,
    body: MemberCreate,
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
) -> IncidentState:
    return await _team_change(
        EmergencyWorkflow.hand_over, "incident.hand_over", incident, body, principal, session, client, rid
    )


@router.post("/{incident_id}/assess", response_model=IncidentState, summary="Assess; may re-level")
async def assess(
    incident_id: PathId,
    principal: TeamDep,
    incident: IncidentDep,
    body: AssessIn,
    door: DoorDep,
) -> IncidentState:
    st: IncidentState = await door.send(
        principal,
        incident,
        EmergencyWorkflow.assess,
        AssessRequest(actor=actor(principal), **body.model_dump()),
        action="incident.assess",
        detail=body.model_dump(mode="json"),
    )
    return st


@router.post("/{incident_id}/statements", response_model=Statement, status_code=201)
async def draft_statement(
    incident_id: PathId,
    principal: TeamDep,
    incident: IncidentDep,
    body: StatementCreate,
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
) -> Statement:
    text = body.text.strip()
    if body.template_key:
        template = await run_in_threadpool(q.approved_template, session, body.template_key)
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
    stmt: Statement = await wf.send(
        session,
        client,
        principal,
        rid,
        incident,
        EmergencyWorkflow.draft_statement,
        req,
        action="incident.statement_draft",
        detail={"kind": body.kind.value, "text": text},
    )
    return stmt


@router.post("/{incident_id}/statements/{statement_id}/approve", response_model=Statement)
async def approve_statement(
    incident_id: PathId,
    principal: TeamDep,
    incident: IncidentDep,
    statement_id: PathNumber,
    body: ApproveIn,
    door: DoorDep,
) -> Statement:
    req = ApproveStatementRequest(actor=actor(principal), statement_id=statement_id, text_hash=body.text_hash)
    stmt: Statement = await door.send(
        principal,
        incident,
        EmergencyWorkflow.approve_statement,
        req,
        action="incident.statement_approve",
        detail={"statement": statement_id, "text_hash": body.text_hash},
    )
    return stmt


@router.post(
    "/{incident_id}/statements/{statement_id}/override",
    response_model=Statement,
    summary="risk_compliance accepts a statement's blocking findings, with a reason (then it can be approved)",
)
async def override_statement(
    incident_id: PathId,
    principal: Annotated[Principal, Depends(require_roles(Role.risk_compliance))],
    incident: IncidentDep,
    statement_id: PathNumber,
    body: OverrideIn,
    door: DoorDep,
) -> Statement:
    req = StatementOverride(actor=actor(principal), statement_id=statement_id, reason=body.reason)
    stmt: Statement = await door.send(
        principal,
        incident,
        EmergencyWorkflow.override_statement,
        req,
        action="incident.statement_override",
        detail={"statement": statement_id, "reason": body.reason},
    )
    return stmt


@router.post("/{incident_id}/statements/{statement_id}/publish", response_model=Statement)
async def publish_statement(
    incident_id: PathId,
    principal: TeamDep,
    incident: IncidentDep,
    statement_id: PathNumber,
    door: DoorDep,
) -> Statement:
    stmt: Statement = await door.send(
        principal,
        incident,
        EmergencyWorkflow.publish_statement,
        StatementRef(actor=actor(principal), statement_id=statement_id),
        action="incident.statement_publish",
        detail={"statement": statement_id},
    )
    return stmt


@router.post(
    "/{incident_id}/tasks",
    response_model=TaskRecord,
    status_code=201,
    summary="Offline coordination task (customer_service, legal, pr, media, partners …)",
)
async def add_task(
    incident_id: PathId,
    principal: TeamDep,
    incident: IncidentDep,
    body: TaskCreate,
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> TaskRecord:
    """Send ``Idempotency-Key`` to make a retry (or a double click) add the task once."""
    await run_in_threadpool(require_person, session, "owner", body.owner)
    req = TaskRequest(
        actor=actor(principal),
        kind=body.kind,
        title=body.title,
        owner=body.owner,
        due_in=timedelta(minutes=body.due_in_minutes),
        required=body.required,
        request_key=idempotency_key or "",
    )
    rec: TaskRecord = await wf.send(
        session,
        client,
        principal,
        rid,
        incident,
        EmergencyWorkflow.add_task,
        req,
        action="incident.task_add",
        detail=body.model_dump(),
    )
    return rec


@router.post("/{incident_id}/tasks/{number}/complete", response_model=TaskResult)
async def complete_task(
    incident_id: PathId,
    number: PathNumber,
    body: TaskDoneIn,
    principal: TeamDep,
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
) -> TaskResult:
    row = await run_in_threadpool(resources.incident, incident_id, session)
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
    await wf.write_audit(
        session,
        principal,
        "incident.task_complete",
        f"incident:{incident_id}",
        rid,
        {"task": number, "note": body.note},
    )
    return result


@router.post(
    "/{incident_id}/tasks/{number}/reassign",
    response_model=TaskRecord,
    summary="Hand an open task to someone else (the commander, ops_head or leadership)",
)
async def reassign_task(
    incident_id: int,
    number: int,
    principal: TeamDep,
    incident: IncidentDep,
    body: TaskReassignIn,
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
) -> TaskRecord:
    """A task is completed by its owner only; to have someone else do it, reassign it (audited, and the
    new owner is notified)."""
    await run_in_threadpool(require_person, session, "owner", body.owner)
    req = TaskReassign(actor=actor(principal), number=number, owner=body.owner, note=body.note)
    rec: TaskRecord = await wf.send(
        session,
        client,
        principal,
        rid,
        incident,
        EmergencyWorkflow.reassign_task,
        req,
        action="incident.task_reassign",
        detail={"task": number, **body.model_dump()},
    )
    return rec


@router.post("/{incident_id}/resolve", response_model=IncidentState)
async def resolve(
    incident_id: PathId,
    principal: TeamDep,
    incident: IncidentDep,
    body: ResolveIn,
    door: DoorDep,
) -> IncidentState:
    st: IncidentState = await door.send(
        principal,
        incident,
        EmergencyWorkflow.resolve,
        ResolveRequest(actor=actor(principal), **body.model_dump()),
        action="incident.resolve",
        detail=body.model_dump(),
    )
    return st


@router.post("/{incident_id}/postmortem", response_model=IncidentState)
async def postmortem(
    incident_id: PathId,
    principal: TeamDep,
    incident: IncidentDep,
    body: PostmortemCreate,
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
) -> IncidentState:

    def check_owners() -> None:
        for i, item in enumerate(body.action_items):  # owners are active users, as for tasks
            require_person(session, f"action_items.{i}.owner", item.owner)

    await run_in_threadpool(check_owners)
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
    st: IncidentState = await wf.send(
        session,
        client,
        principal,
        rid,
        incident,
        EmergencyWorkflow.postmortem,
        req,
        action="incident.postmortem",
        detail={"action_items": len(body.action_items)},
    )
    return st
