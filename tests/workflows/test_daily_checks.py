"""The business calendar's holiday data is a configuration ops_head is warned about before it runs out
(issue 12.11), on the daily-checks Schedule."""

from __future__ import annotations

import concurrent.futures
import uuid
from datetime import date

from sqlmodel import select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from core.registry import Dependencies
from core.schedules import ensure_daily_checks
from db.engine import Database
from db.models import InboxPolicyRow, Notification
from domain.ids import DAILY_CHECKS_SCHEDULE
from domain.inbox import InboxPolicy
from domain.kernel import WorkCalendarConfig
from domain.system import DailyChecksInput, DailyChecksResult
from domain.workcalendar import coverage_warning, holidays_cover_until, hours_text
from tests.conftest import DevServer, test_converter
from tests.waiting import until
from worker import build_worker
from workflows.system import DailyChecksWorkflow


def test_coverage_and_hours_text() -> None:
    cal = InboxPolicy().calendar  # the shipped 2026 dates
    assert holidays_cover_until(cal) == date(2026, 12, 31)
    assert coverage_warning(cal, date(2026, 11, 30)) == ""  # 31 days left
    assert "2026-12-31（还剩 30 天）" in coverage_warning(cal, date(2026, 12, 1))
    assert "录入 2027 年" in coverage_warning(cal, date(2026, 12, 1))
    assert "已过期 1 天" in coverage_warning(cal, date(2027, 1, 1))
    assert "没有任何法定节假日数据" in coverage_warning(WorkCalendarConfig(), date(2026, 6, 1))
    explicit = WorkCalendarConfig(holidays=["2027-01-01"], holidays_cover_until=date(2027, 6, 30))
    assert (
        holidays_cover_until(explicit) == date(2027, 6, 30) and coverage_warning(explicit, date(2027, 5, 1)) == ""
    )
    assert hours_text(cal) == "周一至周五 9:00–18:00（法定节假日除外）"
    assert hours_text(WorkCalendarConfig(start_hour=8, end_hour=22, workdays=list(range(7)))) == "每天 8:00–22:00"
    assert hours_text(WorkCalendarConfig(start_hour=10, end_hour=24, workdays=[5, 6])) == "周六、周日 10:00–24:00"


def _set_calendar(db: Database, cal: WorkCalendarConfig) -> None:
    with db.session() as s:
        row = s.get(InboxPolicyRow, 1)
        assert row is not None
        row.policy = InboxPolicy(calendar=cal).model_dump(mode="json")
        s.add(row)
        s.commit()


def _warnings(db: Database) -> list[Notification]:
    with db.session() as s:
        return list(s.exec(select(Notification).where(Notification.ref == "inbox_policy")).all())


async def _run(client: Client, tq: str) -> DailyChecksResult:
    return await client.execute_workflow(
        DailyChecksWorkflow.run, DailyChecksInput(), id=f"checks-{uuid.uuid4().hex[:6]}", task_queue=tq
    )


async def test_ops_head_is_told_once_per_stage_when_holiday_data_runs_out(
    time_skipping: WorkflowEnvironment, sqlite_database: Database
) -> None:
    env, db = time_skipping, sqlite_database
    today = (await env.get_current_time()).date()
    with (
        concurrent.futures.ThreadPoolExecutor(4) as ex,
        env.auto_time_skipping_disabled(),  # "today" stays the test's today
    ):
        async with build_worker(env.client, "checks", Dependencies(db=db), ex) as w:
            _set_calendar(db, WorkCalendarConfig(holidays=["2026-10-01"], holidays_cover_until=date(2099, 12, 31)))
            res = await _run(env.client, w.task_queue)
            assert not res.notified and res.calendar.warning == "" and _warnings(db) == []

            ends = date.fromordinal(today.toordinal() + 20)
            _set_calendar(db, WorkCalendarConfig(holidays=["2026-10-01"], holidays_cover_until=ends))
            res = await _run(env.client, w.task_queue)
            assert res.notified and res.calendar.days_left in (19, 20, 21) and res.calendar.stage == "month"
            assert (await _run(env.client, w.task_queue)).notified  # the next day's run: told once, not twice
            (n,) = _warnings(db)
            assert n.recipient_role == "ops_head" and ends.isoformat() in n.body and "节假日" in n.subject


async def test_the_worker_keeps_a_daily_schedule(dev_server: DevServer, sqlite_database: Database) -> None:
    """The time-skipping server does not run Schedules: the real one does, every day at 09:00 Beijing time."""
    client = await Client.connect(dev_server.address, data_converter=test_converter())
    tq = f"checks-{uuid.uuid4().hex[:6]}"
    await ensure_daily_checks(client, tq)
    await ensure_daily_checks(client, tq)  # idempotent: the worker calls it at every start
    handle = client.get_schedule_handle(DAILY_CHECKS_SCHEDULE)
    desc = await handle.describe()
    cal = desc.schedule.spec.calendars[0]
    assert desc.schedule.spec.time_zone_name == "Asia/Shanghai" and cal.hour[0].start == 9
    soon = date.fromordinal(date.today().toordinal() + 5)
    _set_calendar(sqlite_database, WorkCalendarConfig(holidays=["2026-10-01"], holidays_cover_until=soon))
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        async with build_worker(client, tq, Dependencies(db=sqlite_database), ex):
            await handle.trigger()
            await until(lambda: _warnings(sqlite_database), "the triggered run warned ops_head", timeout=60)
    await handle.delete()
