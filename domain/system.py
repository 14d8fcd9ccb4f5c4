"""Payloads of the system processes: the self-check and the outbox reconciler."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from pydantic import BaseModel


class SystemCheckInput(BaseModel):
    requested_by: str = "system"


class DatabaseCheckResult(BaseModel):
    ok: bool
    dialect: str
    migration: str | None
    users: int


class SystemCheckResult(BaseModel):
    worker_identity: str
    database: DatabaseCheckResult


class ReconcileInput(BaseModel):
    """The reconciler's sweep: outbox rows older than ``grace`` are dispatched."""

    grace: timedelta = timedelta(seconds=30)


class ReconcileResult(BaseModel):
    started: list[str] = []
    failed: list[str] = []


class DailyChecksInput(BaseModel):
    """``socialops-daily-checks``: what the team must fix before it bites (today: the inbox's holiday data)."""


class CalendarCheckInput(BaseModel):
    at: datetime


class CalendarCoverage(BaseModel):
    cover_until: date | None = None
    days_left: int | None = None
    warning: str = ""  # "" when the data covers the coming 30 days

    @property
    def stage(self) -> str:
        """One notification per stage: 30 days ahead, the last week, and once it has run out."""
        if self.days_left is None or self.days_left < 0:
            return "expired"
        return "week" if self.days_left <= 7 else "month"


class DailyChecksResult(BaseModel):
    calendar: CalendarCoverage
    notified: bool = False
