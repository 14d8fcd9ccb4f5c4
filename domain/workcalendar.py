"""Working-time arithmetic for SLAs: working hours, weekends, holidays and make-up workdays (调休)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.kernel import WorkCalendarConfig


class WorkCalendar:
    def __init__(self, cfg: WorkCalendarConfig) -> None:
        if cfg.end_hour <= cfg.start_hour:
            raise ValueError("end_hour must be after start_hour")
        self.cfg = cfg
        self.tz = ZoneInfo(cfg.timezone)
        self.holidays = {date.fromisoformat(d) for d in cfg.holidays}
        self.makeup = {date.fromisoformat(d) for d in cfg.makeup_workdays}

    def is_workday(self, day: date) -> bool:
        if day in self.makeup:
            return True
        if day in self.holidays:
            return False
        return day.weekday() in self.cfg.workdays

    def _window(self, day: date) -> tuple[datetime, datetime]:
        start = datetime.combine(day, time(self.cfg.start_hour), self.tz)
        end = (
            datetime.combine(day + timedelta(days=1), time(0), self.tz)
            if self.cfg.end_hour == 24
            else datetime.combine(day, time(self.cfg.end_hour), self.tz)
        )
        return start, end

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant when ``duration`` of working time has passed after ``start``."""
        remaining = duration
        cursor = start.astimezone(self.tz)
        for _ in range(3660):  # ten years of days: a calendar with no workdays fails loudly
            day = cursor.date()
            if self.is_workday(day):
                w_start, w_end = self._window(day)
                begin = max(cursor, w_start)
                if begin < w_end:
                    available = w_end - begin
                    if remaining <= available:
                        return begin + remaining
                    remaining -= available
            cursor = datetime.combine(day + timedelta(days=1), time(0), self.tz)
        raise ValueError("the work calendar has no working time")

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        total = timedelta()
        cursor = start.astimezone(self.tz)
        end = end.astimezone(self.tz)
        while cursor < end:
            day = cursor.date()
            if self.is_workday(day):
                w_start, w_end = self._window(day)
                lo, hi = max(cursor, w_start), min(end, w_end)
                if hi > lo:
                    total += hi - lo
            cursor = datetime.combine(day + timedelta(days=1), time(0), self.tz)
        return total

    def is_working_time(self, at: datetime) -> bool:
        local = at.astimezone(self.tz)
        if not self.is_workday(local.date()):
            return False
        w_start, w_end = self._window(local.date())
        return w_start <= local < w_end
