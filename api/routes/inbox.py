"""Engagement inbox (R-4.2, R-2.2): list and act on comments, DMs and mentions; FAQ, templates, shifts, policy."""

from __future__ import annotations

import statistics
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime, BaseModel, Field
from sqlmodel import col, select
from temporalio.common import WorkflowIDConflictPolicy

from activities.inbox import start_interactions, store_items
from api import workflows as wf
from api.deps import (
    RequestIdDep,
    SessionDep,
    TemporalDep,
    authenticated,
    get_db,
    get_settings,
    require_person,
    require_roles,
)
from api.errors import ApiError, bad_request, not_found
from api.workflows import actor
from core.settings import Settings
from db import audit
from db.accounts import Principal
from db.engine import Database
from db.models import (
    FaqRow,
    FeedbackRecord,
    InboxPolicyRow,
    Interaction,
    PlatformAccount,
    ReplyTemplate,
    Shift,
    utcnow,
)
from domain.inbox import InboxPolicy, Intent, Kind
from domain.inbox_io import (
    AssignRequest,
    FeedbackOutcome,
    FeedbackRequest,
    InteractionState,
    NoteRequest,
    ReplyRequest,
    SnoozeRequest,
)
from domain.kernel import Platform
from domain.roles import Role
from workflows.interaction import AccountPollWorkflow, InteractionWorkflow

router = APIRouter(tags=["inbox"])
AgentDep = Annotated[Principal, Depends(require_roles(Role.interaction_agent, Role.ops_head))]
LeadDep = Annotated[Principal, Depends(require_roles(Role.ops_head))]
AnyUserDep = Annotated[Principal, Depends(authenticated())]
DeptDep = Annotated[Principal, Depends(require_roles(*Role))]
PlatformDep = Annotated[Principal, Depends(require_roles(Role.platform_admin, Role.admin))]
SettingsDep = Annotated[Settings, Depends(get_settings)]


class ItemOut(BaseModel):
    id: int
    platform: str
    account: str
    kind: str
    external_id: str
    author: str
    text: str
    intent: str
    sentiment: str
    priority: str
    reasons: list[str]
    status: str
    assignee: str
    received_at: datetime
    sla_due_at: datetime | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    hidden: bool


class ItemDetail(ItemOut):
    state: InteractionState | None
    state_error: str | None = None


def _row(session: SessionDep, item_id: int) -> Interaction:
    row = session.get(Interaction, item_id)
    if row is None:
        raise not_found("inbox item", item_id)
    return row


@router.get("/inbox", response_model=list[ItemOut], summary="The inbox, with filters")
def inbox(
    principal: AgentDep,
    session: SessionDep,
    mine: bool = False,
    unassigned: bool = False,
    breaching_within_minutes: Annotated[int | None, Query(ge=1, le=10080)] = None,
    intent: Intent | None = None,
    platform: Platform | None = None,
    status: str | None = None,
    include_closed: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ItemOut]:
    stmt = select(Interaction)
    if not include_closed and status is None:
        stmt = stmt.where(col(Interaction.status).not_in(["closed", "hidden"]))
    if status:
        stmt = stmt.where(Interaction.status == status)
    if mine:
        stmt = stmt.where(Interaction.assignee == principal.name)
    if unassigned:
        stmt = stmt.where(Interaction.assignee == "")
    if breaching_within_minutes:
        stmt = stmt.where(
            col(Interaction.sla_due_at) <= datetime.now(UTC) + timedelta(minutes=breaching_within_minutes),
            col(Interaction.first_response_at).is_(None),
        )
    if intent:
        stmt = stmt.where(Interaction.intent == intent.value)
    if platform:
        stmt = stmt.where(Interaction.platform == platform.value)
    order = (col(Interaction.sla_due_at).is_(None), col(Interaction.sla_due_at), col(Interaction.id))
    rows = session.exec(stmt.order_by(*order).limit(limit)).all()
    return [ItemOut.model_validate(r, from_attributes=True) for r in rows]


@router.get("/inbox/figures", summary="First-response time, SLA compliance, volumes (for reports)")
def figures(_: AnyUserDep, session: SessionDep, since: AwareDatetime | None = None) -> dict[str, Any]:
    stmt = select(Interaction)
    if since:
        stmt = stmt.where(col(Interaction.received_at) >= since)
    rows = session.exec(stmt).all()
    responded = [(r.first_response_at - r.received_at).total_seconds() for r in rows if r.first_response_at]
    with_sla = [r for r in rows if r.sla_due_at is not None and r.first_response_at is not None]
    met = sum(1 for r in with_sla if r.first_response_at and r.sla_due_at and r.first_response_at <= r.sla_due_at)

    def volume(field: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in rows:
            out[getattr(r, field)] = out.get(getattr(r, field), 0) + 1
        return out

    return {
        "items": len(rows),
        "first_response_median_s": round(statistics.median(responded), 1) if responded else None,
        "first_response_mean_s": round(statistics.fmean(responded), 1) if responded else None,
        "sla_compliance": round(met / len(with_sla), 3) if with_sla else None,
        "by_intent": volume("intent"),
        "by_sentiment": volume("sentiment"),
        "by_platform": volume("platform"),
    }


@router.get("/inbox/policy", response_model=InboxPolicy, summary="SLA, business calendar, FAQ threshold")
def get_policy(_: AnyUserDep, session: SessionDep) -> InboxPolicy:
    row = session.get(InboxPolicyRow, 1)
    return InboxPolicy.model_validate(row.policy) if row else InboxPolicy()


@router.put("/inbox/policy", response_model=InboxPolicy)
def set_policy(body: InboxPolicy, principal: LeadDep, session: SessionDep, rid: RequestIdDep) -> InboxPolicy:
    if "default" not in body.sla_hours:
        raise bad_request("sla_hours", "needs a 'default' entry (hours)")
    row = session.get(InboxPolicyRow, 1) or InboxPolicyRow(id=1, policy={})
    row.policy, row.updated_by, row.updated_at = body.model_dump(mode="json"), principal.name, utcnow()
    session.add(row)
    audit.record(session, principal, "inbox_policy.update", "inbox_policy", rid, row.policy)
    session.commit()
    return body


@router.get("/inbox/{item_id}", response_model=ItemDetail, summary="Item with its handling history")
async def item(item_id: int, _: AgentDep, session: SessionDep, request: Request) -> ItemDetail:
    row = _row(session, item_id)
    state, error = None, None
    try:
        client = await request.app.state.temporal.get()
        state = await wf.query(client, row.workflow_id, InteractionWorkflow.current)
    except ApiError as exc:
        error = exc.message
    except Exception as exc:
        error = f"live state unavailable: {exc}"
    return ItemDetail(
        **ItemOut.model_validate(row, from_attributes=True).model_dump(), state=state, state_error=error
    )


async def _act(
    session: SessionDep,
    client: TemporalDep,
    principal: Principal,
    item_id: int,
    update: Any,
    arg: Any,
    action: str,
    rid: str,
    detail: dict[str, Any],
) -> InteractionState:
    row = _row(session, item_id)
    st: InteractionState = await wf.update_and_audit(
        session,
        client,
        principal,
        row.workflow_id,
        update,
        arg,
        action=action,
        target=f"interaction:{item_id}",
        request_id=rid,
        detail=detail,
    )
    return st


class ReplyIn(BaseModel):
    text: str = Field(default="", max_length=2000)
    template: str = Field(default="", max_length=64, description="Reply with this template's text instead")
    save_as_faq: str = Field(default="", max_length=1000)


@router.post(
    "/inbox/{item_id}/reply",
    response_model=InteractionState,
    summary="Reply through the platform; send Idempotency-Key to make retries safe",
)
async def reply(
    item_id: int,
    body: ReplyIn,
    principal: AgentDep,
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> InteractionState:
    text = body.text.strip()
    if body.template:
        row = session.exec(select(ReplyTemplate).where(ReplyTemplate.key == body.template)).first()
        if row is None:
            raise bad_request("template", f"no reply template {body.template!r}")
        text = text or row.body
    if not text:
        raise bad_request("text", "give the reply text or a template")
    key = idempotency_key or f"{principal.name}-{uuid.uuid4().hex}"
    if len(key) > 100:
        raise bad_request("Idempotency-Key", "at most 100 characters")
    req = ReplyRequest(actor=actor(principal), text=text, request_key=key, save_as_faq=body.save_as_faq)
    try:
        return await _act(
            session,
            client,
            principal,
            item_id,
            InteractionWorkflow.reply,
            req,
            "inbox.reply",
            rid,
            {"text": text, "key": key},
        )
    except ApiError as exc:
        # A retry of a reply that closed the item: the process has finished, but it remembers the key.
        workflow_id = _row(session, item_id).workflow_id
        if exc.code != "process_closed" or not idempotency_key:
            raise
        if not await wf.query(client, workflow_id, InteractionWorkflow.has_reply, key):
            raise
        st: InteractionState = await wf.query(client, workflow_id, InteractionWorkflow.current)
        return st


class UserIn(BaseModel):
    user: str = Field(min_length=1, max_length=64)


INBOX_HANDLERS = (Role.interaction_agent, Role.ops_head)


@router.post("/inbox/{item_id}/assign", response_model=InteractionState)
async def assign(
    item_id: int, body: UserIn, principal: AgentDep, session: SessionDep, client: TemporalDep, rid: RequestIdDep
) -> InteractionState:
    require_person(session, "user", body.user, any_of=INBOX_HANDLERS)
    return await _act(
        session,
        client,
        principal,
        item_id,
        InteractionWorkflow.assign,
        AssignRequest(actor=actor(principal), user=body.user),
        "inbox.assign",
        rid,
        body.model_dump(),
    )


class SnoozeIn(BaseModel):
    until: AwareDatetime


@router.post("/inbox/{item_id}/snooze", response_model=InteractionState)
async def snooze(
    item_id: int, body: SnoozeIn, principal: AgentDep, session: SessionDep, client: TemporalDep, rid: RequestIdDep
) -> InteractionState:
    return await _act(
        session,
        client,
        principal,
        item_id,
        InteractionWorkflow.snooze,
        SnoozeRequest(actor=actor(principal), until=body.until),
        "inbox.snooze",
        rid,
        {"until": body.until.isoformat()},
    )


class NoteIn(BaseModel):
    note: str = Field(default="", max_length=2000)


@router.post("/inbox/{item_id}/resolve", response_model=InteractionState, summary="Resolve without reply")
async def resolve(
    item_id: int, body: NoteIn, principal: AgentDep, session: SessionDep, client: TemporalDep, rid: RequestIdDep
) -> InteractionState:
    return await _act(
        session,
        client,
        principal,
        item_id,
        InteractionWorkflow.resolve,
        NoteRequest(actor=actor(principal), note=body.note),
        "inbox.resolve",
        rid,
        body.model_dump(),
    )


@router.post("/inbox/{item_id}/escalate", response_model=InteractionState)
async def escalate(
    item_id: int, body: NoteIn, principal: AgentDep, session: SessionDep, client: TemporalDep, rid: RequestIdDep
) -> InteractionState:
    return await _act(
        session,
        client,
        principal,
        item_id,
        InteractionWorkflow.escalate,
        NoteRequest(actor=actor(principal), note=body.note),
        "inbox.escalate",
        rid,
        body.model_dump(),
    )


@router.post("/inbox/{item_id}/hide", response_model=InteractionState)
async def hide(
    item_id: int, principal: AgentDep, session: SessionDep, client: TemporalDep, rid: RequestIdDep
) -> InteractionState:
    return await _act(
        session,
        client,
        principal,
        item_id,
        InteractionWorkflow.set_hidden,
        NoteRequest(actor=actor(principal), note="hide"),
        "inbox.hide",
        rid,
        {},
    )


@router.post("/inbox/{item_id}/unhide", response_model=InteractionState)
async def unhide(
    item_id: int, principal: AgentDep, session: SessionDep, client: TemporalDep, rid: RequestIdDep
) -> InteractionState:
    return await _act(
        session,
        client,
        principal,
        item_id,
        InteractionWorkflow.set_hidden,
        NoteRequest(actor=actor(principal), note="unhide"),
        "inbox.unhide",
        rid,
        {},
    )


class FeedbackIn(BaseModel):
    category: str = Field(min_length=1, max_length=64)
    department: str = Field(min_length=1, max_length=64, pattern=r"^[a-z_]+$")
    summary: str = Field(default="", max_length=5000)


@router.post(
    "/inbox/{item_id}/feedback", response_model=InteractionState, summary="Route feedback to a department"
)
async def open_feedback(
    item_id: int,
    body: FeedbackIn,
    principal: AgentDep,
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
) -> InteractionState:
    return await _act(
        session,
        client,
        principal,
        item_id,
        InteractionWorkflow.open_feedback,
        FeedbackRequest(actor=actor(principal), **body.model_dump()),
        "inbox.feedback_open",
        rid,
        body.model_dump(),
    )


class FeedbackOut(BaseModel):
    id: int
    interaction_id: int
    category: str
    department: str
    summary: str
    status: str
    due_at: datetime
    outcome: str
    resolved_by: str
    resolved_at: datetime | None
    user_told_at: datetime | None


@router.get("/feedback", response_model=list[FeedbackOut], summary="Feedback records by department")
def list_feedback(
    _: DeptDep,
    session: SessionDep,
    department: str | None = None,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[FeedbackOut]:
    stmt = select(FeedbackRecord)
    if department:
        stmt = stmt.where(FeedbackRecord.department == department)
    if status:
        stmt = stmt.where(FeedbackRecord.status == status)
    rows = session.exec(stmt.order_by(col(FeedbackRecord.due_at)).limit(limit)).all()
    return [FeedbackOut.model_validate(r, from_attributes=True) for r in rows]


class OutcomeIn(BaseModel):
    outcome: str = Field(min_length=1, max_length=2000)


@router.post(
    "/feedback/{feedback_id}/resolve",
    response_model=InteractionState,
    summary="The department's outcome; the user is told",
)
async def resolve_feedback(
    feedback_id: int,
    body: OutcomeIn,
    principal: DeptDep,
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
) -> InteractionState:
    fb = session.get(FeedbackRecord, feedback_id)
    if fb is None:
        raise not_found("feedback", feedback_id)
    return await _act(
        session,
        client,
        principal,
        fb.interaction_id,
        InteractionWorkflow.resolve_feedback,
        FeedbackOutcome(actor=actor(principal), outcome=body.outcome),
        "feedback.resolve",
        rid,
        {"feedback": feedback_id, **body.model_dump()},
    )


class FaqIn(BaseModel):
    question: str = Field(min_length=1, max_length=1000)
    answer: str = Field(min_length=1, max_length=5000)
    keywords: list[str] = Field(default_factory=list, max_length=20)


class FaqOut(FaqIn):
    id: int
    active: bool
    created_by: str


@router.get("/faq", response_model=list[FaqOut])
def list_faq(_: AnyUserDep, session: SessionDep) -> list[FaqOut]:
    rows = session.exec(select(FaqRow).where(FaqRow.active == True).order_by(col(FaqRow.id))).all()  # noqa: E712
    return [FaqOut.model_validate(r, from_attributes=True) for r in rows]


@router.post("/faq", response_model=FaqOut, status_code=201)
def add_faq(body: FaqIn, principal: AgentDep, session: SessionDep, rid: RequestIdDep) -> FaqOut:
    row = FaqRow(**body.model_dump(), created_by=principal.name)
    session.add(row)
    session.flush()
    audit.record(session, principal, "faq.add", f"faq:{row.id}", rid, body.model_dump())
    session.commit()
    return FaqOut.model_validate(row, from_attributes=True)


class TemplateIn(BaseModel):
    key: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    body: str = Field(min_length=1, max_length=5000)


@router.get("/reply-templates", response_model=list[TemplateIn])
def list_templates(_: AnyUserDep, session: SessionDep) -> list[TemplateIn]:
    return [
        TemplateIn(key=r.key, body=r.body)
        for r in session.exec(select(ReplyTemplate).order_by(col(ReplyTemplate.key)))
    ]


@router.put("/reply-templates", response_model=TemplateIn, summary="Create or change a reply template")
def put_template(body: TemplateIn, principal: LeadDep, session: SessionDep, rid: RequestIdDep) -> TemplateIn:
    row = session.exec(select(ReplyTemplate).where(ReplyTemplate.key == body.key)).first() or ReplyTemplate(
        key=body.key, body=""
    )
    row.body = body.body
    session.add(row)
    audit.record(session, principal, "reply_template.put", f"template:{body.key}", rid, body.model_dump())
    session.commit()
    return body


class ShiftIn(BaseModel):
    user: str = Field(min_length=1, max_length=64)
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class ShiftOut(ShiftIn):
    id: int


@router.get("/shifts", response_model=list[ShiftOut], summary="The shift rota")
def list_shifts(_: AnyUserDep, session: SessionDep, at: AwareDatetime | None = None) -> list[ShiftOut]:
    stmt = select(Shift)
    if at:
        stmt = stmt.where(col(Shift.starts_at) <= at, col(Shift.ends_at) > at)
    return [
        ShiftOut.model_validate(r, from_attributes=True) for r in session.exec(stmt.order_by(col(Shift.starts_at)))
    ]


@router.post("/shifts", response_model=ShiftOut, status_code=201)
def add_shift(body: ShiftIn, principal: LeadDep, session: SessionDep, rid: RequestIdDep) -> ShiftOut:
    if body.ends_at <= body.starts_at:
        raise bad_request("ends_at", "must be after starts_at")
    require_person(session, "user", body.user, any_of=INBOX_HANDLERS)
    row = Shift(**body.model_dump())
    session.add(row)
    session.flush()
    audit.record(session, principal, "shift.add", f"shift:{row.id}", rid, body.model_dump(mode="json"))
    session.commit()
    return ShiftOut.model_validate(row, from_attributes=True)


@router.delete("/shifts/{shift_id}", status_code=204)
def delete_shift(shift_id: int, principal: LeadDep, session: SessionDep, rid: RequestIdDep) -> None:
    row = session.get(Shift, shift_id)
    if row is None:
        raise not_found("shift", shift_id)
    session.delete(row)
    audit.record(session, principal, "shift.delete", f"shift:{shift_id}", rid, {})
    session.commit()


class IngestItem(BaseModel):
    external_id: str = Field(min_length=1, max_length=200)
    kind: Kind = Kind.comment
    text: str = Field(min_length=1, max_length=10000)
    author: str = Field(default="", max_length=200)
    author_followers: int = Field(default=0, ge=0)
    received_at: AwareDatetime | None = None


class IngestIn(BaseModel):
    items: list[IngestItem] = Field(min_length=1, max_length=500)


def _account(session: SessionDep, platform: Platform, account: str) -> PlatformAccount:
    row = session.exec(
        select(PlatformAccount).where(
            PlatformAccount.platform == platform.value, PlatformAccount.handle == account
        )
    ).first()
    if row is None or not row.active:
        raise not_found(f"{platform.value} account", account)
    return row


@router.post("/inbox/ingest/{platform}/{account}", summary="Push of comments/DMs/mentions (platform adapters)")
async def ingest(
    platform: Platform,
    account: str,
    body: IngestIn,
    principal: PlatformDep,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    rid: RequestIdDep,
    db: Annotated[Database, Depends(get_db)],
) -> dict[str, int]:
    _account(session, platform, account)
    items = [i.model_dump(mode="json", exclude_none=True) for i in body.items]
    inputs = await run_in_threadpool(store_items, db, platform, account, items)
    await start_interactions(client, settings.task_queue, inputs)
    audit.record(
        session, principal, "inbox.ingest", f"account:{platform.value}/{account}", rid, {"new": len(inputs)}
    )
    session.commit()
    return {"received": len(items), "new": len(inputs)}


@router.post(
    "/inbox/accounts/{platform}/{account}/poll",
    status_code=202,
    summary="Start polling an account's comments/DMs/mentions on an interval",
)
async def start_polling(
    platform: Platform,
    account: str,
    principal: PlatformDep,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    rid: RequestIdDep,
    every_minutes: Annotated[int, Query(ge=1, le=1440)] = 5,
) -> dict[str, str]:
    _account(session, platform, account)
    wid = f"inbox-poll-{platform.value}-{account}"
    await client.start_workflow(
        AccountPollWorkflow.run,
        args=[platform.value, account, every_minutes * 60, None],
        id=wid,
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    audit.record(
        session,
        principal,
        "inbox.poll_start",
        f"account:{platform.value}/{account}",
        rid,
        {"every_minutes": every_minutes},
    )
    session.commit()
    return {"workflow_id": wid}
