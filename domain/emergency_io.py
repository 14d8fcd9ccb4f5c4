"""Inputs and outputs of the emergency workflow's activities (one model per activity, STYLE 1)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from domain.emergency import StatementVariant


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
    variants: dict[str, StatementVariant] = {}  # channel → its adapted title and text (approved with it)


class PostmortemInput(BaseModel):
    incident_id: int
    postmortem: dict[str, object]
    plan_revision: dict[str, object] | None = None
    actor: str
