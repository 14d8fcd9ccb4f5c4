"""Request and response bodies of the ``incidents`` routes: *Create / *Update for what comes in, *Public for what goes out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, model_validator

from domain.emergency import (
    Evidence,
    IncidentPlan,
    IncidentState,
    StatementKind,
    Truth,
)
from domain.risk import Impact, Likelihood
from domain.roles import Role


class IncidentCreate(BaseModel):
    title: str = Field(min_length=1, max_length=500)
    description: str = Field(default="", max_length=10000)
    evidence: list[Evidence] = Field(default_factory=list, max_length=50)
    topic: str = Field(default="", max_length=200)


class IncidentPublic(BaseModel):
    id: int
    title: str
    mode: str
    level: str
    stage: str
    commander: str
    reported_by: str
    created_at: datetime
    resolved_at: datetime | None
    figures: dict[str, Any] | None
    process: str = Field(
        default="started",
        description="started, or starting: recorded, its process starts within a minute (Temporal was busy)",
    )


class IncidentDetailPublic(IncidentPublic):
    description: str
    evidence: list[dict[str, Any]]
    topic: str
    timeline: list[dict[str, Any]]
    postmortem: dict[str, Any] | None
    drill_scenario: dict[str, Any] | None
    state: IncidentState | None
    state_error: str | None = None


class ConfirmIn(BaseModel):
    truth: Truth
    scope: str = Field(default="", max_length=2000)
    impact: Impact
    likelihood: Likelihood
    note: str = Field(default="", max_length=2000)


class MemberCreate(BaseModel):
    user: str = Field(min_length=1, max_length=64)
    role: Role


class AssessIn(BaseModel):
    nature: str = Field(min_length=1, max_length=2000)
    trend: str = Field(default="", max_length=2000)
    likely_impact: str = Field(default="", max_length=2000)
    impact: Impact | None = None
    likelihood: Likelihood | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> AssessIn:
        if (self.impact is None) != (self.likelihood is None):
            missing = "likelihood" if self.likelihood is None else "impact"
            raise ValueError(f"{missing}: give impact and likelihood together to re-level")
        return self


class StatementCreate(BaseModel):
    kind: StatementKind
    template_key: str = Field(default="", max_length=64)
    values: dict[str, str] = Field(default_factory=dict, description="Placeholder values for the template")
    text: str = Field(default="", max_length=5000, description="The (edited) text; empty: fill the template")
    channels: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _text_or_template(self) -> StatementCreate:
        if not self.text.strip() and not self.template_key:
            raise ValueError("text: give the statement text or a template_key with values")
        return self


class ApproveIn(BaseModel):
    text_hash: str = Field(min_length=64, max_length=64)


class TaskCreate(BaseModel):
    kind: str = Field(min_length=1, max_length=32, pattern=r"^[a-z_]+$")
    title: str = Field(min_length=1, max_length=500)
    owner: str = Field(min_length=1, max_length=64)
    due_in_minutes: int = Field(ge=1, le=60 * 24 * 90)
    required: bool = True


class TaskDoneIn(BaseModel):
    note: str = Field(default="", max_length=2000)


class TaskReassignIn(BaseModel):
    owner: str = Field(min_length=1, max_length=64, description="An active user's name")
    note: str = Field(default="", max_length=2000)


class ResolveIn(BaseModel):
    summary: str = Field(min_length=1, max_length=5000)
    waive_reason: str = Field(default="", max_length=2000)


class ActionItemCreate(BaseModel):
    title: str = Field(min_length=1, max_length=500)
    kind: str = Field(default="improvement", pattern=r"^(plan_revision|training|improvement)$")
    owner: str = Field(min_length=1, max_length=64)
    due_in_days: int = Field(default=14, ge=1, le=365)


class PostmortemCreate(BaseModel):
    causes: str = Field(min_length=1, max_length=10000)
    went_well: str = Field(default="", max_length=10000)
    went_badly: str = Field(default="", max_length=10000)
    lessons: str = Field(default="", max_length=10000)
    action_items: list[ActionItemCreate] = Field(default_factory=list, max_length=50)
    plan_revision: IncidentPlan | None = None


class OverrideIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)
