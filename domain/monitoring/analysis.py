"""The monitoring analysis pipeline, pure and batched: match every topic in one pass → sentiment →
risk with reasons → the watch queue's reason. No database: db/monitoring.py stores what it returns."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

from domain.monitoring.items import Authority, RawItem
from domain.monitoring.risk import ItemSignals, RiskAssessment, assess
from domain.monitoring.topics import TopicScanner, TopicSpec
from domain.risk import LEVEL_ORDER, RiskLevel, RiskMatrix
from domain.sentiment import Sentiment, SentimentModel, default_model

LOW_CONFIDENCE = 0.3


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
        sentiments = [
            # A reported harm (fire, smoke, poisoning …) told in a flat, news-like tone is still bad news: a
            # neutral reading becomes negative; a confident positive ("没有冒烟，放心") stays as it is.
            (Sentiment.negative, p, conf) if sc.safety and label is Sentiment.neutral else (label, p, conf)
            for sc, (label, p, conf) in zip(
                scans, self.model.classify([sc.opinion_text for sc in scans]), strict=True
            )
        ]
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


def repost_rate(raw: RawItem, now: datetime) -> float:
    """Reposts per hour since the item was published (0 when the source gives no publication time); an
    item younger than ten minutes counts as ten minutes old, so a fresh post is not an infinite rate."""
    if not raw.reposts or raw.published_at is None:
        return 0.0
    published = raw.published_at if raw.published_at.tzinfo else raw.published_at.replace(tzinfo=UTC)
    hours = max((now - published).total_seconds() / 3600, 1 / 6)
    return raw.reposts / hours
