"""The shared kernel: types every process uses (platforms, the acting person, working-time calendars).

Pure code, safe inside workflows. Process-specific models live in their own modules (``domain/content``,
``domain/emergency``, ``domain/inbox``, ``domain/monitoring``).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, Field, model_validator

from domain.roles import Role


class Platform(StrEnum):
    weibo = "weibo"
    wechat_oa = "wechat_oa"
    douyin = "douyin"
    kuaishou = "kuaishou"
    website = "website"


class Actor(BaseModel):
    """The person behind an update, as the API authenticated them; validators decide with it."""

    user_id: int
    name: str
    roles: list[Role]

    def holds(self, roles: frozenset[Role] | set[Role]) -> bool:
        return bool(set(self.roles) & set(roles))


def _known_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name, e.g. Asia/Shanghai)") from None
    return name


# An IANA time-zone name that this machine's zone database knows (e.g. Asia/Shanghai).
TimeZoneName = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*$"),
    AfterValidator(_known_zone),
]


def _iso_date(value: str) -> str:
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO date (YYYY-MM-DD)") from None
    return value


IsoDate = Annotated[str, Field(max_length=10), AfterValidator(_iso_date)]


class WorkCalendarConfig(BaseModel):
    """Working time used for SLAs. Holidays / make-up workdays are ISO dates."""

    timezone: TimeZoneName = "Asia/Shanghai"
    start_hour: int = Field(default=9, ge=0, le=23)
    end_hour: int = Field(default=18, ge=1, le=24)
    workdays: list[Annotated[int, Field(ge=0, le=6)]] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4], min_length=1, max_length=7, description="Monday = 0 … Sunday = 6"
    )
    holidays: list[IsoDate] = Field(default_factory=list, max_length=1000)
    makeup_workdays: list[IsoDate] = Field(default_factory=list, max_length=1000)
    holidays_cover_until: date | None = Field(
        default=None,
        description="Last day the holiday data covers; empty: 31 December of the latest year listed. "
        "ops_head is told 30 days before it passes.",
    )

    @model_validator(mode="after")
    def _has_working_time(self) -> WorkCalendarConfig:
        if self.end_hour <= self.start_hour:
            raise ValueError("end_hour: must be after start_hour (a working day needs working hours)")
        return self
