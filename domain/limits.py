"""Bounds of what a client may send, in one place: each fits the storage and the arithmetic it reaches, on
SQLite and PostgreSQL alike.

Ids and the counts stored with an item (followers, engagement, reposts) are ``INTEGER`` columns, whose
PostgreSQL range ends at 2**31 - 1 (``BIGINT`` would end at 2**63 - 1, as SQLite's integers do); a larger
value would be a database error, so it is a validation error instead. Durations in plans, policies and
drills are positive and bounded, so every deadline computed from one is a time a timer can wait for.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import Field

MAX_ID = 2**31 - 1  # PostgreSQL INTEGER: every id column
MAX_COUNT = 2**31 - 1  # PostgreSQL INTEGER: follower, engagement and repost counts, KPI targets
MAX_MONEY_CNY = 10**12  # budgets and prize values
MAX_MEDIA_SECONDS = 7 * 24 * 3600
MAX_MEDIA_MB = 1_000_000

# A deadline or cadence in a plan or policy: at least a minute (a zero cadence would fire without end),
# at most 30 days.
PLAN_DURATION_MIN = timedelta(minutes=1)
PLAN_DURATION_MAX = timedelta(days=30)
PlanDuration = Annotated[
    timedelta,
    Field(ge=PLAN_DURATION_MIN, le=PLAN_DURATION_MAX, description="ISO 8601 duration, PT1M … P30D"),
]
MAX_SLA_HOURS = 30 * 24.0
