"""SQLModel tables. Schema changes go through Alembic (db/migrations), never ``create_all`` in production.

Over 400 lines on purpose: every table in one module, which is what Alembic autogenerate compares.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Integer, Text, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every backend (SQLite hands back naive datetimes otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a timezone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, **kw))


def _ts_optional() -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True, index=True)
    display_name: str = Field(default="", max_length=128)
    active: bool = Field(default=True)
    created_at: datetime = _ts()
    # the calendar feed's random key, sealed (core/sealing.py); "" = none (revoked on deactivation)
    feed_key_sealed: str = Field(default="", max_length=200, sa_column_kwargs={"server_default": ""})


class UserRole(SQLModel, table=True):
    __tablename__ = "user_roles"
    __table_args__ = (UniqueConstraint("user_id", "role", name="uq_user_roles_user_role"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    role: str = Field(max_length=32)


class ApiToken(SQLModel, table=True):
    """Bearer tokens, stored only as SHA-256 hashes; ``prefix`` lets people tell tokens apart."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    token_hash: str = Field(max_length=64, unique=True, index=True)
    prefix: str = Field(max_length=16)
    label: str = Field(default="", max_length=128)
    created_at: datetime = _ts()
    last_used_at: datetime | None = _ts_optional()
    revoked_at: datetime | None = _ts_optional()


class AuditLog(SQLModel, table=True):
    """Append-only: a database trigger refuses UPDATE and DELETE (see the first migration)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_target", "target"), Index("ix_audit_log_at", "at"))

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts()
    actor_id: int | None = Field(default=None)
    actor_name: str = Field(max_length=64)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    action: str = Field(max_length=64, index=True)
    target: str = Field(max_length=128)
    request_id: str = Field(default="", max_length=64)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


# --- content lifecycle (R-4.1) -----------------------------------------------------------------------


class PlatformAccount(SQLModel, table=True):
    """An official account on a platform; ``connector`` names the adapter (``sandbox`` or a real one)."""

    __tablename__ = "platform_accounts"
    __table_args__ = (UniqueConstraint("platform", "handle", name="uq_platform_accounts_handle"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=32)
    handle: str = Field(max_length=100)
    display_name: str = Field(default="", max_length=200)
    connector: str = Field(default="sandbox", max_length=32)
    active: bool = Field(default=True)
    created_at: datetime = _ts()
    # App credentials and tokens, sealed (core/sealing.py, purpose ``platform-account-credentials``, bound
    # to ``platform-account:{id}``); empty until set. Never returned by the API.
    credentials_sealed: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    token_expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    status: str = Field(default="active", max_length=32, sa_column_kwargs={"server_default": "active"})
    status_reason: str = Field(default="", max_length=500, sa_column_kwargs={"server_default": ""})
    status_since: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class OAuthState(SQLModel, table=True):
    """An OAuth authorization in flight: the ``state`` sent to the platform, stored as its SHA-256 only."""

    __tablename__ = "oauth_states"

    id: int | None = Field(default=None, primary_key=True)
    state_hash: str = Field(max_length=64, unique=True, index=True)
    account_id: int = Field(index=True)
    redirect_uri: str = Field(max_length=1000)
    created_by: int | None = Field(default=None)
    created_by_name: str = Field(default="", max_length=64)
    created_at: datetime = _ts()
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class ContentItem(SQLModel, table=True):
    """Projection of a content workflow for lists, the calendar and reports (written by activities)."""

    __tablename__ = "content_items"

    id: int | None = Field(default=None, primary_key=True)
    workflow_id: str = Field(default="", max_length=100)
    title: str = Field(default="", max_length=500)
    owner_id: int = Field(index=True)
    owner_name: str = Field(max_length=64, index=True)
    goal: str = Field(max_length=32)
    audience: str = Field(default="", max_length=500)
    core_message: str = Field(default="", max_length=1000)
    theme: str = Field(default="", max_length=200)
    format: str = Field(max_length=32)
    targets: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    platforms: str = Field(default="", max_length=200, description="',weibo,douyin,' for filtering")
    publish_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    resources: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    kpi: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    stage: str = Field(default="draft", max_length=32, index=True)
    current_version: int = Field(default=1)
    version_hash: str = Field(default="", max_length=64)
    expedited: bool = Field(default=False)
    corrects_id: int | None = Field(default=None, foreign_key="content_items.id", index=True)
    summary: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class ContentVersion(SQLModel, table=True):
    """Immutable: one row per edit, bound to its content hash."""

    __tablename__ = "content_versions"
    __table_args__ = (UniqueConstraint("content_id", "number", name="uq_content_versions_number"),)

    id: int | None = Field(default=None, primary_key=True)
    content_id: int = Field(foreign_key="content_items.id", index=True)
    number: int
    hash: str = Field(max_length=64)
    title: str = Field(default="", max_length=500)
    content: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    author: str = Field(max_length=64)
    note: str = Field(default="", max_length=2000)
    created_at: datetime = _ts()


class ContentPublication(SQLModel, table=True):
    __tablename__ = "content_publications"

    id: int | None = Field(default=None, primary_key=True)
    content_id: int = Field(foreign_key="content_items.id", index=True)
    platform: str = Field(max_length=32)
    account: str = Field(max_length=100)
    idempotency_key: str = Field(max_length=200, unique=True)
    external_id: str = Field(default="", max_length=100)
    url: str = Field(default="", max_length=500)
    published_at: datetime | None = _ts_optional()
    confirmed: bool | None = Field(default=None)
    confirmation_note: str = Field(default="", max_length=1000)
    retracted_at: datetime | None = _ts_optional()
    retract_reason: str = Field(default="", max_length=2000)


class ContentMetric(SQLModel, table=True):
    __tablename__ = "content_metrics"
    __table_args__ = (
        UniqueConstraint("content_id", "platform", "account", "checkpoint", name="uq_content_metrics_checkpoint"),
    )

    id: int | None = Field(default=None, primary_key=True)
    content_id: int = Field(foreign_key="content_items.id", index=True)
    platform: str = Field(max_length=32)
    account: str = Field(max_length=100)
    checkpoint: str = Field(max_length=32)
    at: datetime = _ts()
    metrics: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class CrisisHold(SQLModel, table=True):
    """While active, scheduled posts wait in ``held`` (set by the emergency workflow or by hand)."""

    __tablename__ = "crisis_hold"

    id: int | None = Field(default=None, primary_key=True)
    active: bool = Field(default=False)
    reason: str = Field(default="", max_length=2000)
    set_by: str = Field(default="", max_length=64)
    incident_id: str = Field(default="", max_length=100)
    changed_at: datetime = _ts()


class CrisisHoldHolder(SQLModel, table=True):
    """Who holds the crisis hold: each active high incident (``incident-12``) or a person (``manual``).

    Publishing is held while any holder remains; the ``crisis_hold`` row mirrors the latest change.
    """

    __tablename__ = "crisis_hold_holders"

    holder: str = Field(primary_key=True, max_length=100)
    reason: str = Field(default="", max_length=2000)
    set_by: str = Field(default="", max_length=64)
    set_at: datetime = _ts()


class Notification(SQLModel, table=True):
    """What the system told people (reminders, escalations, alerts). Delivery channels come later."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_dedupe", "dedupe_key", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts()
    recipient_role: str = Field(default="", max_length=32, index=True)
    recipient_user: str = Field(default="", max_length=64, index=True)
    kind: str = Field(max_length=32)
    subject: str = Field(max_length=500)
    body: str = Field(default="", max_length=5000)
    ref: str = Field(default="", max_length=100, index=True)
    dedupe_key: str = Field(max_length=200)
    drill: bool = Field(default=False)
    delivered_at: datetime | None = _ts_optional()


class ComplianceTerm(SQLModel, table=True):
    __tablename__ = "compliance_terms"
    __table_args__ = (UniqueConstraint("term", "category", name="uq_compliance_terms"),)

    id: int | None = Field(default=None, primary_key=True)
    term: str = Field(max_length=100)
    category: str = Field(max_length=32)
    severity: str = Field(default="blocking", max_length=16)
    note: str = Field(default="", max_length=500)
    active: bool = Field(default=True)
    created_at: datetime = _ts()


# --- emergency response (R-5.1.6–) ------------------------------------------------------------


class IncidentPlanRow(SQLModel, table=True):
    """A versioned plan per risk level; an incident keeps the version it started with."""

    __tablename__ = "incident_plans"
    __table_args__ = (UniqueConstraint("level", "version", name="uq_incident_plans_version"),)

    id: int | None = Field(default=None, primary_key=True)
    level: str = Field(max_length=16, index=True)
    version: int
    content: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_by: str = Field(default="system", max_length=64)
    note: str = Field(default="", max_length=2000)
    created_at: datetime = _ts()


class StatementTemplateRow(SQLModel, table=True):
    """Statement library (R-5.1.7): versions; only versions approved by risk_compliance can be used."""

    __tablename__ = "statement_templates"
    __table_args__ = (UniqueConstraint("key", "version", name="uq_statement_templates_version"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, index=True)
    version: int
    scenario: str = Field(max_length=200)
    level: str = Field(max_length=16)
    title: str = Field(max_length=200)
    body: str = Field(max_length=5000)
    status: str = Field(default="draft", max_length=16)
    created_by: str = Field(default="system", max_length=64)
    approved_by: str = Field(default="", max_length=64)
    approved_at: datetime | None = _ts_optional()
    created_at: datetime = _ts()


class RiskMatrixRow(SQLModel, table=True):
    __tablename__ = "risk_matrix"

    id: int | None = Field(default=None, primary_key=True)
    cells: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    priority: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    updated_by: str = Field(default="system", max_length=64)
    updated_at: datetime = _ts()


class Incident(SQLModel, table=True):
    __tablename__ = "incidents"

    id: int | None = Field(default=None, primary_key=True)
    workflow_id: str = Field(default="", max_length=100)
    title: str = Field(max_length=500)
    description: str = Field(default="", max_length=10000)
    topic: str = Field(default="", max_length=200, index=True)
    mode: str = Field(default="real", max_length=16, index=True)
    level: str = Field(default="", max_length=16, index=True)
    stage: str = Field(default="confirming", max_length=32, index=True)
    commander: str = Field(default="", max_length=64)
    reported_by: str = Field(max_length=64)
    evidence: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    figures: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    postmortem: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    drill_scenario: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    resolved_at: datetime | None = _ts_optional()


class IncidentEvent(SQLModel, table=True):
    """The incident's timeline, one row per step (decision, page, acknowledgement, statement …)."""

    __tablename__ = "incident_events"
    __table_args__ = (UniqueConstraint("incident_id", "seq", name="uq_incident_events_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", index=True)
    seq: int
    at: datetime = _ts()
    kind: str = Field(max_length=64)
    actor: str = Field(max_length=64)
    detail: str = Field(default="", max_length=5000)


# --- public-opinion monitoring (R-5.1.1–) ----------------------------------------------------------


class MonitorTopic(SQLModel, table=True):
    __tablename__ = "monitor_topics"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=50, unique=True, index=True)
    spec: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    active: bool = Field(default=True)
    spike_state: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class MonitorSource(SQLModel, table=True):
    __tablename__ = "monitor_sources"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=50, unique=True, index=True)
    kind: str = Field(max_length=16)  # rss | webhook | platform | manual
    name: str = Field(default="", max_length=200)
    url: str = Field(default="", max_length=1000)
    authority: str = Field(default="individual", max_length=16)
    secret: str = Field(default="", max_length=200)
    active: bool = Field(default=True)
    created_at: datetime = _ts()


class MonitoredItem(SQLModel, table=True):
    """One stored, labelled item; unique per source and external id (redeliveries store nothing new)."""

    __tablename__ = "monitored_items"
    __table_args__ = (
        UniqueConstraint("source_key", "external_id", name="uq_monitored_items_external"),
        Index("ix_monitored_items_topic_time", "topic_key", "ingested_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source_key: str = Field(max_length=50)
    external_id: str = Field(max_length=200)
    topic_key: str = Field(default="", max_length=50)
    topics: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    url: str = Field(default="", max_length=1000)
    title: str = Field(default="", max_length=500)
    text: str = Field(default="", max_length=20000)
    author: str = Field(default="", max_length=200)
    author_followers: int = Field(default=0)
    engagement: int = Field(default=0)
    reposts: int = Field(default=0)
    published_at: datetime | None = _ts_optional()
    ingested_at: datetime = _ts()
    sentiment: str = Field(max_length=16, index=True)
    sentiment_score: float = Field(default=0.5)
    confidence: float = Field(default=0.0)
    risk_level: str = Field(max_length=16, index=True)
    priority: str = Field(default="", max_length=8)
    impact: str = Field(default="", max_length=16)
    likelihood: str = Field(default="", max_length=16)
    reasons: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    matched_terms: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    watch_status: str = Field(default="", max_length=16, index=True)  # "" | pending | confirmed | corrected
    watch_reason: str = Field(default="", max_length=200)
    reviewed_by: str = Field(default="", max_length=64)
    reviewed_at: datetime | None = _ts_optional()
    incident_id: int | None = Field(default=None)


class MonitoredItemTopic(SQLModel, table=True):
    """An item belongs to every topic it matches: lists, statistics, spikes and escalation count it in each
    (``MonitoredItem.topic_key`` is only the first, kept for display)."""

    __tablename__ = "monitored_item_topics"
    __table_args__ = (Index("ix_monitored_item_topics_time", "topic_key", "ingested_at"),)

    item_id: int = Field(foreign_key="monitored_items.id", primary_key=True)
    topic_key: str = Field(max_length=50, primary_key=True)
    ingested_at: datetime = _ts()
    incident_id: int | None = Field(default=None)  # the topic's incident it was escalated to


class LabelCorrection(SQLModel, table=True):
    """A person's correction of a machine label, kept for retraining."""

    __tablename__ = "label_corrections"

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="monitored_items.id", index=True)
    field: str = Field(max_length=32)
    machine_value: str = Field(max_length=32)
    human_value: str = Field(max_length=32)
    text: str = Field(default="", max_length=20000)
    by: str = Field(max_length=64)
    at: datetime = _ts()


class TopicStat(SQLModel, table=True):
    __tablename__ = "topic_stats"
    __table_args__ = (UniqueConstraint("topic_key", "window_start", name="uq_topic_stats_window"),)

    id: int | None = Field(default=None, primary_key=True)
    topic_key: str = Field(max_length=50, index=True)
    window_start: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    volume: int = Field(default=0)
    negative: int = Field(default=0)
    high_risk: int = Field(default=0)
    spike: bool = Field(default=False)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class TopicIncident(SQLModel, table=True):
    """At most one open incident per topic: the primary key is the lock."""

    __tablename__ = "topic_incidents"

    topic_key: str = Field(primary_key=True, max_length=50)
    incident_id: int
    opened_at: datetime = _ts()


# --- engagement inbox (R-4.2, R-2.2) -----------------------------------------------------------------------


class Interaction(SQLModel, table=True):
    """Projection of one comment / reply / DM / mention and its handling."""

    __tablename__ = "interactions"
    __table_args__ = (UniqueConstraint("platform", "external_id", name="uq_interactions_external"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=32)
    account: str = Field(max_length=100)
    external_id: str = Field(max_length=200)
    kind: str = Field(max_length=16)
    author: str = Field(default="", max_length=200)
    author_followers: int = Field(default=0)
    text: str = Field(max_length=10000)
    intent: str = Field(max_length=16, index=True)
    sentiment: str = Field(max_length=16, index=True)
    priority: str = Field(max_length=16)
    reasons: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="new", max_length=24, index=True)
    assignee: str = Field(default="", max_length=64, index=True)
    workflow_id: str = Field(default="", max_length=200)
    received_at: datetime = _ts()
    sla_due_at: datetime | None = _ts_optional()
    first_response_at: datetime | None = _ts_optional()
    resolved_at: datetime | None = _ts_optional()
    hidden: bool = Field(default=False)
    # automated replies (off-hours acknowledgement, thank-you, FAQ answer) are not first responses
    first_bot_reply_at: datetime | None = _ts_optional()
    bot_replies: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))


class FaqRow(SQLModel, table=True):
    __tablename__ = "faq_entries"

    id: int | None = Field(default=None, primary_key=True)
    question: str = Field(max_length=1000)
    answer: str = Field(max_length=5000)
    keywords: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    active: bool = Field(default=True)
    created_by: str = Field(default="system", max_length=64)
    from_interaction: int | None = Field(default=None)
    created_at: datetime = _ts()


class ReplyTemplate(SQLModel, table=True):
    __tablename__ = "reply_templates"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, unique=True)
    body: str = Field(max_length=5000)
    created_at: datetime = _ts()


class Shift(SQLModel, table=True):
    """A rota entry. Its id is never reused (AUTOINCREMENT on SQLite; sequences on PostgreSQL): a deleted
    shift's id cannot come back as someone else's."""

    __tablename__ = "shifts"
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    user: str = Field(max_length=64, index=True)
    starts_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ends_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class FeedbackRecord(SQLModel, table=True):
    __tablename__ = "feedback_records"

    id: int | None = Field(default=None, primary_key=True)
    interaction_id: int = Field(foreign_key="interactions.id", index=True)
    category: str = Field(max_length=64)
    department: str = Field(max_length=64, index=True)
    summary: str = Field(default="", max_length=5000)
    status: str = Field(default="open", max_length=16, index=True)
    due_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    outcome: str = Field(default="", max_length=5000)
    resolved_by: str = Field(default="", max_length=64)
    resolved_at: datetime | None = _ts_optional()
    user_told_at: datetime | None = _ts_optional()
    created_at: datetime = _ts()


class InboxPolicyRow(SQLModel, table=True):
    __tablename__ = "inbox_policy"

    id: int | None = Field(default=None, primary_key=True)
    policy: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    updated_by: str = Field(default="system", max_length=64)
    updated_at: datetime = _ts()


# --- record and process born together (outbox) --------------------------------------------------------------


class ProcessStart(SQLModel, table=True):
    """A workflow start (or signal-with-start) written in the same transaction as the record it belongs to.

    The API dispatches it right after the commit; the reconciler Schedule dispatches whatever is still
    pending (a crash, Temporal unavailable). Starting is idempotent — the workflow id is derived from the
    record, and a running or finished workflow with that id counts as started — so dispatching twice is
    harmless and an item is processed exactly once.
    """

    __tablename__ = "process_starts"
    __table_args__ = (Index("ix_process_starts_pending", "dispatched_at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=300, unique=True)  # the workflow id, or id + signal + batch for a signal
    workflow_id: str = Field(max_length=200, index=True)
    workflow: str = Field(max_length=100)  # the workflow type name
    input: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    summary: str = Field(default="", max_length=200)
    signal: str = Field(default="", max_length=64)
    signal_input: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    reuse_closed_id: bool = Field(default=False)  # a signal to a long-lived process may restart it
    created_at: datetime = _ts()
    dispatched_at: datetime | None = _ts_optional()
    attempts: int = Field(default=0)
    last_error: str = Field(default="", max_length=2000)
