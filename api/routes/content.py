"""Content lifecycle (R-4.1): plan, versions, submit, review, schedule, hold release, retract, correct."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, Field, field_validator
from sqlmodel import col, select

from api import workflows as wf
from api.deps import RequestIdDep, SessionDep, TemporalDep, authenticated, get_settings, require_roles
from api.errors import ApiError, bad_request, from_request, not_found
from api.workflows import actor
from core.settings import Settings
from db import audit
from db.accounts import Principal
from db.models import ContentItem, ContentPublication, ContentVersion, PlatformAccount, User
from domain.content import (
    REVIEW_STAGES,
    STAGE_ROLES,
    ContentFormat,
    ContentPlan,
    ContentState,
    ContentWorkflowInput,
    Decision,
    Goal,
    KpiTargets,
    MediaRef,
    OverrideRequest,
    PlatformVariant,
    ReasonRequest,
    RescheduleRequest,
    Resources,
    ReviewRequest,
    ReviewSla,
    ReviseRequest,
    Stage,
    SubmitRequest,
    SubmitResult,
    Target,
    VersionContent,
    VersionRecord,
)
from domain.ical import CalendarEvent, render
from domain.kernel import Platform
from domain.platform_rules import rules_table
from domain.roles import Role
from workflows.content import ContentWorkflow

router = APIRouter(tags=["content"])

AUTHORS = (Role.content_creator, Role.ops_head, Role.marketing)
REVIEWERS = (Role.risk_compliance, Role.ops_head, Role.marketing, Role.business_reviewer, Role.leadership)
AuthorDep = Annotated[Principal, Depends(require_roles(*AUTHORS))]
ReviewerDep = Annotated[Principal, Depends(require_roles(*REVIEWERS))]
AnyUserDep = Annotated[Principal, Depends(authenticated())]
SettingsDep = Annotated[Settings, Depends(get_settings)]


# --- schemas -------------------------------------------------------------------------------------


class VersionIn(BaseModel):
    title: str = Field(default="", max_length=500)
    body: str = Field(min_length=1, max_length=50_000)
    media: list[MediaRef] = Field(default_factory=list, max_length=50)
    topics: list[str] = Field(default_factory=list, max_length=20)
    variants: dict[Platform, PlatformVariant] = Field(default_factory=dict)
    facts_flagged: bool = False

    def to_content(self) -> VersionContent:
        return VersionContent(**self.model_dump())


class ContentCreate(VersionIn):
    goal: Goal
    audience: str = Field(default="", max_length=500)
    core_message: str = Field(default="", max_length=1000)
    theme: str = Field(default="", max_length=200)
    format: ContentFormat
    targets: list[Target] = Field(min_length=1, max_length=20)
    publish_at: AwareDatetime
    resources: Resources = Field(default_factory=Resources)
    kpi: KpiTargets = Field(default_factory=KpiTargets)

    @field_validator("publish_at")
    @classmethod
    def _future(cls, v: datetime) -> datetime:
        if v <= datetime.now(UTC) + timedelta(minutes=1):
            raise ValueError("must be at least a minute in the future")
        return v


class ReviseIn(VersionIn):
    note: str = Field(default="", max_length=2000)


class SubmitIn(BaseModel):
    version_hash: str | None = Field(default=None, min_length=64, max_length=64)


class ReviewIn(BaseModel):
    stage: Stage
    version_hash: str = Field(min_length=64, max_length=64)
    decision: Decision
    notes: str = Field(default="", max_length=5000)


class OverrideIn(BaseModel):
    version_hash: str = Field(min_length=64, max_length=64)
    reason: str = Field(min_length=1, max_length=2000)


class RescheduleIn(BaseModel):
    publish_at: AwareDatetime


class ReasonIn(BaseModel):
    reason: str = Field(default="", max_length=2000)


class RequiredReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class CorrectionIn(VersionIn):
    reason: str = Field(min_length=1, max_length=2000)
    publish_at: AwareDatetime


class ContentSummary(BaseModel):
    id: int
    title: str
    stage: str
    owner: str
    goal: str
    format: str
    platforms: list[str]
    targets: list[dict[str, Any]]
    publish_at: datetime
    current_version: int
    version_hash: str
    corrects_id: int | None
    expedited: bool
    updated_at: datetime


class ContentDetail(ContentSummary):
    audience: str
    core_message: str
    theme: str
    resources: dict[str, Any]
    kpi: dict[str, Any]
    summary: dict[str, Any] | None
    corrections: list[int]
    versions: list[VersionRecord]
    state: ContentState | None
    state_error: str | None = None


class VersionDetail(BaseModel):
    number: int
    hash: str
    author: str
    note: str
    created_at: datetime
    content: VersionContent


# --- helpers -------------------------------------------------------------------------------------


def workflow_id(content_id: int) -> str:
    return f"content-{content_id}"


def _summary(item: ContentItem) -> ContentSummary:
    assert item.id is not None
    return ContentSummary(
        id=item.id,
        title=item.title,
        stage=item.stage,
        owner=item.owner_name,
        goal=item.goal,
        format=item.format,
        platforms=[p for p in item.platforms.split(",") if p],
        targets=item.targets,
        publish_at=item.publish_at,
        current_version=item.current_version,
        version_hash=item.version_hash,
        corrects_id=item.corrects_id,
        expedited=item.expedited,
        updated_at=item.updated_at,
    )


def _item(session: SessionDep, content_id: int) -> ContentItem:
    item = session.get(ContentItem, content_id)
    if item is None:
        raise not_found("content", content_id)
    return item


def _check_targets(session: SessionDep, targets: list[Target]) -> None:
    for i, t in enumerate(targets):
        row = session.exec(
            select(PlatformAccount).where(
                PlatformAccount.platform == t.platform.value, PlatformAccount.handle == t.account
            )
        ).first()
        if row is None or not row.active:
            raise bad_request(f"targets.{i}.account", f"no active {t.platform.value} account named {t.account!r}")


async def _start(
    session: SessionDep,
    client: TemporalDep,
    settings: Settings,
    principal: Principal,
    plan: ContentPlan,
    version: VersionContent,
    *,
    corrects_id: int | None = None,
) -> ContentItem:
    item = ContentItem(
        owner_id=principal.user_id,
        owner_name=principal.name,
        goal=plan.goal.value,
        audience=plan.audience,
        core_message=plan.core_message,
        theme=plan.theme,
        format=plan.format.value,
        targets=[t.model_dump(mode="json") for t in plan.targets],
        platforms="," + ",".join(sorted({t.platform.value for t in plan.targets})) + ",",
        publish_at=plan.publish_at,
        resources=plan.resources.model_dump(mode="json"),
        kpi=plan.kpi.model_dump(mode="json"),
        title=version.title,
        expedited=corrects_id is not None,
        corrects_id=corrects_id,
    )
    session.add(item)
    session.flush()
    assert item.id is not None
    item.workflow_id = workflow_id(item.id)
    digest = version.content_hash()
    item.version_hash = digest
    session.add(
        ContentVersion(
            content_id=item.id,
            number=1,
            hash=digest,
            title=version.title,
            content=version.model_dump(mode="json"),
            author=principal.name,
            note="初稿",
        )
    )
    inp = ContentWorkflowInput(
        content_id=item.id,
        owner=principal.name,
        owner_id=principal.user_id,
        plan=plan,
        version=version,
        expedited=corrects_id is not None,
        corrects_id=corrects_id,
        sla=ReviewSla(hours=settings.content_review_sla_hours, business_hours=settings.content_sla_business_hours),
        checkpoints=[timedelta(hours=h) for h in settings.content_checkpoints_hours],
    )
    try:
        await client.start_workflow(
            ContentWorkflow.run,
            inp,
            id=item.workflow_id,
            task_queue=settings.task_queue,
            static_summary=f"内容 #{item.id}：{version.title or version.body[:20]}",
        )
    except Exception as exc:
        session.rollback()
        raise ApiError(503, "temporal_unavailable", f"could not start the content process: {exc}") from exc
    return item


# --- routes --------------------------------------------------------------------------------------


@router.post("/content", response_model=ContentSummary, status_code=201, summary="Plan a content item (R-4.1.1)")
async def create_content(
    body: ContentCreate,
    principal: AuthorDep,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    rid: RequestIdDep,
) -> ContentSummary:
    _check_targets(session, body.targets)
    plan = from_request(ContentPlan, **body.model_dump(include=set(ContentPlan.model_fields)))
    item = await _start(session, client, settings, principal, plan, body.to_content())
    audit.record(
        session,
        principal,
        "content.create",
        f"content:{item.id}",
        rid,
        {"title": body.title, "publish_at": body.publish_at.isoformat()},
    )
    session.commit()
    return _summary(item)


@router.get("/content", response_model=list[ContentSummary], summary="Calendar / list (R-4.1.1)")
def list_content(
    _: AnyUserDep,
    session: SessionDep,
    start: AwareDatetime | None = None,
    end: AwareDatetime | None = None,
    platform: Platform | None = None,
    owner: str | None = None,
    stage: Stage | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[ContentSummary]:
    return [_summary(i) for i in _query(session, start, end, platform, owner, stage, limit)]


def _query(
    session: SessionDep,
    start: datetime | None,
    end: datetime | None,
    platform: Platform | None,
    owner: str | None,
    stage: Stage | None,
    limit: int,
) -> list[ContentItem]:
    if start and end and end <= start:
        raise bad_request("end", "must be after start")
    stmt = select(ContentItem)
    if start:
        stmt = stmt.where(col(ContentItem.publish_at) >= start)
    if end:
        stmt = stmt.where(col(ContentItem.publish_at) < end)
    if platform:
        stmt = stmt.where(col(ContentItem.platforms).contains(f",{platform.value},"))
    if owner:
        stmt = stmt.where(ContentItem.owner_name == owner)
    if stage:
        stmt = stmt.where(ContentItem.stage == stage.value)
    return list(session.exec(stmt.order_by(col(ContentItem.publish_at)).limit(limit)).all())


def feed_key(settings: Settings, user_id: int) -> str:
    secret = settings.secret_key.get_secret_value().encode()
    return hmac.new(secret, f"ics:{user_id}".encode(), hashlib.sha256).hexdigest()[:32]


class FeedUrl(BaseModel):
    url: str


@router.get("/content/calendar-feed", response_model=FeedUrl, summary="A private .ics URL for calendar apps")
def calendar_feed_url(principal: AnyUserDep, settings: SettingsDep, request: Request) -> FeedUrl:
    base = str(request.base_url).rstrip("/")
    return FeedUrl(
        url=f"{base}/content/calendar.ics?user={principal.user_id}&key={feed_key(settings, principal.user_id)}"
    )


@router.get("/content/calendar.ics", summary="The publishing schedule as iCalendar (bearer token or feed key)")
async def calendar_ics(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: int | None = None,
    key: str | None = None,
    start: AwareDatetime | None = None,
    end: AwareDatetime | None = None,
    platform: Platform | None = None,
    owner: str | None = None,
) -> Response:
    if user is not None and key is not None:
        row = session.get(User, user)
        if row is None or not row.active or not hmac.compare_digest(key, feed_key(settings, user)):
            raise ApiError(401, "unauthenticated", "the calendar feed key is invalid")
    else:
        await require_roles()(request, request.app.state.db)
    items = _query(session, start, end, platform, owner, None, 1000)
    events = [
        CalendarEvent(
            uid=f"content-{i.id}@socialops",
            start=i.publish_at,
            summary=f"[{i.stage}] {i.title or '(无标题)'}",
            description=f"负责人：{i.owner_name}\n平台：{', '.join(p for p in i.platforms.split(',') if p)}\n形式：{i.format}",
            categories=tuple(p for p in i.platforms.split(",") if p),
        )
        for i in items
        if i.stage not in ("cancelled", "rejected")
    ]
    body = render(events, "socialops 发布日历", datetime.now(UTC))
    return Response(body, media_type="text/calendar; charset=utf-8")


@router.get("/content/platform-rules", summary="Per-platform adaptation rules with sources (R-4.1.4)")
def platform_rules(_: AnyUserDep) -> list[dict[str, object]]:
    return rules_table()


@router.get("/content/{content_id}", response_model=ContentDetail)
async def get_content(content_id: int, _: AnyUserDep, session: SessionDep, request: Request) -> ContentDetail:
    item = _item(session, content_id)
    versions = session.exec(
        select(ContentVersion).where(ContentVersion.content_id == content_id).order_by(col(ContentVersion.number))
    ).all()
    corrections = session.exec(select(ContentItem.id).where(ContentItem.corrects_id == content_id)).all()
    state, error = None, None
    try:
        client = await request.app.state.temporal.get()
        state = await wf.query(client, item.workflow_id, ContentWorkflow.current)
    except ApiError as exc:
        error = exc.message
    except Exception as exc:  # Temporal down: the record still answers
        error = f"live state unavailable: {exc}"
    return ContentDetail(
        **_summary(item).model_dump(),
        audience=item.audience,
        core_message=item.core_message,
        theme=item.theme,
        resources=item.resources,
        kpi=item.kpi,
        summary=item.summary,
        corrections=[c for c in corrections if c],
        versions=[
            VersionRecord(number=v.number, hash=v.hash, author=v.author, created_at=v.created_at, note=v.note)
            for v in versions
        ],
        state=state,
        state_error=error,
    )


@router.get("/content/{content_id}/versions/{number}", response_model=VersionDetail)
def get_version(content_id: int, number: int, _: AnyUserDep, session: SessionDep) -> VersionDetail:
    _item(session, content_id)
    v = session.exec(
        select(ContentVersion).where(ContentVersion.content_id == content_id, ContentVersion.number == number)
    ).first()
    if v is None:
        raise not_found(f"version of content {content_id}", number)
    return VersionDetail(
        number=v.number,
        hash=v.hash,
        author=v.author,
        note=v.note,
        created_at=v.created_at,
        content=VersionContent.model_validate(v.content),
    )


async def _update(
    session: SessionDep,
    client: TemporalDep,
    principal: Principal,
    content_id: int,
    update: Any,
    arg: Any,
    action: str,
    rid: str,
    detail: dict[str, Any],
) -> Any:
    item = _item(session, content_id)
    return await wf.update_and_audit(
        session,
        client,
        principal,
        item.workflow_id,
        update,
        arg,
        action=action,
        target=f"content:{content_id}",
        request_id=rid,
        detail=detail,
    )


@router.post(
    "/content/{content_id}/versions",
    response_model=VersionRecord,
    status_code=201,
    summary="Edit: a new immutable version",
)
async def revise(
    content_id: int,
    body: ReviseIn,
    principal: AuthorDep,
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
) -> VersionRecord:
    req = ReviseRequest(actor=actor(principal), content=body.to_content(), note=body.note)
    rec: VersionRecord = await _update(
        session,
        client,
        principal,
        content_id,
        ContentWorkflow.revise,
        req,
        "content.revise",
        rid,
        {"note": body.note},
    )
    return rec


@router.post(
    "/content/{content_id}/submit", response_model=SubmitResult, summary="Self-check and submit (R-4.1.2)"
)
async def submit(
    content_id: int,
    body: SubmitIn,
    principal: AuthorDep,
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
) -> SubmitResult:
    req = SubmitRequest(actor=actor(principal), version_hash=body.version_hash)
    result: SubmitResult = await _update(
        session, client, principal, content_id, ContentWorkflow.submit, req, "content.submit", rid, {}
    )
    if not result.submitted:
        raise ApiError(
            422,
            "self_check_failed",
            "the self-check found blocking problems; fix them and submit again",
            field=next((f.field for f in result.findings if f.severity.value == "blocking"), "body"),
            findings=[f.model_dump(mode="json") for f in result.findings],
        )
    return result


@router.post("/content/{content_id}/reviews", summary="Approve, request changes or reject (R-4.1.3)")
async def review(
    content_id: int,
    body: ReviewIn,
    principal: ReviewerDep,
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
) -> dict[str, Any]:
    req = ReviewRequest(actor=actor(principal), **body.model_dump())
    rec = await _update(
        session,
        client,
        principal,
        content_id,
        ContentWorkflow.review,
        req,
        "content.review",
        rid,
        {
            "stage": body.stage.value,
            "decision": body.decision.value,
            "version_hash": body.version_hash,
            "notes": body.notes,
        },
    )
    return dict(rec.model_dump(mode="json"))


@router.post("/content/{content_id}/compliance-override", summary="Override a compliance block with a reason")
async def override(
    content_id: int,
    body: OverrideIn,
    principal: Annotated[Principal, Depends(require_roles(Role.risk_compliance))],
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
) -> dict[str, Any]:
    req = OverrideRequest(actor=actor(principal), **body.model_dump())
    rec = await _update(
        session,
        client,
        principal,
        content_id,
        ContentWorkflow.override_compliance,
        req,
        "content.compliance_override",
        rid,
        body.model_dump(),
    )
    return dict(rec.model_dump(mode="json"))


@router.post("/content/{content_id}/reschedule", response_model=ContentState)
async def reschedule(
    content_id: int,
    body: RescheduleIn,
    principal: AuthorDep,
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
) -> ContentState:
    req = RescheduleRequest(actor=actor(principal), publish_at=body.publish_at)
    st: ContentState = await _update(
        session,
        client,
        principal,
        content_id,
        ContentWorkflow.reschedule,
        req,
        "content.reschedule",
        rid,
        {"publish_at": body.publish_at.isoformat()},
    )
    return st


@router.post("/content/{content_id}/cancel", response_model=ContentState)
async def cancel(
    content_id: int,
    body: ReasonIn,
    principal: AuthorDep,
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
) -> ContentState:
    req = ReasonRequest(actor=actor(principal), reason=body.reason)
    st: ContentState = await _update(
        session,
        client,
        principal,
        content_id,
        ContentWorkflow.cancel,
        req,
        "content.cancel",
        rid,
        {"reason": body.reason},
    )
    return st


@router.post(
    "/content/{content_id}/release",
    response_model=ContentState,
    summary="After a crisis hold: ops_head confirms publishing",
)
async def release(
    content_id: int,
    body: ReasonIn,
    principal: Annotated[Principal, Depends(require_roles(Role.ops_head))],
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
) -> ContentState:
    req = ReasonRequest(actor=actor(principal), reason=body.reason)
    st: ContentState = await _update(
        session,
        client,
        principal,
        content_id,
        ContentWorkflow.confirm_release,
        req,
        "content.release",
        rid,
        {"reason": body.reason},
    )
    return st


@router.post("/content/{content_id}/retract", response_model=ContentState, summary="Retract (R-2.3)")
async def retract(
    content_id: int,
    body: RequiredReasonIn,
    principal: Annotated[Principal, Depends(require_roles(Role.ops_head, Role.risk_compliance, Role.leadership))],
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
) -> ContentState:
    req = ReasonRequest(actor=actor(principal), reason=body.reason)
    st: ContentState = await _update(
        session,
        client,
        principal,
        content_id,
        ContentWorkflow.retract,
        req,
        "content.retract",
        rid,
        {"reason": body.reason},
    )
    return st


@router.post(
    "/content/{content_id}/corrections",
    response_model=ContentSummary,
    status_code=201,
    summary="A correction: a new item linked to the original, expedited review (R-2.3)",
)
async def correct(
    content_id: int,
    body: CorrectionIn,
    principal: Annotated[Principal, Depends(require_roles(*AUTHORS, Role.risk_compliance))],
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    rid: RequestIdDep,
) -> ContentSummary:
    original = _item(session, content_id)
    published = session.exec(
        select(ContentPublication).where(
            ContentPublication.content_id == content_id, ContentPublication.external_id != ""
        )
    ).first()
    if published is None:
        raise ApiError(
            409, "conflict", f"content {content_id} was never published; edit it instead of correcting it"
        )
    if body.publish_at <= datetime.now(UTC):
        raise bad_request("publish_at", "must be in the future")
    targets = [Target.model_validate(t) for t in original.targets]
    plan = ContentPlan(
        goal=Goal.correction,
        audience=original.audience,
        core_message=f"更正：{body.reason}",
        theme=original.theme,
        format=ContentFormat(original.format),
        targets=targets,
        publish_at=body.publish_at,
    )
    item = await _start(session, client, settings, principal, plan, body.to_content(), corrects_id=content_id)
    audit.record(
        session,
        principal,
        "content.correct",
        f"content:{item.id}",
        rid,
        {"corrects": content_id, "reason": body.reason},
    )
    session.commit()
    return _summary(item)


@router.get("/reviews/mine", response_model=list[ContentSummary], summary="Awaiting my review, by my roles")
def awaiting_my_review(principal: ReviewerDep, session: SessionDep) -> list[ContentSummary]:
    stages = [s.value for s in REVIEW_STAGES if STAGE_ROLES[s] & principal.roles]
    if not stages:
        return []
    rows = session.exec(
        select(ContentItem)
        .where(col(ContentItem.stage).in_(stages), ContentItem.owner_id != principal.user_id)
        .order_by(col(ContentItem.publish_at))
    ).all()
    return [_summary(i) for i in rows]
