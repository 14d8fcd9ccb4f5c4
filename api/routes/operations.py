"""Operational settings: platform accounts, the crisis hold, compliance word lists, notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import or_
from sqlmodel import col, select
from temporalio.common import WorkflowIDConflictPolicy

from api import workflows as wf
from api.deps import RequestIdDep, SessionDep, TemporalDep, authenticated, get_settings, require_roles
from api.errors import ApiError, conflict, not_found
from core.settings import Settings
from db import audit
from db.accounts import Principal
from db.models import ComplianceTerm, ContentItem, CrisisHold, Notification, PlatformAccount, utcnow
from domain.compliance import TermCategory
from domain.content import Severity
from domain.kernel import Platform
from domain.roles import Role
from workflows.content import ContentWorkflow
from workflows.interaction import AccountPollWorkflow

POLL_EVERY_S = 300

router = APIRouter(tags=["operations"])
log = structlog.get_logger("socialops.api")
AnyUserDep = Annotated[Principal, Depends(authenticated())]
HoldDep = Annotated[Principal, Depends(require_roles(Role.ops_head, Role.risk_compliance, Role.leadership))]
AccountsDep = Annotated[Principal, Depends(require_roles(Role.platform_admin, Role.admin))]
ComplianceDep = Annotated[Principal, Depends(require_roles(Role.risk_compliance))]


class AccountIn(BaseModel):
    platform: Platform
    handle: str = Field(min_length=1, max_length=100, pattern=r"^[^\s/]+$")
    display_name: str = Field(default="", max_length=200)
    connector: str = Field(default="sandbox", pattern=r"^(sandbox)$", description="Installed connectors: sandbox")


class AccountOut(BaseModel):
    id: int
    platform: str
    handle: str
    display_name: str
    connector: str
    active: bool
    polling: str = Field(default="", description="The polling workflow started for this account")


@router.get("/platform-accounts", response_model=list[AccountOut])
def list_accounts(_: AnyUserDep, session: SessionDep) -> list[AccountOut]:
    rows = session.exec(select(PlatformAccount).order_by(col(PlatformAccount.id))).all()
    return [AccountOut.model_validate(r, from_attributes=True) for r in rows]


@router.post("/platform-accounts", response_model=AccountOut, status_code=201)
async def create_account(
    body: AccountIn,
    principal: AccountsDep,
    session: SessionDep,
    rid: RequestIdDep,
    client: TemporalDep,
    settings: Annotated[Settings, Depends(get_settings)],
) -> AccountOut:
    exists = session.exec(
        select(PlatformAccount).where(
            PlatformAccount.platform == body.platform.value, PlatformAccount.handle == body.handle
        )
    ).first()
    if exists is not None:
        raise conflict(f"{body.platform.value} account {body.handle!r} already exists", field="handle")
    row = PlatformAccount(
        platform=body.platform.value,
        handle=body.handle,
        display_name=body.display_name or body.handle,
        connector=body.connector,
    )
    session.add(row)
    session.flush()
    audit.record(session, principal, "account.create", f"account:{row.id}", rid, body.model_dump(mode="json"))
    session.commit()
    out = AccountOut.model_validate(row, from_attributes=True)
    # Every connected account's comments, DMs and mentions are polled (every 5 minutes by default).
    wid = f"inbox-poll-{row.platform}-{row.handle}"
    try:
        await client.start_workflow(AccountPollWorkflow.run, args=[row.platform, row.handle, POLL_EVERY_S, None], id=wid,
                                    task_queue=settings.task_queue,
                                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)  # fmt: skip
        out.polling = wid
    except Exception as exc:  # the account exists; polling can be started later from the inbox API
        log.warning("could not start polling", account=wid, error=str(exc))
        out.polling = f"not started: {exc}"[:200]
    return out


class HoldOut(BaseModel):
    active: bool
    reason: str
    set_by: str
    incident_id: str
    changed_at: datetime
    held_items: list[int] = Field(default_factory=list)


class HoldIn(BaseModel):
    active: bool
    reason: str = Field(min_length=1, max_length=2000)
    incident_id: str = Field(default="", max_length=100)


def _hold(session: SessionDep) -> CrisisHold:
    row = session.get(CrisisHold, 1)
    if row is None:
        row = CrisisHold(id=1)
        session.add(row)
        session.flush()
    return row


def _held_items(session: SessionDep) -> list[ContentItem]:
    return list(session.exec(select(ContentItem).where(ContentItem.stage == "held")).all())


@router.get("/crisis-hold", response_model=HoldOut, summary="Is scheduled publishing paused?")
def get_hold(_: AnyUserDep, session: SessionDep) -> HoldOut:
    row = _hold(session)
    return HoldOut(**row.model_dump(exclude={"id"}), held_items=[i.id for i in _held_items(session) if i.id])


@router.put("/crisis-hold", response_model=HoldOut, summary="Set or release the crisis hold")
async def set_hold(
    body: HoldIn, principal: HoldDep, session: SessionDep, client: TemporalDep, rid: RequestIdDep
) -> HoldOut:
    row = _hold(session)
    row.active, row.reason, row.set_by = body.active, body.reason, principal.name
    row.incident_id, row.changed_at = body.incident_id, utcnow()
    session.add(row)
    audit.record(
        session,
        principal,
        "crisis_hold.set" if body.active else "crisis_hold.release",
        "crisis_hold",
        rid,
        body.model_dump(),
    )
    session.commit()
    held = _held_items(session)
    if not body.active:  # wake held items now rather than at their next poll
        for item in held:
            try:
                await wf.signal(client, item.workflow_id, ContentWorkflow.hold_released_signal)
            except ApiError as exc:
                log.warning("could not wake held item", content_id=item.id, error=exc.message)
    return HoldOut(**row.model_dump(exclude={"id"}), held_items=[i.id for i in held if i.id])


class TermIn(BaseModel):
    term: str = Field(min_length=1, max_length=100)
    category: TermCategory
    severity: Severity = Severity.blocking
    note: str = Field(default="", max_length=500)


class TermOut(TermIn):
    id: int
    active: bool


@router.get("/compliance/terms", response_model=list[TermOut], summary="Word lists of the compliance scan")
def list_terms(
    _: Annotated[
        Principal,
        Depends(require_roles(Role.risk_compliance, Role.ops_head, Role.content_creator, Role.marketing)),
    ],
    session: SessionDep,
    category: TermCategory | None = None,
    include_inactive: bool = False,
) -> list[TermOut]:
    stmt = select(ComplianceTerm)
    if category:
        stmt = stmt.where(ComplianceTerm.category == category.value)
    if not include_inactive:
        stmt = stmt.where(ComplianceTerm.active == True)  # noqa: E712
    return [
        TermOut.model_validate(r, from_attributes=True)
        for r in session.exec(stmt.order_by(col(ComplianceTerm.id)))
    ]


@router.post("/compliance/terms", response_model=TermOut, status_code=201)
def add_term(body: TermIn, principal: ComplianceDep, session: SessionDep, rid: RequestIdDep) -> TermOut:
    row = session.exec(
        select(ComplianceTerm).where(
            ComplianceTerm.term == body.term.strip(), ComplianceTerm.category == body.category.value
        )
    ).first()
    if row is not None and row.active:
        raise conflict(f"{body.term!r} is already in {body.category.value}", field="term")
    row = row or ComplianceTerm(term=body.term.strip(), category=body.category.value)
    row.severity, row.note, row.active = body.severity.value, body.note, True
    session.add(row)
    session.flush()
    audit.record(session, principal, "compliance_term.add", f"term:{row.id}", rid, body.model_dump(mode="json"))
    session.commit()
    return TermOut.model_validate(row, from_attributes=True)


@router.delete(
    "/compliance/terms/{term_id}", response_model=TermOut, summary="Deactivate a term (kept for history)"
)
def remove_term(term_id: int, principal: ComplianceDep, session: SessionDep, rid: RequestIdDep) -> TermOut:
    row = session.get(ComplianceTerm, term_id)
    if row is None:
        raise not_found("term", term_id)
    row.active = False
    session.add(row)
    audit.record(session, principal, "compliance_term.remove", f"term:{term_id}", rid, {"term": row.term})
    session.commit()
    return TermOut.model_validate(row, from_attributes=True)


class NotificationOut(BaseModel):
    id: int
    at: datetime
    kind: str
    subject: str
    body: str
    recipient_role: str
    recipient_user: str
    ref: str


@router.get(
    "/notifications", response_model=list[NotificationOut], summary="Reminders, escalations and alerts for me"
)
def my_notifications(
    principal: AnyUserDep,
    session: SessionDep,
    ref: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[NotificationOut]:
    stmt = select(Notification).where(
        or_(
            col(Notification.recipient_user) == principal.name,
            col(Notification.recipient_role).in_(principal.role_names),
        )
    )
    if ref:
        stmt = stmt.where(Notification.ref == ref)
    rows = session.exec(stmt.order_by(col(Notification.id).desc()).limit(limit)).all()
    return [NotificationOut.model_validate(r, from_attributes=True) for r in rows]
