"""The monitoring pipeline: match → sentiment → risk → store (deduplicated) → watch queue, in batches."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import case
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from db.emergency import matrix as load_matrix
from db.models import LabelCorrection, MonitoredItem, MonitorSource, MonitorTopic, TopicStat
from domain.monitoring import Authority, ItemSignals, RawItem, RiskAssessment, TopicScanner, TopicSpec, assess
from domain.risk import LEVEL_ORDER, RiskLevel, RiskMatrix
from domain.sentiment import Sentiment, SentimentModel, default_model

LOW_CONFIDENCE = 0.3


@dataclass
class IngestResult:
    stored: list[int] = field(default_factory=list)
    duplicates: int = 0
    high_risk: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    watch: int = 0


@dataclass(slots=True)
class Analysis:
    """The machine's reading of one item (the hot path builds no ORM rows)."""

    raw: RawItem
    topics: list[str]
    terms: list[str]
    sentiment: Sentiment
    score: float
    confidence: float
    risk: RiskAssessment
    watch_reason: str


_SCANNERS: OrderedDict[str, TopicScanner] = OrderedDict()
_SCANNERS_LOCK = threading.Lock()
SCANNER_CACHE = 8


def scanner_for(topics: list[TopicSpec]) -> TopicScanner:
    """The compiled scanner for exactly these topic definitions, built once and reused by later batches
    (compiling 10,000 keywords takes longer than analysing a 500-item batch). Any change to a topic gives a
    different key, so an edited topic is never matched with its old terms."""
    key = hashlib.sha256(b"\n".join(t.model_dump_json().encode() for t in topics)).hexdigest()
    with _SCANNERS_LOCK:
        if key in _SCANNERS:
            _SCANNERS.move_to_end(key)
            return _SCANNERS[key]
    scanner = TopicScanner(topics)
    with _SCANNERS_LOCK:
        _SCANNERS[key] = scanner
        while len(_SCANNERS) > SCANNER_CACHE:
            _SCANNERS.popitem(last=False)
    return scanner


class Analyzer:
    """Compiled once per set of topics; analyses batches without touching the database."""

    def __init__(self, topics: list[TopicSpec], matrix: RiskMatrix, model: SentimentModel | None = None) -> None:
        self.scanner = scanner_for(topics)
        self.matrix = matrix
        self.model = model or default_model()

    def analyse_items(
        self,
        items: list[RawItem],
        authority: Authority,
        recent: dict[str, tuple[int, int]],
        keep_unmatched: bool,
        now: datetime | None = None,
    ) -> list[Analysis]:
        joined = [f"{i.title} {i.text}" if i.title else i.text for i in items]
        scans = [self.scanner.scan(t) for t in joined]
        sentiments = self.model.classify([sc.opinion_text for sc in scans])
        # Count this batch into each topic's recent traffic before assessing it.
        traffic = {k: list(v) for k, v in recent.items()}
        for sc, (label, _, _) in zip(scans, sentiments, strict=True):
            for key, _ in sc.hits:
                t = traffic.setdefault(key, [0, 0])
                t[0] += 1
                t[1] += label is Sentiment.negative
        medium = LEVEL_ORDER[RiskLevel.medium]
        out: list[Analysis] = []
        for raw, text, sc, (label, p, conf) in zip(items, joined, scans, sentiments, strict=True):
            hits = sc.hits
            if not hits and not keep_unmatched:
                continue
            volume, negative = traffic.get(hits[0][0], (0, 0)) if hits else (0, 0)
            groups: set[str] = set().union(*(tm.groups for _, tm in hits)) if hits else set()
            risk = assess(
                ItemSignals(
                    sentiment=label,
                    sentiment_confidence=conf,
                    authority=authority,
                    author_followers=raw.author_followers,
                    engagement=raw.engagement,
                    reposts=raw.reposts,
                    repost_growth_per_hour=repost_rate(raw, now) if now is not None else 0.0,
                    groups=groups,
                    text=text,
                    topic_items_last_hour=volume,
                    topic_negative_share=negative / volume if volume else 0.0,
                    risk_terms=(sc.safety, sc.legal),
                ),
                self.matrix,
            )
            watch_reason = ""
            if LEVEL_ORDER[risk.level] >= medium:
                watch_reason = f"风险 {risk.level.value}"
            elif hits and conf < LOW_CONFIDENCE:
                watch_reason = f"情感置信度低（{conf:.2f}）"
            if len(hits) == 1:
                terms = hits[0][1].terms
            else:
                terms = sorted(set().union(*(tm.terms for _, tm in hits))) if hits else []
            out.append(Analysis(raw, [k for k, _ in hits], terms, label, p, conf, risk, watch_reason))
        return out

    def analyse(
        self,
        source: MonitorSource,
        items: list[RawItem],
        recent: dict[str, tuple[int, int]],
        keep_unmatched: bool,
        now: datetime,
    ) -> list[MonitoredItem]:
        authority = (
            Authority(source.authority) if source.authority in Authority.__members__ else Authority.individual
        )
        return [to_row(source, a, now) for a in self.analyse_items(items, authority, recent, keep_unmatched, now)]


def repost_rate(raw: RawItem, now: datetime) -> float:
    """Reposts per hour since the item was published (0 when the source gives no publication time); an
    item younger than ten minutes counts as ten minutes old, so a fresh post is not an infinite rate."""
    if not raw.reposts or raw.published_at is None:
        return 0.0
    published = raw.published_at if raw.published_at.tzinfo else raw.published_at.replace(tzinfo=UTC)
    hours = max((now - published).total_seconds() / 3600, 1 / 6)
    return raw.reposts / hours


def to_row(source: MonitorSource, a: Analysis, now: datetime) -> MonitoredItem:
    raw, risk = a.raw, a.risk
    return MonitoredItem(
        source_key=source.key,
        external_id=raw.external_id,
        topic_key=a.topics[0] if a.topics else "",
        topics=a.topics,
        url=raw.url,
        title=raw.title,
        text=raw.text,
        author=raw.author,
        author_followers=raw.author_followers,
        engagement=raw.engagement,
        reposts=raw.reposts,
        published_at=raw.published_at,
        ingested_at=now,
        sentiment=a.sentiment.value,
        sentiment_score=round(a.score, 4),
        confidence=round(a.confidence, 4),
        risk_level=risk.level.value,
        priority=risk.priority,
        impact=risk.impact.value,
        likelihood=risk.likelihood.value,
        reasons=risk.reasons,
        matched_terms=a.terms,
        watch_status="pending" if a.watch_reason else "",
        watch_reason=a.watch_reason,
    )


def active_topics(session: Session) -> list[TopicSpec]:
    rows = session.exec(select(MonitorTopic).where(MonitorTopic.active == True)).all()  # noqa: E712
    return [TopicSpec.model_validate(r.spec) for r in rows]


def recent_traffic(session: Session, now: datetime) -> dict[str, tuple[int, int]]:
    since = now - timedelta(hours=1)
    negative = case((col(MonitoredItem.sentiment) == "negative", 1), else_=0)
    rows = session.exec(
        select(MonitoredItem.topic_key, func.count(), func.sum(negative))
        .where(col(MonitoredItem.ingested_at) >= since, MonitoredItem.topic_key != "")
        .group_by(col(MonitoredItem.topic_key))
    ).all()
    return {k: (int(n), int(neg or 0)) for k, n, neg in rows}


def ingest(
    session: Session,
    source: MonitorSource,
    items: list[RawItem],
    now: datetime,
    *,
    analyzer: Analyzer | None = None,
    keep_unmatched: bool = True,
) -> IngestResult:
    """Analyse and store a batch; items already stored for this source are skipped (idempotent)."""
    result = IngestResult()
    unique: dict[str, RawItem] = {}
    for item in items:
        unique.setdefault(item.external_id, item)
    existing = set(
        session.exec(
            select(MonitoredItem.external_id).where(
                MonitoredItem.source_key == source.key, col(MonitoredItem.external_id).in_(list(unique))
            )
        ).all()
    )
    result.duplicates = len(items) - len(unique) + len(existing)
    fresh = [i for k, i in unique.items() if k not in existing]
    if not fresh:
        return result
    analyzer = analyzer or Analyzer(active_topics(session), load_matrix(session))
    rows = analyzer.analyse(source, fresh, recent_traffic(session, now), keep_unmatched, now)
    try:
        with session.begin_nested():
            session.add_all(rows)
    except IntegrityError:  # a concurrent redelivery won the race: insert one by one
        kept = []
        for row in rows:
            fresh_row = MonitoredItem.model_validate(row.model_dump(exclude={"id"}))
            try:
                with session.begin_nested():
                    session.add(fresh_row)
                kept.append(fresh_row)
            except IntegrityError:
                result.duplicates += 1
        rows = kept
    session.flush()
    for row in rows:
        assert row.id is not None
        result.stored.append(row.id)
        if row.watch_status:
            result.watch += 1
        if row.risk_level == RiskLevel.high.value and row.topic_key:
            result.high_risk[row.topic_key].append(row.id)
    return result


def sentiment_corrections(session: Session) -> list[tuple[int, str]]:
    """(label, text) per item whose sentiment a person corrected to positive (1) or negative (0): the latest
    correction of each item counts; corrections to neutral teach the two-way model nothing and are left out."""
    rows = session.exec(
        select(LabelCorrection)
        .where(LabelCorrection.field == "sentiment")
        .order_by(col(LabelCorrection.item_id), col(LabelCorrection.id))
    ).all()
    latest = {row.item_id: row for row in rows}
    return [
        (1 if row.human_value == "positive" else 0, row.text)
        for row in latest.values()
        if row.human_value in ("positive", "negative") and row.text.strip()
    ]


def topic_by_key(session: Session, key: str) -> MonitorTopic | None:
    return session.exec(select(MonitorTopic).where(MonitorTopic.key == key)).first()


def source_by_key(session: Session, key: str) -> MonitorSource | None:
    return session.exec(select(MonitorSource).where(MonitorSource.key == key)).first()


def all_topics(session: Session) -> list[MonitorTopic]:
    """Every topic, active or not, in creation order."""
    return list(session.exec(select(MonitorTopic).order_by(col(MonitorTopic.id))).all())


def all_sources(session: Session) -> list[MonitorSource]:
    """Every source, in creation order."""
    return list(session.exec(select(MonitorSource).order_by(col(MonitorSource.id))).all())


def topic_stats(session: Session, key: str, since: datetime | None, limit: int) -> list[TopicStat]:
    """The topic's per-sweep statistics from ``since``, newest first."""
    stmt = select(TopicStat).where(TopicStat.topic_key == key)
    if since:
        stmt = stmt.where(col(TopicStat.window_start) >= since)
    return list(session.exec(stmt.order_by(col(TopicStat.window_start).desc()).limit(limit)).all())


def items(
    session: Session,
    *,
    topic: str | None,
    risk: RiskLevel | None,
    sentiment: Sentiment | None,
    source: str | None,
    since: datetime | None,
    until: datetime | None,
    watch: bool | None,
    limit: int,
) -> list[MonitoredItem]:
    """Stored items matching every given filter (``watch``: only those awaiting a person); newest first."""
    stmt = select(MonitoredItem)
    if topic:
        stmt = stmt.where(MonitoredItem.topic_key == topic)
    if risk:
        stmt = stmt.where(MonitoredItem.risk_level == risk.value)
    if sentiment:
        stmt = stmt.where(MonitoredItem.sentiment == sentiment.value)
    if source:
        stmt = stmt.where(MonitoredItem.source_key == source)
    if since:
        stmt = stmt.where(col(MonitoredItem.ingested_at) >= since)
    if until:
        stmt = stmt.where(col(MonitoredItem.ingested_at) < until)
    if watch is not None:
        stmt = stmt.where(MonitoredItem.watch_status == "pending") if watch else stmt
    return list(session.exec(stmt.order_by(col(MonitoredItem.id).desc()).limit(limit)).all())


def watch_queue(session: Session, limit: int) -> list[MonitoredItem]:
    """Items awaiting a person, by priority then arrival."""
    return list(
        session.exec(
            select(MonitoredItem)
            .where(MonitoredItem.watch_status == "pending")
            .order_by(col(MonitoredItem.priority), col(MonitoredItem.id))
            .limit(limit)
        ).all()
    )
