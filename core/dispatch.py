"""Start the processes recorded in the outbox (db/outbox.py) — right after a commit, and from the reconciler.

Every start is idempotent: the id comes from the record, a running workflow with that id is used as is
(``USE_EXISTING``) and a finished one counts as started (``REJECT_DUPLICATE``), so the API's immediate
dispatch and the reconciler can both try the same row and the item is still processed exactly once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from db import outbox
from db.engine import Database
from db.models import ProcessStart

log = structlog.get_logger("socialops.dispatch")


@dataclass
class DispatchResult:
    started: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def ok(self, workflow_id: str) -> bool:
        return workflow_id in self.started


async def dispatch(
    client: Client,
    db: Database,
    task_queue: str,
    *,
    keys: list[str] | None = None,
    created_before: datetime | None = None,
) -> DispatchResult:
    """Dispatch pending rows (``keys``: just these; ``created_before``: the reconciler's sweep)."""
    if keys is not None and not keys:
        return DispatchResult()

    def load() -> list[ProcessStart]:
        with db.session() as s:
            return outbox.pending(s, keys=keys, created_before=created_before)

    result = DispatchResult()
    for row in await asyncio.to_thread(load):
        error = await _start(client, task_queue, row)
        assert row.id is not None
        await asyncio.to_thread(_mark, db, row.id, error)
        if error is None:
            result.started.append(row.workflow_id)
        else:
            result.failed[row.workflow_id] = error
            log.warning("process start deferred to the reconciler", workflow_id=row.workflow_id, error=error)
    return result


async def _start(client: Client, task_queue: str, row: ProcessStart) -> str | None:
    """None when the workflow runs (or ran) now; else the reason, and the row stays pending."""
    try:
        await client.start_workflow(
            row.workflow,
            row.input,
            id=row.workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=(
                WorkflowIDReusePolicy.ALLOW_DUPLICATE
                if row.reuse_closed_id
                else WorkflowIDReusePolicy.REJECT_DUPLICATE
            ),
            static_summary=row.summary or None,
            start_signal=row.signal or None,
            start_signal_args=[row.signal_input] if row.signal else [],
        )
    except WorkflowAlreadyStartedError:
        return None  # it ran and finished: started once, which is all we promise
    except Exception as exc:  # Temporal unavailable, a refused start: the reconciler tries again
        return f"{type(exc).__name__}: {exc}"[:2000]
    return None


def _mark(db: Database, row_id: int, error: str | None) -> None:
    with db.session() as s:
        outbox.mark(s, row_id, dispatched=error is None, error=error or "")
        s.commit()


async def ensure_reconciler(client: Client, task_queue: str, every: timedelta = timedelta(minutes=1)) -> None:
    """Create (or point at ``task_queue``) the Schedule that runs ReconcilerWorkflow every ``every``."""
    from domain.ids import RECONCILER_RUN, RECONCILER_SCHEDULE
    from domain.system import ReconcileInput

    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            "ReconcilerWorkflow", ReconcileInput(), id=RECONCILER_RUN, task_queue=task_queue
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    try:
        await client.create_schedule(RECONCILER_SCHEDULE, schedule)
    except ScheduleAlreadyRunningError:
        await client.get_schedule_handle(RECONCILER_SCHEDULE).update(lambda _: ScheduleUpdate(schedule=schedule))
