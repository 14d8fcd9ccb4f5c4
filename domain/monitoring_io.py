"""Payloads of the monitoring workflow and its activities."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from domain.monitoring import TopicSpec


class MonitorInput(BaseModel):
    spec: TopicSpec
    pending: list[int] = Field(default_factory=list)
    sweeps: int = 0
    escalations: int = 0
    continue_after: int = 500


class HighRisk(BaseModel):
    item_ids: list[int]


class SweepInput(BaseModel):
    spec: TopicSpec
    window_start: datetime
    now: datetime


class SweepResult(BaseModel):
    fetched: int = 0
    stored: int = 0
    duplicates: int = 0
    negative: int = 0
    high_risk_ids: list[int] = Field(default_factory=list)
    spike: bool = False
    spike_detail: str = ""
    errors: list[str] = Field(default_factory=list)


class EscalateInput(BaseModel):
    topic_key: str
    topic_name: str
    item_ids: list[int]


class EscalateResult(BaseModel):
    incident_id: int
    created: bool
    attached: int


class MonitorState(BaseModel):
    spec: TopicSpec
    sweeps: int
    escalations: int
    last_sweep: datetime | None = None
    next_sweep: datetime | None = None
    last_incident_id: int | None = None
    last_result: SweepResult | None = None
    stopped: bool = False
