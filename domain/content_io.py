"""Inputs and outputs of the content workflow's activities (one model per activity, STYLE 1)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from domain.content import AdaptedVariant, EffectSummary, PublicationRecord, Stage, VersionContent


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
    incident_id: str = ""  # the latest holder, when it is an incident
    holders: list[str] = []  # every holder: incident workflow ids, "manual"


HOLD_RELEASED_SIGNAL = "hold_released_signal"  # ContentWorkflow's signal: the hold was lifted, ask ops_head


class PublishInput(BaseModel):
    content_id: int
    version: int
    variant: AdaptedVariant
    idempotency_key: str
    at: datetime


class PublishStatusInput(BaseModel):
    """One poll of an asynchronous publish job (WeChat freepublish/get)."""

    content_id: int
    publication: PublicationRecord
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
