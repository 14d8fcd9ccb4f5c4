"""System processes: ``system-check-…`` proves a worker picks up work and reaches the database;
``socialops-reconciler`` starts processes whose start was lost (the outbox)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.system import SystemActivities
    from core.temporal import SA_PROCESS
    from domain.system import ReconcileInput, ReconcileResult, SystemCheckInput, SystemCheckResult


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
