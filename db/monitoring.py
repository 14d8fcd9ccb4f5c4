"""Storage of monitoring: a batch analysed (domain/monitoring/analysis.py) is stored deduplicated, with its
watch queue, topic statistics and the queries the API and activities use."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from db import outbox
from db.emergency import matrix as load_matrix
from db.models import LabelCorrection, MonitoredItem, MonitoredItemTopic, MonitorSource, MonitorTopic, TopicStat
from domain import ids
from domain.monitoring import Authority, RawItem, TopicSpec
from domain.monitoring.analysis import Analysis, Analyzer
from domain.monitoring_io import HighRisk, MonitorInput
from domain.risk import RiskLevel
from domain.sentiment import Sentiment


@dataclass
class IngestResult:
    stored: list[int] = field(default_factory=list)
    duplicates: int = 0
    high_risk: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    watch: int = 0


def analyse(
    analyzer: Analyzer,
    source: MonitorSource,
    items: list[RawItem],
    recent: dict[str, tuple[int, int]],
    keep_unmatched: bool,
    now: datetime,
) -> list[MonitoredItem]:
    """The rows a batch from ``source`` becomes (the analysis itself is pure: domain/monitoring/analysis.py)."""
    authority = Authority(source.authority) if source.authority in Authority.__members__ else Authority.individual
    return [to_row(source, a, now) for a in analyzer.analyse_items(items, authority, recent, keep_unmatched, now)]


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
    """Per topic, items and negative items of the last hour (every topic an item matches counts it)."""
    return topic_counts(session, now - timedelta(hours=1), None)


def topic_counts(
    session: Session, after: datetime, until: datetime | None, topic: str | None = None
) -> dict[str, tuple[int, int]]:
    """Per topic, (items, negative items) ingested in ``(after, until]`` — swept, pushed and entered by
    hand alike; an item matching several topics counts in each."""
    negative = case((col(MonitoredItem.sentiment) == "negative", 1), else_=0)
    stmt = (
        select(MonitoredItemTopic.topic_key, func.count(), func.sum(negative))
        .join(MonitoredItem, col(MonitoredItem.id) == col(MonitoredItemTopic.item_id))
        .where(col(MonitoredItemTopic.ingested_at) > after)
    )
    if until is not None:
        stmt = stmt.where(col(MonitoredItemTopic.ingested_at) <= until)
    if topic is not None:
        stmt = stmt.where(MonitoredItemTopic.topic_key == topic)
    rows = session.exec(stmt.group_by(col(MonitoredItemTopic.topic_key))).all()
    return {k: (int(n), int(neg or 0)) for k, n, neg in rows}


def high_risk_in(session: Session, topic: str, after: datetime, until: datetime) -> int:
    """High-risk items of ``topic`` ingested in ``(after, until]`` (for the sweep's statistics)."""
    return int(
        session.exec(
            select(func.count())
            .select_from(MonitoredItemTopic)
            .join(MonitoredItem, col(MonitoredItem.id) == col(MonitoredItemTopic.item_id))
            .where(
                MonitoredItemTopic.topic_key == topic,
                col(MonitoredItemTopic.ingested_at) > after,
                col(MonitoredItemTopic.ingested_at) <= until,
                MonitoredItem.risk_level == RiskLevel.high.value,
            )
        ).one()
    )


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
    rows = analyse(analyzer, source, fresh, recent_traffic(session, now), keep_unmatched, now)
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
    links = []
    for row in rows:
        assert row.id is not None
        result.stored.append(row.id)
        links += [
            {"item_id": row.id, "topic_key": key, "ingested_at": row.ingested_at}
            for key in dict.fromkeys(row.topics)
        ]
        if row.watch_status:
            result.watch += 1
        if row.risk_level == RiskLevel.high.value:
            for key in dict.fromkeys(row.topics):  # escalated for every topic it matches
                result.high_risk[key].append(row.id)
    if links:  # one executemany, not an ORM object per link
        session.execute(insert(MonitoredItemTopic), links)
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
    """Stored items matching every given filter (``watch``: true only those awaiting a person, false only
    those not awaiting one); newest first."""
    stmt = select(MonitoredItem)
    if topic:  # every item that matches the topic, not only those where it came first
        stmt = stmt.where(col(MonitoredItem.id).in_(in_topic(topic)))
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
    if watch is True:
        stmt = stmt.where(MonitoredItem.watch_status == "pending")
    elif watch is False:
        stmt = stmt.where(MonitoredItem.watch_status != "pending")
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


def in_topic(topic: str) -> Any:
    """The ids of the items that match ``topic`` (a subquery)."""
    return select(MonitoredItemTopic.item_id).where(MonitoredItemTopic.topic_key == topic)


def mark_escalated(session: Session, topic: str, item_ids: list[int], incident_id: int) -> list[MonitoredItem]:
    """Record that the items went to the topic's incident (per topic; the item keeps its first incident)."""
    links = session.exec(
        select(MonitoredItemTopic).where(
            MonitoredItemTopic.topic_key == topic, col(MonitoredItemTopic.item_id).in_(item_ids)
        )
    ).all()
    for link in links:
        link.incident_id = incident_id
        session.add(link)
    rows = list(session.exec(select(MonitoredItem).where(col(MonitoredItem.id).in_(item_ids))).all())
    for r in rows:
        r.incident_id = r.incident_id or incident_id
        session.add(r)
    return rows


def record_escalations(session: Session, high_risk: dict[str, list[int]], skip: str = "") -> list[str]:
    """High-risk items go to each matching topic's monitoring workflow (all but ``skip``, the caller's own):
    a ``high_risk`` signal-with-start recorded in the caller's transaction (db/outbox.py), so an escalation
    survives a failed signal. Returns the outbox keys to dispatch."""
    keys = []
    for key, item_ids in sorted(high_risk.items()):
        row = topic_by_key(session, key)
        if row is None or key == skip or not item_ids:
            continue
        spec = TopicSpec.model_validate(row.spec)
        wid = ids.monitor(key)
        batch = hashlib.sha256(",".join(map(str, sorted(item_ids))).encode()).hexdigest()[:16]
        rec = outbox.add_signal(
            session,
            f"{wid}:high_risk:{batch}",
            wid,
            "MonitoringWorkflow",
            MonitorInput(spec=spec),
            "high_risk",
            HighRisk(item_ids=item_ids),
            summary=f"舆情监测：{spec.name}",
        )
        keys.append(rec.key)
    return keys


def incidents_of(session: Session, item_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per item, each topic's incident it was escalated to (an item may feed one incident per topic)."""
    if not item_ids:
        return {}
    rows = session.exec(
        select(MonitoredItemTopic).where(
            col(MonitoredItemTopic.item_id).in_(item_ids), col(MonitoredItemTopic.incident_id).is_not(None)
        )
    ).all()
    out: dict[int, dict[str, int]] = {}
    for r in rows:
        assert r.incident_id is not None
        out.setdefault(r.item_id, {})[r.topic_key] = r.incident_id
    return out
