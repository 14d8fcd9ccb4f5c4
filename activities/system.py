from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from temporalio import activity

from db import migrate
from db.accounts import count_users
from db.engine import Database
from db.inbox import load_policy
from domain.system import (
    CalendarCheckInput,
    CalendarCoverage,
    DatabaseCheckResult,
    ReconcileInput,
    ReconcileResult,
)
from domain.workcalendar import coverage_warning, holidays_cover_until


class SystemActivities:
    def __init__(self, db: Database) -> None:
        self.db = db

    @activity.defn
    def check_database(self) -> DatabaseCheckResult:
        self.db.ping()
        with self.db.session() as session:
            users = count_users(session)
        return DatabaseCheckResult(
            ok=True,
            dialect=self.db.engine.dialect.name,
            migration=migrate.current_revision(self.db.engine),
            users=users,
        )

    @activity.defn
    async def dispatch_pending_starts(self, inp: ReconcileInput) -> ReconcileResult:
        """Start what the outbox still holds (rows older than ``grace`` — younger ones are the API's own)."""
        from core.dispatch import dispatch

        res = await dispatch(
            activity.client(),
            self.db,
            activity.info().task_queue,
            created_before=datetime.now(UTC) - inp.grace,
        )
        return ReconcileResult(started=res.started, failed=sorted(res.failed))

    @activity.defn
    def calendar_coverage(self, inp: CalendarCheckInput) -> CalendarCoverage:
        """How far the inbox policy's holiday data reaches, and the warning once it ends within 30 days."""
        cal = load_policy(self.db).calendar
        today = inp.at.astimezone(ZoneInfo(cal.timezone)).date()
        until = holidays_cover_until(cal)
        return CalendarCoverage(
            cover_until=until,
            days_left=(until - today).days if until else None,
            warning=coverage_warning(cal, today),
        )
