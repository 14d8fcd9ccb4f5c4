"""Schedules the worker keeps in place at start-up (besides the outbox reconciler, core/dispatch.py)."""

from __future__ import annotations

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
)

from domain.ids import DAILY_CHECKS_RUN, DAILY_CHECKS_SCHEDULE
from domain.system import DailyChecksInput


async def ensure_daily_checks(client: Client, task_queue: str, hour: int = 9) -> None:
    """Create (or point at ``task_queue``) ``socialops-daily-checks``: DailyChecksWorkflow every day at
    ``hour`` Beijing time."""
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            "DailyChecksWorkflow", DailyChecksInput(), id=DAILY_CHECKS_RUN, task_queue=task_queue
        ),
        spec=ScheduleSpec(
            calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(hour)], minute=[ScheduleRange(0)])],
            time_zone_name="Asia/Shanghai",
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    try:
        await client.create_schedule(DAILY_CHECKS_SCHEDULE, schedule)
    except ScheduleAlreadyRunningError:
        await client.get_schedule_handle(DAILY_CHECKS_SCHEDULE).update(lambda _: ScheduleUpdate(schedule=schedule))
