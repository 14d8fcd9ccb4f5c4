"""Request and response bodies of the ``drills`` routes: *Create / *Update for what comes in, *Public for what goes out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from domain.emergency import DrillScenario
from domain.kernel import TimeZoneName


class DrillCalendar(BaseModel):
    months: list[Annotated[int, Field(ge=1, le=12)]] = Field(
        default_factory=lambda: [3, 6, 9, 12], min_length=1, max_length=12, description="1–12"
    )
    day_of_month: int = Field(default=15, ge=1, le=31)
    hour: int = Field(default=10, ge=0, le=23)
    minute: int = Field(default=0, ge=0, le=59)


class DrillScheduleCreate(BaseModel):
    key: str = Field(min_length=1, max_length=50, pattern=r"^[a-z0-9-]+$")
    scenario: DrillScenario
    calendar: DrillCalendar = Field(default_factory=DrillCalendar)
    timezone: TimeZoneName = "Asia/Shanghai"
    note: str = Field(default="", max_length=500)


class DrillSchedulePublic(BaseModel):
    key: str
    schedule_id: str
    paused: bool
    note: str
    next_runs: list[datetime]
    recent_runs: list[str]


class NoteIn(BaseModel):
    note: str = Field(default="", max_length=500)


class DrillPublic(BaseModel):
    incident_id: int
    title: str
    stage: str
    level: str
    started_at: datetime
    scenario: dict[str, Any] | None
    scorecard: dict[str, Any] | None
