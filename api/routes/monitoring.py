"""``/monitoring`` — public-opinion monitoring: sources, topics, items, watch queue, signed ingest (R-5.1).

Over 400 lines because monitoring's door covers sources, topics, items and the signed webhook; the routes
are thin (analysis lives in db/monitoring.py and domain/monitoring.py).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from datetime import UTC, datetime
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime, ValidationError

from api import workflows as wf
from api.deps import (
    DbDep,
    MaybeTemporalDep,
    RequestIdDep,
    SessionDep,
    SettingsDep,
    TemporalDep,
    require_roles,
)
from api.errors import ApiError, bad_request, conflict, not_found
from api.params import PathId
from api.schemas.monitoring import (
    IngestPublic,
    ItemsCreate,
    MonitoredItemPublic,
    ReviewIn,
    SourceCreate,
    SourcePublic,
    StatPublic,
    TopicPublic,
    WebhookIn,
)
from core.sealing import SealError, webhook_sealer
from core.settings import Settings
from db import audit, monitoring, outbox
from db.accounts import Principal
from db.models import LabelCorrection, MonitoredItem, MonitorSource, MonitorTopic, utcnow
from db.monitoring import IngestResult, ingest
from domain import ids
from domain.monitoring import TopicSpec
from domain.monitoring_io import MonitorInput, MonitorState
from domain.risk import RiskLevel
from domain.roles import Role
from domain.sentiment import Sentiment
from workflows.monitoring import MonitoringWorkflow

log = structlog.get_logger("socialops.monitoring")

router = APIRouter(prefix="/monitoring", tags=["monitoring"])

WatchersDep = Annotated[
    Principal,
    Depends(
        require_roles(Role.risk_compliance, Role.ops_head, Role.leadership, Role.marketing, Role.interaction_agent)
    ),
]
ComplianceDep = Annotated[Principal, Depends(require_roles(Role.risk_compliance))]
SourcesDep = Annotated[Principal, Depends(require_roles(Role.risk_compliance, Role.platform_admin))]
SIGNATURE_WINDOW_S = 300
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")


def _record_monitor(session: SessionDep, spec: TopicSpec) -> str:
    """Record (in the caller's transaction) that the topic's monitoring workflow must run."""
    wid = ids.monitor(spec.key)
    outbox.add_start(
        session, wid, "MonitoringWorkflow", MonitorInput(spec=spec), f"舆情监测：{spec.name}", long_lived=True
    )
    return wid


def _record_escalations(session: SessionDep, res: IngestResult) -> list[str]:
    """High-risk items go to every topic's monitoring workflow at once (db/monitoring.py)."""
    return monitoring.record_escalations(session, res.high_risk)


def _existing_topic(session: SessionDep, key: str) -> MonitorTopic:
    row = monitoring.topic_by_key(session, key)
    if row is None:
        raise not_found("topic", key)
    return row


def _topic_out(row: MonitorTopic) -> TopicPublic:
    return TopicPublic(
        key=row.key,
        active=row.active,
        spec=TopicSpec.model_validate(row.spec),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _check_sources(session: SessionDep, spec: TopicSpec) -> None:
    for i, key in enumerate(spec.sources):
        if monitoring.source_by_key(session, key) is None:
            raise bad_request(f"sources.{i}", f"no source {key!r}; create it at POST /monitoring/sources first")


@router.post("/topics", response_model=TopicPublic, status_code=201, summary="Watch a topic (starts its workflow)")
async def create_topic(
    body: TopicSpec,
    principal: ComplianceDep,
    session: SessionDep,
    client: MaybeTemporalDep,
    db: DbDep,
    settings: SettingsDep,
    rid: RequestIdDep,
) -> TopicPublic:
    if not body.groups.all() and not body.query.strip():
        raise bad_request("groups", "give at least one keyword or a query")

    def write() -> tuple[TopicPublic, str]:
        if monitoring.topic_by_key(session, body.key) is not None:
            raise conflict(f"topic {body.key!r} exists; change it with PUT", field="key")
        _check_sources(session, body)
        row = MonitorTopic(key=body.key, spec=body.model_dump(mode="json"))
        session.add(row)
        session.flush()
        wid = _record_monitor(session, body)
        audit.record(
            session, principal, "monitor_topic.create", f"topic:{body.key}", rid, body.model_dump(mode="json")
        )
        session.commit()
        return _topic_out(row), wid

    out, wid = await run_in_threadpool(write)
    await wf.start_recorded(client, db, settings.task_queue, [wid])
    return out


@router.put(
    "/topics/{key}",
    response_model=TopicPublic,
    summary="Change a topic; applies to the running workflow at once",
)
async def update_topic(
    key: str,
    body: TopicSpec,
    principal: ComplianceDep,
    session: SessionDep,
    client: TemporalDep,
    db: DbDep,
    settings: SettingsDep,
    rid: RequestIdDep,
) -> TopicPublic:
    if body.key != key:
        raise bad_request("key", "the key in the body must match the URL")

    def check() -> None:
        _existing_topic(session, key)
        _check_sources(session, body)
        session.commit()  # ends the read: nothing is held while Temporal applies the change

    await run_in_threadpool(check)
    restart = False
    try:
        await wf.execute_update(client, ids.monitor(key), MonitoringWorkflow.update_topic, body)
    except ApiError as exc:
        if exc.code != "process_closed":
            raise
        restart = True  # stopped (or never started): start it with the new spec

    def write() -> tuple[TopicPublic, str]:
        row = _existing_topic(session, key)
        row.spec, row.active, row.updated_at = body.model_dump(mode="json"), True, utcnow()
        session.add(row)
        wid = _record_monitor(session, body) if restart else ""
        audit.record(session, principal, "monitor_topic.update", f"topic:{key}", rid, body.model_dump(mode="json"))
        session.commit()
        return _topic_out(row), wid

    out, wid = await run_in_threadpool(write)
    await wf.start_recorded(client, db, settings.task_queue, [wid] if wid else [])
    return out


@router.get("/topics", response_model=list[TopicPublic])
def list_topics(_: WatchersDep, session: SessionDep) -> list[TopicPublic]:
    return [_topic_out(r) for r in monitoring.all_topics(session)]


@router.get("/topics/{key}/state", response_model=MonitorState, summary="The running workflow's state")
async def topic_state(key: str, _: WatchersDep, session: SessionDep, client: TemporalDep) -> MonitorState:
    await run_in_threadpool(_existing_topic, session, key)
    st: MonitorState = await wf.query(client, ids.monitor(key), MonitoringWorkflow.current)
    return st


@router.get("/topics/{key}/stats", response_model=list[StatPublic], summary="Per-sweep volume, negatives, spikes")
def topic_stats(
    key: str,
    _: WatchersDep,
    session: SessionDep,
    since: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=2000)] = 200,
) -> list[StatPublic]:
    _existing_topic(session, key)
    rows = monitoring.topic_stats(session, key, since, limit)
    return [StatPublic.model_validate(r, from_attributes=True) for r in rows]


@router.post("/sources", response_model=SourcePublic, status_code=201)
def create_source(
    body: SourceCreate, principal: SourcesDep, session: SessionDep, rid: RequestIdDep, settings: SettingsDep
) -> SourcePublic:
    """A webhook source's signing secret is shown once, here; it is stored sealed (core/sealing.py)."""
    if monitoring.source_by_key(session, body.key) is not None:
        raise conflict(f"source {body.key!r} exists", field="key")
    if body.kind == "rss" and not body.url.startswith(("http://", "https://")):
        raise bad_request("url", "an RSS/Atom source needs an http(s) URL")
    secret = secrets.token_urlsafe(32) if body.kind == "webhook" else ""
    row = MonitorSource(
        key=body.key,
        kind=body.kind,
        name=body.name or body.key,
        url=body.url,
        authority=body.authority.value,
        secret=_seal_secret(settings, body.key, secret) if secret else "",
    )
    session.add(row)
    audit.record(
        session, principal, "monitor_source.create", f"source:{body.key}", rid, body.model_dump(mode="json")
    )
    session.commit()
    return SourcePublic(
        key=row.key,
        kind=row.kind,
        name=row.name,
        url=row.url,
        authority=row.authority,
        active=row.active,
        secret=secret or None,
    )


@router.get("/sources", response_model=list[SourcePublic])
def list_sources(_: WatchersDep, session: SessionDep) -> list[SourcePublic]:
    rows = monitoring.all_sources(session)
    return [
        SourcePublic(key=r.key, kind=r.kind, name=r.name, url=r.url, authority=r.authority, active=r.active)
        for r in rows
    ]


_WEBHOOK_BODY = WebhookIn.model_json_schema(ref_template="#/components/schemas/{model}")
_WEBHOOK_BODY.pop("$defs", None)  # RawItem is a component already (POST /monitoring/items)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _seal_secret(settings: Settings, key: str, secret: str) -> str:
    return webhook_sealer(settings.secret_key.get_secret_value()).seal(secret.encode(), f"source:{key}")


def _source_secret(settings: Settings, source: MonitorSource | None) -> str:
    """The source's signing secret; an unknown or inactive source gets a random one, so its caller is
    answered exactly like a bad signature (nothing tells which sources exist)."""
    if source is None or source.kind != "webhook" or not source.active or not source.secret:
        return secrets.token_urlsafe(32)
    if not source.secret.startswith("v1."):
        return source.secret  # stored before sealing (it is sealed again when the source is re-created)
    try:
        return (
            webhook_sealer(settings.secret_key.get_secret_value())
            .open(source.secret, f"source:{source.key}")
            .decode()
        )
    except SealError:
        log.error("webhook secret cannot be opened (SOCIALOPS_SECRET_KEY changed?)", source=source.key)
        return secrets.token_urlsafe(32)


@router.post(
    "/ingest/{source_key}",
    response_model=IngestPublic,
    summary="Webhook for bought monitoring services: HMAC-SHA256 signed, idempotent per external id",
    # The body is read raw (the signature covers its bytes) and parsed only once the signature holds.
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": _WEBHOOK_BODY}}}},
)
async def ingest_webhook(
    source_key: str,
    request: Request,
    session: SessionDep,
    client: MaybeTemporalDep,
    db: DbDep,
    settings: SettingsDep,
    x_socialops_timestamp: Annotated[str, Header(description="Unix seconds, within 300 s of now")] = "",
    x_socialops_signature: Annotated[
        str, Header(description="hex HMAC-SHA256(secret, timestamp + '.' + body), optionally 'sha256=…'")
    ] = "",
) -> IngestPublic:
    source = await run_in_threadpool(monitoring.source_by_key, session, source_key)
    ts = x_socialops_timestamp
    sig = x_socialops_signature.removeprefix("sha256=")
    body = await request.body()  # already bounded by the ingest size limit (api/limits.py)
    if not _UNIX_SECONDS.fullmatch(ts):  # ASCII digits only: str.isdigit() also accepts '²' and '٣'
        raise ApiError(
            401, "bad_signature", "X-Socialops-Timestamp must be Unix seconds", field="X-Socialops-Timestamp"
        )
    if abs(time.time() - int(ts)) > SIGNATURE_WINDOW_S:
        raise ApiError(
            401,
            "stale_timestamp",
            f"the timestamp is more than {SIGNATURE_WINDOW_S}s from now; "
            "resend with a fresh timestamp and signature",
            field="X-Socialops-Timestamp",
        )
    # Compared as bytes: compare_digest refuses str with non-ASCII characters (a header may carry any
    # latin-1 character), and a bad signature is the sender's problem (401), not ours.
    expected = signature(_source_secret(settings, source), ts, body).encode("ascii")
    if not sig or not hmac.compare_digest(sig.encode("utf-8"), expected):
        raise ApiError(
            401,
            "bad_signature",
            "X-Socialops-Signature must be hex HMAC-SHA256(secret, timestamp + '.' + body)",
            field="X-Socialops-Signature",
        )
    assert source is not None  # a signature that matched was made with a known source's secret
    # Only a signed body is parsed; every parse or validation error is a 422 naming the field.
    try:
        items = WebhookIn.model_validate_json(body).items
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None

    def store() -> tuple[IngestResult, list[str]]:  # analysis, storage and commit: off the event loop
        res = ingest(session, source, items, datetime.now(UTC))
        keys = _record_escalations(session, res)
        session.commit()
        return res, keys

    res, keys = await run_in_threadpool(store)
    await wf.start_recorded(client, db, settings.task_queue, keys)
    return IngestPublic(
        stored=len(res.stored), duplicates=res.duplicates, watch=res.watch, high_risk=dict(res.high_risk)
    )


@router.post("/items", response_model=IngestPublic, status_code=201, summary="Submit items by hand (R-5.1.3)")
async def submit_items(
    body: ItemsCreate,
    principal: WatchersDep,
    session: SessionDep,
    client: MaybeTemporalDep,
    db: DbDep,
    settings: SettingsDep,
    rid: RequestIdDep,
) -> IngestPublic:
    key = f"manual-{body.authority.value}"

    def store() -> tuple[IngestResult, list[str]]:  # off the event loop, with its audit row
        source = monitoring.source_by_key(session, key)
        if source is None:
            source = MonitorSource(key=key, kind="manual", name="人工提交", authority=body.authority.value)
            session.add(source)
            session.flush()
        res = ingest(session, source, body.items, datetime.now(UTC))
        keys = _record_escalations(session, res)
        audit.record(session, principal, "monitor_item.submit", f"source:{key}", rid, {"items": len(body.items)})
        session.commit()
        return res, keys

    res, keys = await run_in_threadpool(store)
    await wf.start_recorded(client, db, settings.task_queue, keys)
    return IngestPublic(
        stored=len(res.stored), duplicates=res.duplicates, watch=res.watch, high_risk=dict(res.high_risk)
    )


@router.get("/items", response_model=list[MonitoredItemPublic])
def list_items(
    _: WatchersDep,
    session: SessionDep,
    topic: str | None = None,
    risk: RiskLevel | None = None,
    sentiment: Sentiment | None = None,
    source: str | None = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    watch: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[MonitoredItemPublic]:
    rows = monitoring.items(
        session,
        topic=topic,
        risk=risk,
        sentiment=sentiment,
        source=source,
        since=since,
        until=until,
        watch=watch,
        limit=limit,
    )
    return _items_out(session, rows)


def _items_out(session: SessionDep, rows: list[MonitoredItem]) -> list[MonitoredItemPublic]:
    incidents = monitoring.incidents_of(session, [r.id for r in rows if r.id is not None])
    return [
        MonitoredItemPublic.model_validate(r, from_attributes=True).model_copy(
            update={"incidents": incidents.get(r.id or 0, {})}
        )
        for r in rows
    ]


@router.get("/watch", response_model=list[MonitoredItemPublic], summary="Human watch queue (R-5.1.3)")
def watch_queue(
    _: WatchersDep, session: SessionDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[MonitoredItemPublic]:
    return _items_out(session, monitoring.watch_queue(session, limit))


@router.post("/items/{item_id}/review", response_model=MonitoredItemPublic, summary="Confirm or correct a label")
def review_item(
    item_id: PathId, body: ReviewIn, principal: ComplianceDep, session: SessionDep, rid: RequestIdDep
) -> MonitoredItemPublic:
    row = session.get(MonitoredItem, item_id)
    if row is None:
        raise not_found("item", item_id)
    corrected = False
    for field_name, value in (("sentiment", body.sentiment), ("risk_level", body.risk_level)):
        if value is not None and getattr(row, field_name) != value.value:
            session.add(
                LabelCorrection(
                    item_id=item_id,
                    field=field_name,
                    machine_value=getattr(row, field_name),
                    human_value=value.value,
                    text=f"{row.title} {row.text}".strip(),
                    by=principal.name,
                )
            )
            setattr(row, field_name, value.value)
            corrected = True
    row.watch_status = "corrected" if corrected else "confirmed"
    row.reviewed_by, row.reviewed_at = principal.name, utcnow()
    session.add(row)
    audit.record(
        session,
        principal,
        "monitor_item.review",
        f"item:{item_id}",
        rid,
        {"corrected": corrected, **body.model_dump(mode="json")},
    )
    session.commit()
    return _items_out(session, [row])[0]
