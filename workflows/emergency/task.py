"""``incident-{id}-task-{n}`` — one coordination task or post-mortem action item, with owner, deadline, reminders."""

from __future__ import annotations

import asyncio

from temporalio import workflow

from workflows.common import notify
from workflows.timers import at, wait_until

with workflow.unsafe.imports_passed_through():
    from core.temporal import SA_MODE, SA_OWNER, SA_PROCESS, SA_STAGE
    from domain.emergency import Mode, TaskInput, TaskReassigned, TaskResult, TaskStatus, TaskUpdate
    from domain.errors import conflict, forbidden
    from domain.roles import Role


@workflow.defn
class IncidentTaskWorkflow:
    @workflow.init
    def __init__(self, inp: TaskInput) -> None:
        self.inp = inp
        self.owner = inp.owner  # the commander may hand the task on (reassigned)
        self.reassignments = 0
        self.result: TaskResult | None = None

    @workflow.query
    def current(self) -> TaskResult:
        return self.result or TaskResult(status=TaskStatus.open)

    @workflow.update
    def complete(self, req: TaskUpdate) -> TaskResult:
        self.result = TaskResult(status=TaskStatus.done, note=req.note, by=req.actor.name, at=workflow.now())
        return self.result

    @complete.validator
    def _check_complete(self, req: TaskUpdate) -> None:
        if self.result is not None:
            raise conflict("stage", f"the task is already {self.result.status.value}")
        if req.actor.name != self.owner:  # nobody completes a task on someone else's behalf
            raise forbidden(
                "actor",
                f"only the task's owner ({self.owner}) completes it; the commander, ops_head or leadership "
                "may reassign it",
                req.actor,
                frozenset(),
            )

    @workflow.signal
    async def reassigned(self, change: TaskReassigned) -> None:
        """From the incident's process (EmergencyWorkflow.reassign_task): the new owner is told at once."""
        if self.result is not None:
            return
        self.owner = change.owner
        self.reassignments += 1
        workflow.upsert_search_attributes([SA_OWNER.value_set(change.owner)])
        await self._notify(
            "info",
            f"任务转交给你：{self.inp.title}",
            f"由 {change.by} 转交（{change.note or '无备注'}），截止 {self.inp.due_at.isoformat()}",
            f"assigned-{self.reassignments}",
            self.inp.mode is Mode.drill,
        )

    @workflow.run
    async def run(self, inp: TaskInput) -> TaskResult:
        workflow.upsert_search_attributes(
            [
                SA_PROCESS.value_set("incident_task"),
                SA_OWNER.value_set(inp.owner),
                SA_STAGE.value_set("open"),
                SA_MODE.value_set(inp.mode.value),
            ]
        )
        drill = inp.mode is Mode.drill
        await self._notify("info", f"任务：{inp.title}", f"截止 {inp.due_at.isoformat()}", "assigned", drill)
        try:
            remind_at = inp.due_at - inp.remind_before
            for when, kind, what in ((remind_at, "reminder", "即将到期"), (inp.due_at, "escalation", "已逾期")):
                if await wait_until(lambda: self.result is not None, at(when), summary=f"task-{kind}"):
                    break
                await self._notify(kind, f"任务{what}：{inp.title}", f"负责人 {self.owner}", kind, drill)
                if kind == "escalation":
                    await self._notify(
                        kind,
                        f"任务{what}：{inp.title}",
                        f"负责人 {self.owner}",
                        "escalation-ops",
                        drill,
                        role=Role.ops_head.value,
                    )
            await workflow.wait_condition(lambda: self.result is not None)
        except asyncio.CancelledError:
            self.result = TaskResult(status=TaskStatus.waived, at=workflow.now())
            workflow.upsert_search_attributes([SA_STAGE.value_set(TaskStatus.waived.value)])
            return self.result
        assert self.result is not None
        workflow.upsert_search_attributes([SA_STAGE.value_set(self.result.status.value)])
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.result

    async def _notify(self, kind: str, subject: str, body: str, key: str, drill: bool, role: str = "") -> None:
        await notify(
            kind,
            subject,
            body,
            user="" if role else self.owner,
            role=role,
            ref=f"incident:{self.inp.incident_id}",
            drill=drill,
            dedupe_key=f"{workflow.info().workflow_id}-{key}",
        )
