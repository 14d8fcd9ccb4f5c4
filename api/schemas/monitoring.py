"""Request and response bodies of the ``monitoring`` routes: *Create / *Update for what comes in, *Public for what goes out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from domain.monitoring import Authority, RawItem, TopicSpec
from domain.risk import RiskLevel
from domain.sentiment import Sentiment


class TopicPublic(BaseModel):
    key: str
    active: bool
    spec: TopicSpec
    created_at: datetime
    updated_at: datetime


class StatPublic(BaseModel):
    window_start: datetime
    volume: int
    negative: int
    high_risk: int
    spike: bool
    detail: dict[str, Any]


class SourceCreate(BaseModel):
    key: str = Field(min_length=1, max_length=50, pattern=r"^[a-z0-9-]+$")
    kind: str = Field(pattern=r"^(rss|webhook|platform|manual)$")
    name: str = Field(default="", max_length=200)
    url: str = Field(
        default="",
        max_length=1000,
        description="rss: the feed URL; platform: sandbox://weibo, or account://weibo/<handle> for a connected account",
    )
    authority: Authority = Authority.individual


class SourcePublic(BaseModel):
    key: str
    kind: str
    name: str
    url: str
    authority: str
    active: bool
    secret: str | None = Field(default=None, description="webhook sources: the HMAC secret, shown once")


class IngestPublic(BaseModel):
    stored: int
    duplicates: int
    watch: int
    high_risk: dict[str, list[int]]


class WebhookIn(BaseModel):
    """The signed body of ``POST /monitoring/ingest/{source}``."""

    items: list[RawItem] = Field(max_length=1000)


class ItemsCreate(BaseModel):
    items: list[RawItem] = Field(min_length=1, max_length=100)
    authority: Authority = Authority.individual


class MonitoredItemPublic(BaseModel):
    id: int
    source_key: str
    external_id: str
    topic_key: str
    topics: list[str]
    url: str
    title: str
    text: str
    author: str
    ingested_at: datetime
    published_at: datetime | None
    sentiment: str
    sentiment_score: float
    confidence: float
    risk_level: str
    priority: str
    impact: str
    likelihood: str
    reasons: list[str]
    matched_terms: list[str]
    watch_status: str
    watch_reason: str
    reviewed_by: str
    incident_id: int | None  # the first incident it was escalated to
    incidents: dict[str, int] = Field(default_factory=dict)  # topic → that topic's incident


class ReviewIn(BaseModel):
    sentiment: Sentiment | None = None
    risk_level: RiskLevel | None = None
    note: str = Field(default="", max_length=2000)
