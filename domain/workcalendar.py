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


_WEEKDAYS = "一二三四五六日"
COVERAGE_WARN_DAYS = 30


def hours_text(cfg: WorkCalendarConfig) -> str:
    """The working hours as a customer reads them: "周一至周五 9:00–18:00", "每天 8:00–22:00"."""
    days = sorted(set(cfg.workdays))
    if days == list(range(7)):
        when = "每天"
    elif days and days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
        when = f"周{_WEEKDAYS[days[0]]}至周{_WEEKDAYS[days[-1]]}"
    else:
        when = "、".join(f"周{_WEEKDAYS[d]}" for d in days)
    end = "24:00" if cfg.end_hour == 24 else f"{cfg.end_hour}:00"
    return (
        f"{when} {cfg.start_hour}:00–{end}（法定节假日除外）"
        if cfg.holidays
        else f"{when} {cfg.start_hour}:00–{end}"
    )


def holidays_cover_until(cfg: WorkCalendarConfig) -> date | None:
    """The last day the holiday data covers: as configured, else 31 December of the latest year listed."""
    if cfg.holidays_cover_until is not None:
        return cfg.holidays_cover_until
    years = [date.fromisoformat(d).year for d in [*cfg.holidays, *cfg.makeup_workdays]]
    return date(max(years), 12, 31) if years else None


def coverage_warning(cfg: WorkCalendarConfig, today: date) -> str:
    """Why ops_head must enter next year's holidays now ("" when the data covers the coming 30 days)."""
    end = holidays_cover_until(cfg)
    if end is None:
        return "收件箱的工作日历没有任何法定节假日数据：SLA 会把节假日当作工作日计算。请按国务院办公厅通知录入放假与调休日期。"
    left = (end - today).days
    if left > COVERAGE_WARN_DAYS:
        return ""
    when = f"还剩 {left} 天" if left >= 0 else f"已过期 {-left} 天"
    return (
        f"收件箱的法定节假日数据只覆盖到 {end.isoformat()}（{when}）：之后的节假日和调休会被当作普通日期，"
        f"SLA 计时将不准确。请按国务院办公厅通知录入 {end.year + 1} 年的放假与调休日期"
        f"（PUT /inbox/policy 的 calendar.holidays / makeup_workdays，并更新 holidays_cover_until）。"
    )
