"""Coordination tasks and post-mortem action items: each an ``IncidentTaskWorkflow`` child with its owner,
deadline and reminders; the parent follows its outcome."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.workflow import ChildWorkflowHandle, ParentClosePolicy

from workflows.emergency.context import IncidentRun
from workflows.emergency.task import IncidentTaskWorkflow

with workflow.unsafe.imports_passed_through():
    from domain import ids
    from domain.emergency import TaskInput, TaskRecord, TaskResult, TaskStatus


def reserve(run: IncidentRun, kind: str, title: str, owner: str, due_in: timedelta, required: bool) -> TaskRecord:
    """Take the next number and list the task at once (before any await), so two additions arriving
    together get two numbers and two children."""
    number = run.take_task_number()
    record = TaskRecord(
        number=number,
        workflow_id=ids.incident_task(run.incident_id, number),
        kind=kind,
        title=title,
        owner=owner,
        due_at=workflow.now() + due_in,
        required=required,
    )
    run.state.tasks.append(record)
    return record


async def start(run: IncidentRun, record: TaskRecord, due_in: timedelta, abandon: bool = False) -> TaskRecord:
    """Start the reserved task's child workflow; an action item outlives the incident (``abandon``)."""
    handle = await workflow.start_child_workflow(
        IncidentTaskWorkflow.run,
        TaskInput(
            incident_id=run.incident_id,
            number=record.number,
            kind=record.kind,
            title=record.title,
            owner=record.owner,
            due_at=record.due_at,
            mode=run.inp.mode,
            remind_before=min(due_in / 4, timedelta(hours=1)),
        ),
        id=record.workflow_id,
        parent_close_policy=ParentClosePolicy.ABANDON if abandon else ParentClosePolicy.REQUEST_CANCEL,
    )
    run.children[record.number] = handle
    if not abandon:
        run.spawn(_follow(run, record, handle))
    return record


async def _follow(
    run: IncidentRun, record: TaskRecord, handle: ChildWorkflowHandle[IncidentTaskWorkflow, TaskResult]
) -> None:
    try:
        result = await handle
    except (asyncio.CancelledError, Exception):  # cancelled by a waiver
        return
    if record.status is TaskStatus.open:
        record.status, record.note = result.status, result.note
        await run.event(f"task_{result.status.value}", result.by or "system", f"#{record.number} {record.title}")
