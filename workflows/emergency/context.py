"""What one incident's process holds while it runs, and the steps every part shares: stage and
projection, the timeline, notifications, figures.

Message-handler rules (STYLE 12) for everything in this package: numbers and slots a handler reserves
(task numbers, statement ids, a statement's ``publishing`` status) are taken before its first await;
handlers that await and change shared state hold ``lock``; the workflow waits for
``all_handlers_finished`` before it completes.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.workflow import ChildWorkflowHandle

from workflows.common import RETRY, notify

with workflow.unsafe.imports_passed_through():
    from activities.emergency import EmergencyActivities
    from core.temporal import SA_STAGE
    from domain import ids
    from domain.emergency import (
        ConfirmRequest,
        IncidentInput,
        IncidentPlan,
        IncidentStage,
        IncidentState,
        Mode,
        Statement,
        StatementStatus,
        TaskResult,
        TimelineEntry,
    )
    from domain.emergency_io import EventInput, IncidentProjection

if TYPE_CHECKING:
    from workflows.emergency.task import IncidentTaskWorkflow


class DrillOver(Exception):
    """A drill's time is up: the main loop unwinds to ``closed`` and the scorecard."""


class IncidentRun:
    def __init__(self, inp: IncidentInput) -> None:
        self.inp = inp
        self.state = IncidentState(
            incident_id=inp.incident_id,
            title=inp.title,
            mode=inp.mode,
            stage=IncidentStage.confirming,
            started_at=workflow.now(),
            evidence=list(inp.evidence),
        )
        self.plan: IncidentPlan | None = None
        self.activated_at: datetime | None = None
        self.confirmation: ConfirmRequest | None = None
        self.relevels = 0  # notification keys of re-levels
        self.publish_count = 0
        self.last_published: datetime | None = None
        self.resolved = False
        self.postmortem_done = False
        self.drill_over = False
        self.next_task = 1  # reserved synchronously by whoever starts a task
        self.children: dict[int, ChildWorkflowHandle[IncidentTaskWorkflow, TaskResult]] = {}
        self.background: list[asyncio.Task[None]] = []
        self.lock = asyncio.Lock()
        self.hold_changing = 0  # set_hold calls in flight
        self.task_keys: dict[str, int] = {}  # Idempotency-Key → task number
        # The report is the first line of the timeline before any handler can run.
        self.state.timeline.append(
            TimelineEntry(
                at=workflow.now(),
                kind="reported",
                actor=inp.reported_by,
                detail=f"{inp.title}（证据 {len(inp.evidence)} 条）",
            )
        )

    @property
    def drill(self) -> bool:
        return self.inp.mode is Mode.drill

    @property
    def incident_id(self) -> int:
        return self.inp.incident_id

    def take_task_number(self) -> int:
        number = self.next_task
        self.next_task += 1
        return number

    def spawn(self, coro: object) -> None:
        self.background.append(asyncio.create_task(coro))  # type: ignore[arg-type]

    def statement(self, statement_id: int) -> Statement | None:
        if 1 <= statement_id <= len(self.state.statements):
            return self.state.statements[statement_id - 1]
        return None

    def spoken(self) -> bool:
        """Something approved to say (a holding line counts)."""
        return any(s.status is not StatementStatus.draft for s in self.state.statements)

    def figures(self) -> dict[str, object]:
        f = self.state.figures
        out: dict[str, object] = f.model_dump(mode="json")
        out["cadence_adherence"] = f.cadence_adherence
        out["deadlines_met"] = sum(1 for v in f.deadlines.values() if v)
        out["deadlines_missed"] = sum(1 for v in f.deadlines.values() if not v)
        return out

    async def set_stage(self, stage: IncidentStage, figures: bool = False) -> None:
        self.state.stage = stage
        workflow.upsert_search_attributes([SA_STAGE.value_set(stage.value)])
        await self.project(figures)

    async def project(self, figures: bool = False) -> None:
        await workflow.execute_activity_method(
            EmergencyActivities.project_incident,
            IncidentProjection(
                incident_id=self.incident_id,
                stage=self.state.stage.value,
                level=self.state.level.value if self.state.level else "",
                commander=self.state.commander,
                figures=self.figures() if figures else None,
                resolved_at=self.state.resolved_at,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )

    async def event(self, kind: str, actor: str, detail: str) -> None:
        """One timeline line: appended (and numbered) at once, stored by an activity."""
        entry = TimelineEntry(at=workflow.now(), kind=kind, actor=actor, detail=detail)
        self.state.timeline.append(entry)
        await self.persist(entry, len(self.state.timeline))

    async def persist(self, entry: TimelineEntry, seq: int) -> None:
        await workflow.execute_activity_method(
            EmergencyActivities.record_event,
            EventInput(incident_id=self.incident_id, seq=seq, **entry.model_dump()),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )

    async def notify(
        self, kind: str, subject: str, body: str, *, role: str = "", user: str = "", key: str
    ) -> None:
        await notify(
            kind,
            subject,
            body,
            role=role,
            user=user,
            ref=f"incident:{self.incident_id}",
            drill=self.drill,
            dedupe_key=f"{ids.incident(self.incident_id)}-{key}",
        )
