"""The shared kernel: types every process uses (platforms, the acting person, working-time calendars).

Pure code, safe inside workflows. Process-specific models live in their own modules (``domain/content``,
``domain/emergency``, ``domain/inbox``, ``domain/monitoring``).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, Field

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


class WorkCalendarConfig(BaseModel):
    """Working time used for SLAs. Holidays / make-up workdays are ISO dates."""

    timezone: str = "Asia/Shanghai"
    start_hour: int = Field(default=9, ge=0, le=23)
    end_hour: int = Field(default=18, ge=1, le=24)
    workdays: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])  # Monday = 0
    holidays: list[str] = Field(default_factory=list)
    makeup_workdays: list[str] = Field(default_factory=list)
    holidays_cover_until: date | None = Field(
        default=None,
        description="Last day the holiday data covers; empty: 31 December of the latest year listed. "
        "ops_head is told 30 days before it passes.",
    )
