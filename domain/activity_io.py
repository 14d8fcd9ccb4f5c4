"""Inputs and outputs of activities shared by several workflows."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from domain.content import (
    AdaptedVariant,
    EffectSummary,
    PublicationRecord,
    Stage,
    VersionContent,
)


class NotifyInput(BaseModel):
    kind: str  # reminder | escalation | alert | info
    subject: str
    body: str = ""
    recipient_role: str = ""
    recipient_user: str = ""
    ref: str = ""
    dedupe_key: str
    drill: bool = False


class ProjectionUpdate(BaseModel):
    content_id: int
    stage: Stage
    version: int
    version_hash: str
    title: str
    publish_at: datetime
    summary: EffectSummary | None = None


class SaveVersionInput(BaseModel):
    content_id: int
    number: int
    hash: str
    content: VersionContent
    author: str
    note: str = ""


class HoldStatus(BaseModel):
    active: bool
    reason: str = ""
    incident_id: str = ""


class PublishInput(BaseModel):
    content_id: int
    version: int
    variant: AdaptedVariant
    idempotency_key: str
    at: datetime


class ConfirmInput(BaseModel):
    content_id: int
    publication: PublicationRecord
    expected_title: str
    expected_text: str


class MetricsInput(BaseModel):
    content_id: int
    publication: PublicationRecord
    checkpoint: str
    at: datetime


class RetractInput(BaseModel):
    content_id: int
    publication: PublicationRecord
    reason: str
    at: datetime


# --- emergency response ------------------------------------------------------------------------------


class IncidentProjection(BaseModel):
    incident_id: int
    stage: str
    level: str = ""
    commander: str = ""
    figures: dict[str, object] | None = None
    resolved_at: datetime | None = None


class EventInput(BaseModel):
    incident_id: int
    seq: int
    at: datetime
    kind: str
    actor: str
    detail: str = ""


class RosterInput(BaseModel):
    roles: list[str]


class HoldInput(BaseModel):
    active: bool
    reason: str
    incident_id: str
    actor: str


class StatementPublishInput(BaseModel):
    incident_id: int
    statement_id: int
    title: str
    text: str
    channels: list[str]
    drill: bool
    at: datetime


class ChannelResult(BaseModel):
    channel: str
    ok: bool
    external_id: str = ""
    url: str = ""
    error: str = ""


class PostmortemInput(BaseModel):
    incident_id: int
    postmortem: dict[str, object]
    plan_revision: dict[str, object] | None = None
    actor: str
