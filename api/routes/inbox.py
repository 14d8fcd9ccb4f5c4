"""``/inbox`` — the engagement inbox: items, their handling, figures, policy, ingest and polling (R-4.2)."""

from __future__ import annotations

import statistics
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Header, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime
from sqlmodel import Session

from api import resources
from api import workflows as wf
from api.deps import (
    INBOX_HANDLERS,
    AgentDep,
    AnyUserDep,
    DbDep,
    LeadDep,
    MaybeTemporalDep,
    RequestIdDep,
    SessionDep,
    SettingsDep,
    TemporalDep,
    require_person,
    require_roles,
)
from api.errors import ApiError, bad_request, not_found
from api.params import PathId
from api.resources import InteractionDep
from api.schemas.inbox import (
    FeedbackIn,
    IngestIn,
    InteractionDetailPublic,
    InteractionPublic,
    NoteIn,
    ReplyIn,
    SnoozeIn,
    UserIn,
)
from api.workflows import DoorDep, actor
from db import audit, platform_accounts
from db import inbox as q
from db.accounts import Principal
from db.inbox import record_polling, store_batch
from db.models import (
    InboxPolicyRow,
    PlatformAccount,
    utcnow,
)
from domain.inbox import InboxPolicy, Intent
from domain.inbox_io import (
    AssignRequest,
    FeedbackRequest,
    InteractionState,
    NoteRequest,
    ReplyRequest,
    SnoozeRequest,
)
from domain.kernel import Platform
from domain.roles import Role
from domain.workcalendar import coverage_warning, holidays_cover_until, hours_text
from workflows.interaction import InteractionWorkflow

router = APIRouter(prefix="/inbox", tags=["inbox"])

ItemStatus = Literal[
    "new", "assigned", "waiting", "snoozed", "feedback_open", "replied", "resolved", "closed", "hidden"
]  # an unknown status is a 422 naming the allowed ones, not an empty list
PlatformDep = Annotated[Principal, Depends(require_roles(Role.platform_admin, Role.admin))]
IngestDep = Annotated[Principal, Depends(require_roles(Role.platform_admin))]  # platform adapters only


@router.get("", response_model=list[InteractionPublic], summary="The inbox, with filters")
def inbox(
    principal: AgentDep,
    session: SessionDep,
    mine: bool = False,
    unassigned: bool = False,
    breaching_within_minutes: Annotated[int | None, Query(ge=1, le=10080)] = None,
    intent: Intent | None = None,
    platform: Platform | None = None,
    status: ItemStatus | None = None,
    include_closed: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[InteractionPublic]:
    rows = q.queue(
        session,
        assignee=principal.name if mine else None,
        unassigned=unassigned,
        breaching_within_minutes=breaching_within_minutes,
        intent=intent,
        platform=platform,
        status=status,
        include_closed=include_closed,
        limit=limit,
    )
    return [InteractionPublic.model_validate(r, from_attributes=True) for r in rows]


@router.get("/figures", summary="First-response time, SLA compliance, volumes (for reports)")
def figures(_: AnyUserDep, session: SessionDep, since: AwareDatetime | None = None) -> dict[str, Any]:
    rows = q.received_since(session, since)
    responded = [(r.first_response_at - r.received_at).total_seconds() for r in rows if r.first_response_at]
    now = datetime.now(UTC)
    # Compliance over every item whose SLA has been decided: answered (in time or late), or past due and
    # still unanswered — a breached unanswered item counts against it.
    with_sla = [
        r for r in rows if r.sla_due_at is not None and (r.first_response_at is not None or r.sla_due_at < now)
    ]
    met = sum(1 for r in with_sla if r.first_response_at and r.sla_due_at and r.first_response_at <= r.sla_due_at)
    bot_first = [(r.first_bot_reply_at - r.received_at).total_seconds() for r in rows if r.first_bot_reply_at]

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
        # automated replies (acknowledgement, thank-you, FAQ answer): not first responses, reported apart
        "bot_replies": sum(r.bot_replies for r in rows),
        "items_with_bot_reply": len(bot_first),
        "bot_first_reply_median_s": round(statistics.median(bot_first), 1) if bot_first else None,
        "by_intent": volume("intent"),
        "by_sentiment": volume("sentiment"),
        "by_platform": volume("platform"),
    }


@router.get("/policy", response_model=InboxPolicy, summary="SLA, business calendar, FAQ threshold")
def get_policy(_: AnyUserDep, session: SessionDep) -> InboxPolicy:
    return q.policy(session)


@router.get(
    "/policy/checks", summary="What the policy lacks: holiday data running out, the hours customers are told"
)
def policy_checks(_: AnyUserDep, session: SessionDep) -> dict[str, Any]:
    """ops_head is also notified (daily checks) 30 days before the holiday data runs out."""
    cal = q.policy(session).calendar
    until = holidays_cover_until(cal)
    today = datetime.now(ZoneInfo(cal.timezone)).date()
    return {
        "holidays_cover_until": until.isoformat() if until else None,
        "calendar_warning": coverage_warning(cal, today) or None,
        "working_hours": hours_text(cal),
    }


@router.put("/policy", response_model=InboxPolicy)
def set_policy(body: InboxPolicy, principal: LeadDep, session: SessionDep, rid: RequestIdDep) -> InboxPolicy:
    row = session.get(InboxPolicyRow, 1) or InboxPolicyRow(id=1, policy={})
    row.policy, row.updated_by, row.updated_at = body.model_dump(mode="json"), principal.name, utcnow()
    session.add(row)
    audit.record(session, principal, "inbox_policy.update", "inbox_policy", rid, row.policy)
    session.commit()
    return body


@router.get("/{item_id}", response_model=InteractionDetailPublic, summary="Item with its handling history")
async def item(
    item_id: PathId, _: AgentDep, session: SessionDep, client: MaybeTemporalDep
) -> InteractionDetailPublic:
    row = await run_in_threadpool(resources.interaction, item_id, session)
    state, error = await wf.live_state(client, session, row.workflow_id, InteractionWorkflow.current)
    return InteractionDetailPublic(
        **InteractionPublic.model_validate(row, from_attributes=True).model_dump(), state=state, state_error=error
    )


@router.post(
    "/{item_id}/reply",
    response_model=InteractionState,
    summary="Reply through the platform; send Idempotency-Key to make retries safe",
)
async def reply(
    item_id: PathId,
    principal: AgentDep,
    record: InteractionDep,
    body: ReplyIn,
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> InteractionState:
    text = body.text.strip()
    if body.template:
        text = text or await run_in_threadpool(_template_text, session, body.template)
    if not text:
        raise bad_request("text", "give the reply text or a template")
    key = idempotency_key or f"{principal.name}-{uuid.uuid4().hex}"
    if len(key) > 100:
        raise bad_request("Idempotency-Key", "at most 100 characters")
    req = ReplyRequest(actor=actor(principal), text=text, request_key=key, save_as_faq=body.save_as_faq)
    try:
        return await wf.send(
            session,
            client,
            principal,
            rid,
            record,
            InteractionWorkflow.reply,
            req,
            action="inbox.reply",
            detail={"text": text, "key": key},
        )
    except ApiError as exc:
        # A retry of a reply that closed the item: the process has finished, but it remembers the key.
        workflow_id = record.workflow_id
        if exc.code != "process_closed" or not idempotency_key:
            raise
        if not await wf.query(client, workflow_id, InteractionWorkflow.has_reply, key):
            raise
        st: InteractionState = await wf.query(client, workflow_id, InteractionWorkflow.current)
        return st


def _template_text(session: Session, name: str) -> str:
    row = q.reply_template(session, name)
    if row is None:
        raise bad_request("template", f"no reply template {name!r}")
    return row.body.replace("{hours}", hours_text(q.policy(session).calendar))


@router.post("/{item_id}/assign", response_model=InteractionState)
async def assign(
    item_id: PathId,
    principal: AgentDep,
    record: InteractionDep,
    body: UserIn,
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
) -> InteractionState:
    await run_in_threadpool(require_person, session, "user", body.user, any_of=INBOX_HANDLERS)
    return await wf.send(
        session,
        client,
        principal,
        rid,
        record,
        InteractionWorkflow.assign,
        AssignRequest(actor=actor(principal), user=body.user),
        action="inbox.assign",
        detail=body.model_dump(),
    )


@router.post("/{item_id}/snooze", response_model=InteractionState)
async def snooze(
    item_id: PathId,
    principal: AgentDep,
    record: InteractionDep,
    body: SnoozeIn,
    door: DoorDep,
) -> InteractionState:
    return await door.send(
        principal,
        record,
        InteractionWorkflow.snooze,
        SnoozeRequest(actor=actor(principal), until=body.until),
        action="inbox.snooze",
        detail={"until": body.until.isoformat()},
    )


@router.post("/{item_id}/resolve", response_model=InteractionState, summary="Resolve without reply")
async def resolve(
    item_id: PathId,
    principal: AgentDep,
    record: InteractionDep,
    body: NoteIn,
    door: DoorDep,
) -> InteractionState:
    return await door.send(
        principal,
        record,
        InteractionWorkflow.resolve,
        NoteRequest(actor=actor(principal), note=body.note),
        action="inbox.resolve",
        detail=body.model_dump(),
    )


@router.post("/{item_id}/escalate", response_model=InteractionState)
async def escalate(
    item_id: PathId,
    principal: AgentDep,
    record: InteractionDep,
    body: NoteIn,
    door: DoorDep,
) -> InteractionState:
    return await door.send(
        principal,
        record,
        InteractionWorkflow.escalate,
        NoteRequest(actor=actor(principal), note=body.note),
        action="inbox.escalate",
        detail=body.model_dump(),
    )


@router.post("/{item_id}/hide", response_model=InteractionState)
async def hide(
    item_id: PathId,
    principal: AgentDep,
    record: InteractionDep,
    door: DoorDep,
) -> InteractionState:
    return await door.send(
        principal,
        record,
        InteractionWorkflow.set_hidden,
        NoteRequest(actor=actor(principal), note="hide"),
        action="inbox.hide",
        detail={},
    )


@router.post("/{item_id}/unhide", response_model=InteractionState)
async def unhide(
    item_id: PathId,
    principal: AgentDep,
    record: InteractionDep,
    door: DoorDep,
) -> InteractionState:
    return await door.send(
        principal,
        record,
        InteractionWorkflow.set_hidden,
        NoteRequest(actor=actor(principal), note="unhide"),
        action="inbox.unhide",
        detail={},
    )


@router.post("/{item_id}/feedback", response_model=InteractionState, summary="Route feedback to a department")
async def open_feedback(
    item_id: PathId,
    principal: AgentDep,
    record: InteractionDep,
    body: FeedbackIn,
    door: DoorDep,
) -> InteractionState:
    return await door.send(
        principal,
        record,
        InteractionWorkflow.open_feedback,
        FeedbackRequest(actor=actor(principal), **body.model_dump()),
        action="inbox.feedback_open",
        detail=body.model_dump(),
    )


def _account(session: SessionDep, platform: Platform, account: str) -> PlatformAccount:
    row = platform_accounts.by_handle(session, platform.value, account)
    if row is None or not row.active:
        raise not_found(f"{platform.value} account", account)
    return row


@router.post("/ingest/{platform}/{account}", summary="Push of comments/DMs/mentions (platform adapters)")
async def ingest(
    platform: Platform,
    account: str,
    body: IngestIn,
    principal: IngestDep,
    session: SessionDep,
    client: MaybeTemporalDep,
    settings: SettingsDep,
    rid: RequestIdDep,
    db: DbDep,
) -> dict[str, int]:
    """New items are stored with their process starts in one transaction, then started; ``starting``
    counts those whose start is left to the reconciler (within a minute) — none is ever lost."""

    def check() -> None:
        _account(session, platform, account)
        session.commit()  # frees its connection: storing the batch takes another (no pool may run dry waiting)

    await run_in_threadpool(check)
    items = [i.model_dump(mode="json", exclude_none=True) for i in body.items]
    batch = await run_in_threadpool(store_batch, db, platform, account, items)

    def record() -> None:
        audit.record(
            session,
            principal,
            "inbox.ingest",
            f"account:{platform.value}/{account}",
            rid,
            {"new": len(batch.inputs), "earlier_flagged_spam": len(batch.flag_keys)},
        )
        session.commit()

    await run_in_threadpool(record)
    keys = batch.start_keys
    running = await wf.start_recorded(client, db, settings.task_queue, batch.outbox_keys)
    return {
        "received": len(items),
        "new": len(batch.inputs),
        "starting": len(set(keys) - running),
        "earlier_flagged_spam": len(batch.flag_keys),
    }


@router.post(
    "/accounts/{platform}/{account}/poll",
    status_code=202,
    summary="Start polling an account's comments/DMs/mentions on an interval",
)
async def start_polling(
    platform: Platform,
    account: str,
    principal: PlatformDep,
    session: SessionDep,
    client: MaybeTemporalDep,
    settings: SettingsDep,
    rid: RequestIdDep,
    db: DbDep,
    every_minutes: Annotated[int, Query(ge=1, le=1440)] = 5,
) -> dict[str, str]:

    def write() -> str:
        _account(session, platform, account)
        wid = record_polling(session, platform, account, timedelta(minutes=every_minutes))
        audit.record(
            session,
            principal,
            "inbox.poll_start",
            f"account:{platform.value}/{account}",
            rid,
            {"every_minutes": every_minutes},
        )
        session.commit()
        return wid

    wid = await run_in_threadpool(write)
    running = await wf.start_recorded(client, db, settings.task_queue, [wid])
    return {"workflow_id": wid, "process": "started" if wid in running else "starting"}
