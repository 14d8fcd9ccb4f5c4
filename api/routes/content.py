"""``/content`` — the content lifecycle: plan, versions, self-check, four-step review, publish, track (R-4.1).

Over 400 lines because the content lifecycle has many steps, each a thin route over one update.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import AwareDatetime

from api import resources
from api import workflows as wf
from api.deps import (
    AnyUserDep,
    DbDep,
    MaybeTemporalDep,
    RequestIdDep,
    ReviewerDep,
    SessionDep,
    SettingsDep,
    require_roles,
)
from api.errors import ApiError, bad_request, from_request
from api.params import PathId, PathNumber, QueryId
from api.resources import ContentItemDep, user_record
from api.schemas.content import (
    ContentCreate,
    ContentDetailPublic,
    ContentPublic,
    CorrectionCreate,
    FeedUrlPublic,
    OverrideIn,
    ReasonIn,
    RequiredReasonIn,
    RescheduleIn,
    ReviewCreate,
    SubmitIn,
    VersionCreate,
    VersionPublic,
)
from api.workflows import DoorDep, actor
from core.settings import Settings
from db import accounts, audit, content, outbox, platform_accounts
from db.accounts import Principal
from db.models import ContentItem, ContentVersion, ProcessStart, User
from domain import ids
from domain.content import (
    ContentFormat,
    ContentPlan,
    ContentState,
    ContentWorkflowInput,
    Goal,
    OverrideRequest,
    ReasonRequest,
    RescheduleRequest,
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

router = APIRouter(prefix="/content", tags=["content"])

AUTHORS = (Role.content_creator, Role.ops_head, Role.marketing)
AuthorDep = Annotated[Principal, Depends(require_roles(*AUTHORS))]


# --- schemas -------------------------------------------------------------------------------------


def _check_targets(session: SessionDep, targets: list[Target]) -> None:
    for i, t in enumerate(targets):
        row = platform_accounts.by_handle(session, t.platform.value, t.account)
        if row is None or not row.active:
            raise bad_request(f"targets.{i}.account", f"no active {t.platform.value} account named {t.account!r}")


def _record(
    session: SessionDep,
    settings: Settings,
    principal: Principal,
    plan: ContentPlan,
    version: VersionContent,
    *,
    corrects_id: int | None = None,
) -> tuple[ContentItem, ProcessStart]:
    """The item, its first version and its process start — one transaction, no await (db/outbox.py)."""
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
    item.workflow_id = ids.content(item.id)
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
    start = outbox.add_start(
        session,
        item.workflow_id,
        "ContentWorkflow",
        inp,
        summary=f"内容 #{item.id}：{version.title or version.body[:20]}",
    )
    return item, start


# --- routes --------------------------------------------------------------------------------------


@router.post("", response_model=ContentPublic, status_code=201, summary="Plan a content item (R-4.1.1)")
async def create_content(
    body: ContentCreate,
    principal: AuthorDep,
    session: SessionDep,
    client: MaybeTemporalDep,
    db: DbDep,
    settings: SettingsDep,
    rid: RequestIdDep,
) -> ContentPublic:
    def write() -> tuple[ContentItem, ProcessStart]:
        _check_targets(session, body.targets)
        plan = from_request(ContentPlan, **body.model_dump(include=set(ContentPlan.model_fields)))
        item, start = _record(session, settings, principal, plan, body.to_content())
        audit.record(
            session,
            principal,
            "content.create",
            f"content:{item.id}",
            rid,
            {"title": body.title, "publish_at": body.publish_at.isoformat()},
        )
        session.commit()
        return item, start

    item, start = await run_in_threadpool(write)
    running = await wf.start_recorded(client, db, settings.task_queue, [start.key])
    return ContentPublic.of(item, starting=item.workflow_id not in running)


@router.get("", response_model=list[ContentPublic], summary="Calendar / list (R-4.1.1)")
def list_content(
    _: AnyUserDep,
    session: SessionDep,
    start: AwareDatetime | None = None,
    end: AwareDatetime | None = None,
    platform: Platform | None = None,
    owner: str | None = None,
    stage: Stage | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[ContentPublic]:
    return [ContentPublic.of(i) for i in _query(session, start, end, platform, owner, stage, limit)]


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
    return content.schedule(session, start, end, platform, owner, stage, limit)


def _feed_url(settings: Settings, session: SessionDep, user_id: int, *, rotate: bool) -> FeedUrlPublic:
    user = user_record(user_id, session)
    key = accounts.feed_key(session, user, settings.secret_key.get_secret_value(), rotate=rotate)
    return FeedUrlPublic(url=f"{settings.public_base_url}/content/calendar.ics?user={user_id}&key={key}")


@router.get("/calendar-feed", response_model=FeedUrlPublic, summary="A private .ics URL for calendar apps")
def calendar_feed_url(principal: AnyUserDep, settings: SettingsDep, session: SessionDep) -> FeedUrlPublic:
    """Built from ``SOCIALOPS_PUBLIC_URL`` (never the Host header); the key is random per user."""
    out = _feed_url(settings, session, principal.user_id, rotate=False)
    session.commit()
    return out


@router.post(
    "/calendar-feed/rotate",
    response_model=FeedUrlPublic,
    summary="A new private .ics URL; the old one stops working",
)
def rotate_calendar_feed(
    principal: AnyUserDep, settings: SettingsDep, session: SessionDep, rid: RequestIdDep
) -> FeedUrlPublic:
    out = _feed_url(settings, session, principal.user_id, rotate=True)
    audit.record(session, principal, "calendar_feed.rotate", f"user:{principal.user_id}", rid)
    session.commit()
    return out


@router.get("/calendar.ics", summary="The publishing schedule as iCalendar (bearer token or feed key)")
async def calendar_ics(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: QueryId = None,
    key: str | None = None,
    start: AwareDatetime | None = None,
    end: AwareDatetime | None = None,
    platform: Platform | None = None,
    owner: str | None = None,
) -> Response:
    if user is not None and key is not None:
        row = await run_in_threadpool(session.get, User, user)
        if row is None or not accounts.feed_key_matches(row, key, settings.secret_key.get_secret_value()):
            raise ApiError(401, "unauthenticated", "the calendar feed key is invalid")
    else:
        await require_roles()(request, request.app.state.db)
    items = await run_in_threadpool(_query, session, start, end, platform, owner, None, 1000)
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


@router.get("/platform-rules", summary="Per-platform adaptation rules with sources (R-4.1.4)")
def platform_rules(_: AnyUserDep) -> list[dict[str, object]]:
    return rules_table()


@router.get("/{content_id}", response_model=ContentDetailPublic)
async def get_content(
    content_id: PathId, _: AnyUserDep, session: SessionDep, client: MaybeTemporalDep
) -> ContentDetailPublic:
    def read() -> tuple[ContentItem, list[ContentVersion], list[int | None]]:
        item = resources.content_item(content_id, session)
        return item, content.versions(session, content_id), content.correction_ids(session, content_id)

    item, versions, corrections = await run_in_threadpool(read)
    state, error = await wf.live_state(client, session, item.workflow_id, ContentWorkflow.current)
    return ContentDetailPublic(
        **ContentPublic.of(item).model_dump(),
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


@router.get("/{content_id}/versions/{number}", response_model=VersionPublic)
def get_version(content_id: PathId, number: PathNumber, _: AnyUserDep, session: SessionDep) -> VersionPublic:
    resources.content_item(content_id, session)
    v = content.version(session, content_id, number)
    if v is None:
        raise ApiError(404, "not_found", f"content {content_id} has no version {number}", field="number")
    return VersionPublic(
        number=v.number,
        hash=v.hash,
        author=v.author,
        note=v.note,
        created_at=v.created_at,
        content=VersionContent.model_validate(v.content),
    )


@router.post(
    "/{content_id}/versions",
    response_model=VersionRecord,
    status_code=201,
    summary="Edit: a new immutable version",
)
async def revise(
    content_id: PathId,
    principal: AuthorDep,
    item: ContentItemDep,
    body: VersionCreate,
    door: DoorDep,
) -> VersionRecord:
    req = ReviseRequest(actor=actor(principal), content=body.to_content(), note=body.note)
    rec: VersionRecord = await door.send(
        principal, item, ContentWorkflow.revise, req, action="content.revise", detail={"note": body.note}
    )
    return rec


@router.post("/{content_id}/submit", response_model=SubmitResult, summary="Self-check and submit (R-4.1.2)")
async def submit(
    content_id: PathId,
    principal: AuthorDep,
    item: ContentItemDep,
    body: SubmitIn,
    door: DoorDep,
) -> SubmitResult:
    req = SubmitRequest(actor=actor(principal), version_hash=body.version_hash)
    result: SubmitResult = await door.ask(item, ContentWorkflow.submit, req)
    if result.submitted:  # a submission the self-check refused changed nothing: it is not audited
        await door.audit(principal, item, "content.submit", {"version_hash": body.version_hash})
    else:
        raise ApiError(
            422,
            "self_check_failed",
            "the self-check found blocking problems; fix them and submit again",
            field=next((f.field for f in result.findings if f.severity.value == "blocking"), "body"),
            findings=[f.model_dump(mode="json") for f in result.findings],
        )
    return result


@router.post("/{content_id}/reviews", summary="Approve, request changes or reject (R-4.1.3)")
async def review(
    content_id: PathId,
    principal: ReviewerDep,
    item: ContentItemDep,
    body: ReviewCreate,
    door: DoorDep,
) -> dict[str, Any]:
    req = ReviewRequest(actor=actor(principal), **body.model_dump())
    rec = await door.send(
        principal,
        item,
        ContentWorkflow.review,
        req,
        action="content.review",
        detail={
            "stage": body.stage.value,
            "decision": body.decision.value,
            "version_hash": body.version_hash,
            "notes": body.notes,
        },
    )
    return dict(rec.model_dump(mode="json"))


@router.post("/{content_id}/compliance-override", summary="Override a compliance block with a reason")
async def override(
    content_id: PathId,
    principal: Annotated[Principal, Depends(require_roles(Role.risk_compliance))],
    item: ContentItemDep,
    body: OverrideIn,
    door: DoorDep,
) -> dict[str, Any]:
    req = OverrideRequest(actor=actor(principal), **body.model_dump())
    rec = await door.send(
        principal,
        item,
        ContentWorkflow.override_compliance,
        req,
        action="content.compliance_override",
        detail=body.model_dump(),
    )
    return dict(rec.model_dump(mode="json"))


@router.post("/{content_id}/reschedule", response_model=ContentState)
async def reschedule(
    content_id: PathId,
    principal: AuthorDep,
    item: ContentItemDep,
    body: RescheduleIn,
    door: DoorDep,
) -> ContentState:
    req = RescheduleRequest(actor=actor(principal), publish_at=body.publish_at)
    st: ContentState = await door.send(
        principal,
        item,
        ContentWorkflow.reschedule,
        req,
        action="content.reschedule",
        detail={"publish_at": body.publish_at.isoformat()},
    )
    return st


@router.post("/{content_id}/cancel", response_model=ContentState)
async def cancel(
    content_id: PathId,
    principal: AuthorDep,
    item: ContentItemDep,
    body: ReasonIn,
    door: DoorDep,
) -> ContentState:
    req = ReasonRequest(actor=actor(principal), reason=body.reason)
    st: ContentState = await door.send(
        principal, item, ContentWorkflow.cancel, req, action="content.cancel", detail={"reason": body.reason}
    )
    return st


@router.post(
    "/{content_id}/release",
    response_model=ContentState,
    summary="After a crisis hold: ops_head confirms publishing",
)
async def release(
    content_id: PathId,
    principal: Annotated[Principal, Depends(require_roles(Role.ops_head))],
    item: ContentItemDep,
    body: ReasonIn,
    door: DoorDep,
) -> ContentState:
    req = ReasonRequest(actor=actor(principal), reason=body.reason)
    st: ContentState = await door.send(
        principal,
        item,
        ContentWorkflow.confirm_release,
        req,
        action="content.release",
        detail={"reason": body.reason},
    )
    return st


@router.post("/{content_id}/retract", response_model=ContentState, summary="Retract (R-2.3)")
async def retract(
    content_id: PathId,
    principal: Annotated[Principal, Depends(require_roles(Role.ops_head, Role.risk_compliance, Role.leadership))],
    item: ContentItemDep,
    body: RequiredReasonIn,
    door: DoorDep,
) -> ContentState:
    req = ReasonRequest(actor=actor(principal), reason=body.reason)
    st: ContentState = await door.send(
        principal, item, ContentWorkflow.retract, req, action="content.retract", detail={"reason": body.reason}
    )
    return st


@router.post(
    "/{content_id}/corrections",
    response_model=ContentPublic,
    status_code=201,
    summary="A correction: a new item linked to the original, expedited review (R-2.3)",
)
async def correct(
    content_id: PathId,
    body: CorrectionCreate,
    principal: Annotated[Principal, Depends(require_roles(*AUTHORS, Role.risk_compliance))],
    session: SessionDep,
    client: MaybeTemporalDep,
    db: DbDep,
    settings: SettingsDep,
    rid: RequestIdDep,
) -> ContentPublic:
    def write() -> tuple[ContentItem, ProcessStart]:
        original = resources.content_item(content_id, session)
        published = content.first_publication(session, content_id)
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
        item, start = _record(session, settings, principal, plan, body.to_content(), corrects_id=content_id)
        audit.record(
            session,
            principal,
            "content.correct",
            f"content:{item.id}",
            rid,
            {"corrects": content_id, "reason": body.reason},
        )
        session.commit()
        return item, start

    item, start = await run_in_threadpool(write)
    running = await wf.start_recorded(client, db, settings.task_queue, [start.key])
    return ContentPublic.of(item, starting=item.workflow_id not in running)
