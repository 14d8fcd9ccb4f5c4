"""System processes: ``system-check-…`` proves a worker picks up work and reaches the database;
``socialops-reconciler`` starts processes whose start was lost (the outbox); ``socialops-daily-checks``
tells ops_head what must be fixed before it bites (the inbox's holiday data running out)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.common import RETRY, notify

with workflow.unsafe.imports_passed_through():
    from activities.system import SystemActivities
    from core.temporal import SA_PROCESS
    from domain.roles import Role
    from domain.system import (
        CalendarCheckInput,
        DailyChecksInput,
        DailyChecksResult,
        ReconcileInput,
        ReconcileResult,
        SystemCheckInput,
        SystemCheckResult,
    )


@workflow.defn
class SystemCheckWorkflow:
    @workflow.run
    async def run(self, inp: SystemCheckInput) -> SystemCheckResult:
        workflow.upsert_search_attributes([SA_PROCESS.value_set("system_check")])
        workflow.logger.info("system check requested by %s", inp.requested_by)
        db = await workflow.execute_activity_method(
            SystemActivities.check_database,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(maximum_attempts=3),
        )
        return SystemCheckResult(worker_identity=workflow.info().task_queue, database=db)


@workflow.defn
class ReconcilerWorkflow:
    """``socialops-reconciler`` (a Schedule, every minute): starts every process whose record exists but
    whose start did not happen (a crash or an outage between the commit and the start)."""

    @workflow.run
    async def run(self, inp: ReconcileInput) -> ReconcileResult:
        workflow.upsert_search_attributes([SA_PROCESS.value_set("reconciler")])
        return await workflow.execute_activity_method(
            SystemActivities.dispatch_pending_starts,
            inp,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=RetryPolicy(maximum_attempts=3),
        )


@workflow.defn
class DailyChecksWorkflow:
    """``socialops-daily-checks`` (a Schedule, every day at 09:00 Beijing time): ops_head is told, once per
    stage (30 days ahead, the last week, run out), that the inbox's holiday data ends — SLAs after that day
    would count holidays as working days (R-4.2.2)."""

    @workflow.run
    async def run(self, inp: DailyChecksInput) -> DailyChecksResult:
        workflow.upsert_search_attributes([SA_PROCESS.value_set("daily_checks")])
        cov = await workflow.execute_activity_method(
            SystemActivities.calendar_coverage,
            CalendarCheckInput(at=workflow.now()),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )
        if not cov.warning:
            return DailyChecksResult(calendar=cov)
        until = cov.cover_until.isoformat() if cov.cover_until else "none"
        await notify(
            "reminder",
            "请录入下一年的法定节假日（收件箱工作日历）",
            cov.warning,
            role=Role.ops_head.value,
            ref="inbox_policy",
            dedupe_key=f"calendar-coverage-{until}-{cov.stage}",
        )
        return DailyChecksResult(calendar=cov, notified=True)
