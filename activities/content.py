"""Side effects of the content workflow: projections, versions, compliance scan, publishing, metrics."""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from connectors.base import PlatformError, PlatformTimeout, PostRequest
from connectors.registry import ConnectorRegistry
from db import crisis_hold
from db.engine import Database
from db.models import (
    ComplianceTerm,
    ContentItem,
    ContentMetric,
    ContentPublication,
    ContentVersion,
    utcnow,
)
from domain.compliance import ComplianceScanner, Term, TermCategory
from domain.content import Finding, MetricsSnapshot, PublicationRecord, Severity, VersionContent
from domain.content_io import (
    ConfirmInput,
    HoldStatus,
    MetricsInput,
    ProjectionUpdate,
    PublishInput,
    PublishStatusInput,
    RetractInput,
    SaveVersionInput,
)

log = structlog.get_logger("socialops.content")
PENDING_NOTE = "平台处理中（publish_id "  # a queued asynchronous publish, until publish_status settles it


def _platform_failure(exc: PlatformError) -> ApplicationError:
    """A platform's refusal as the activity's failure; a rate limit waits out the platform's window."""
    retry_after = getattr(exc, "retry_after", None)
    return ApplicationError(
        str(exc),
        exc.code,
        type="PlatformError",
        non_retryable=not exc.retryable,
        next_retry_delay=timedelta(seconds=retry_after) if retry_after else None,
    )


class ContentActivities:
    def __init__(self, db: Database, connectors: ConnectorRegistry) -> None:
        self.db = db
        self.connectors = connectors

    @activity.defn
    def sync_projection(self, inp: ProjectionUpdate) -> None:
        with self.db.session() as session:
            item = session.get(ContentItem, inp.content_id)
            if item is None:
                raise ApplicationError(f"content {inp.content_id} has no row", non_retryable=True)
            item.stage = inp.stage.value
            item.current_version = inp.version
            item.version_hash = inp.version_hash
            item.title = inp.title
            item.publish_at = inp.publish_at
            if inp.summary is not None:
                item.summary = inp.summary.model_dump(mode="json")
            item.updated_at = utcnow()
            session.add(item)
            session.commit()

    @activity.defn
    def save_version(self, inp: SaveVersionInput) -> None:
        with self.db.session() as session:
            exists = session.exec(
                select(ContentVersion).where(
                    ContentVersion.content_id == inp.content_id, ContentVersion.number == inp.number
                )
            ).first()
            if exists is not None:
                if exists.hash != inp.hash:
                    raise ApplicationError(
                        f"version {inp.number} of content {inp.content_id} exists with another hash",
                        non_retryable=True,
                    )
                return
            session.add(
                ContentVersion(
                    content_id=inp.content_id,
                    number=inp.number,
                    hash=inp.hash,
                    title=inp.content.title,
                    content=inp.content.model_dump(mode="json"),
                    author=inp.author,
                    note=inp.note,
                )
            )
            try:
                session.commit()
            except IntegrityError:
                session.rollback()

    @activity.defn
    def compliance_scan(self, version: VersionContent) -> list[Finding]:
        with self.db.session() as session:
            rows = session.exec(select(ComplianceTerm).where(ComplianceTerm.active == True)).all()  # noqa: E712
        terms = [
            Term(term=r.term, category=TermCategory(r.category), severity=Severity(r.severity), note=r.note)
            for r in rows
        ]
        return ComplianceScanner(terms).scan(version)

    @activity.defn
    def crisis_hold_status(self) -> HoldStatus:
        with self.db.session() as session:
            return crisis_hold.status(session)

    @activity.defn
    def publish(self, inp: PublishInput) -> PublicationRecord:
        """Idempotent: a post already recorded, or already on the platform under our key, is returned as is."""
        v = inp.variant
        with self.db.session() as session:
            row = session.exec(
                select(ContentPublication).where(ContentPublication.idempotency_key == inp.idempotency_key)
            ).first()
            if row is not None and row.external_id:
                return _record(row)
            if row is not None and row.confirmation_note.startswith(PENDING_NOTE):  # queued by an earlier try
                publish_id = row.confirmation_note.removeprefix(PENDING_NOTE).rstrip("）")
                return _record(row).model_copy(update={"pending": True, "publish_id": publish_id})
        connector = self._connector(v.platform, v.account)
        req = PostRequest(
            platform=v.platform,
            account=v.account,
            idempotency_key=inp.idempotency_key,
            title=v.title,
            text=v.body,
            media=v.media,
        )
        try:
            ref = connector.find_by_key(v.platform, v.account, inp.idempotency_key)
            finder = getattr(connector, "find_published", None)
            if ref is None and activity.info().attempt > 1 and callable(finder):
                # No key on the platform: after an unknown outcome, look for our post by fingerprint.
                ref = finder(req)
            if ref is None:
                if activity.info().attempt > 1:
                    log.info("retrying publish: platform has no post under our key", key=inp.idempotency_key)
                ref = connector.publish(req)
            else:
                log.info("post already on the platform; not publishing again", key=inp.idempotency_key)
        except PlatformTimeout as exc:
            raise ApplicationError(f"outcome unknown: {exc}", type="PlatformTimeout") from exc
        except PlatformError as exc:
            raise _platform_failure(exc) from exc
        with self.db.session() as session:
            row = session.exec(
                select(ContentPublication).where(ContentPublication.idempotency_key == inp.idempotency_key)
            ).first() or ContentPublication(
                content_id=inp.content_id,
                platform=v.platform.value,
                account=v.account,
                idempotency_key=inp.idempotency_key,
            )
            row.external_id, row.url, row.published_at = ref.external_id, ref.url, inp.at
            if ref.pending:  # queued on the platform (WeChat): the workflow polls publish_status
                row.published_at = None
                row.confirmation_note = f"{PENDING_NOTE}{ref.publish_id}）"
            session.add(row)
            session.commit()
            return _record(row).model_copy(update={"pending": ref.pending, "publish_id": ref.publish_id})

    @activity.defn
    def publish_status(self, inp: PublishStatusInput) -> PublicationRecord:
        """One look at an asynchronous publish job: still pending, published (the post's id and URL are
        recorded) or failed (the platform's reason is recorded and returned in ``confirmation_note``)."""
        pub = inp.publication
        connector = self._connector(pub.platform, pub.account)
        poll = getattr(connector, "publish_status", None)
        if poll is None:
            raise ApplicationError(
                f"connector {connector.kind!r} cannot report an asynchronous publish", non_retryable=True
            )
        try:
            status = poll(pub.platform, pub.account, pub.publish_id)
        except PlatformError as exc:
            raise _platform_failure(exc) from exc
        if status.state == "pending":
            return pub
        with self.db.session() as session:
            row = session.exec(
                select(ContentPublication).where(ContentPublication.idempotency_key == pub.idempotency_key)
            ).first()
            if row is None:
                raise ApplicationError(f"no publication row for {pub.idempotency_key}", non_retryable=True)
            if status.state == "published":
                row.external_id, row.url, row.published_at = status.external_id, status.url, inp.at
                row.confirmation_note = ""
            else:
                row.confirmed, row.confirmation_note = False, f"发布失败：{status.reason}"
            session.add(row)
            session.commit()
            return _record(row).model_copy(update={"publish_id": pub.publish_id})

    @activity.defn
    def confirm(self, inp: ConfirmInput) -> PublicationRecord:
        pub = inp.publication
        connector = self._connector(pub.platform, pub.account)
        try:
            view = connector.get_post(pub.platform, pub.account, pub.external_id)
        except PlatformError as exc:
            raise _platform_failure(exc) from exc
        if view is None:
            ok, note = False, "平台上找不到该内容"
        elif view.status != "live":
            ok, note = False, f"内容状态为 {view.status}，不是已发布"
        elif view.text.strip() != inp.expected_text.strip() or (
            getattr(connector, "has_title", True) and view.title.strip() != inp.expected_title.strip()
        ):  # a platform with one text field (Douyin, Kuaishou) shows no title to compare
            ok, note = False, "平台上的内容与审批通过的文本不一致"
        else:
            ok, note = True, "已确认上线，内容一致"
        with self.db.session() as session:
            row = session.exec(
                select(ContentPublication).where(ContentPublication.idempotency_key == pub.idempotency_key)
            ).first()
            if row is not None:
                row.confirmed, row.confirmation_note = ok, note
                session.add(row)
                session.commit()
        return pub.model_copy(update={"confirmed": ok, "confirmation_note": note})

    @activity.defn
    def fetch_metrics(self, inp: MetricsInput) -> MetricsSnapshot:
        pub = inp.publication
        assert pub.published_at is not None
        connector = self._connector(pub.platform, pub.account)
        try:
            snap = connector.fetch_metrics(pub.platform, pub.account, pub.external_id, pub.published_at, inp.at)
        except PlatformError as exc:
            raise _platform_failure(exc) from exc
        with self.db.session() as session:
            exists = session.exec(
                select(ContentMetric).where(
                    ContentMetric.content_id == inp.content_id,
                    ContentMetric.platform == pub.platform.value,
                    ContentMetric.account == pub.account,
                    ContentMetric.checkpoint == inp.checkpoint,
                )
            ).first()
            if exists is None:
                session.add(
                    ContentMetric(
                        content_id=inp.content_id,
                        platform=pub.platform.value,
                        account=pub.account,
                        checkpoint=inp.checkpoint,
                        at=inp.at,
                        metrics=snap.model_dump(),
                    )
                )
                session.commit()
        return snap

    @activity.defn
    def retract(self, inp: RetractInput) -> PublicationRecord:
        pub = inp.publication
        connector = self._connector(pub.platform, pub.account)
        try:
            connector.delete(pub.platform, pub.account, pub.external_id, inp.reason)
        except PlatformError as exc:
            raise _platform_failure(exc) from exc
        with self.db.session() as session:
            row = session.exec(
                select(ContentPublication).where(ContentPublication.idempotency_key == pub.idempotency_key)
            ).first()
            if row is not None:
                row.retracted_at, row.retract_reason = inp.at, inp.reason
                session.add(row)
                session.commit()
        return pub.model_copy(update={"retracted": True})

    def _connector(self, platform, account):  # type: ignore[no-untyped-def]
        try:
            return self.connectors.for_account(platform, account)
        except PlatformError as exc:
            raise _platform_failure(exc) from exc


def _record(row: ContentPublication) -> PublicationRecord:
    from domain.kernel import Platform

    return PublicationRecord(
        platform=Platform(row.platform),
        account=row.account,
        idempotency_key=row.idempotency_key,
        external_id=row.external_id,
        url=row.url,
        published_at=row.published_at,
        confirmed=row.confirmed,
        confirmation_note=row.confirmation_note,
        retracted=row.retracted_at is not None,
    )
