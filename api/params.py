"""Bounded path and query parameters: every integer a client sends fits the column it is compared with.

Ids are ``INTEGER`` columns (PostgreSQL: at most 2**31 - 1; SQLite's driver cannot even bind an int above
2**63 - 1), so an id outside 1..2**31 - 1 names nothing: it is a 422 naming the parameter, never a
database error. Numbers inside a record (a version, a statement, a task) and indexes (a prize slot)
have the same bound.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from domain.limits import MAX_ID

PathId = Annotated[int, Path(ge=1, le=MAX_ID, description="a record id (1 … 2³¹−1)")]
PathNumber = Annotated[int, Path(ge=1, le=MAX_ID, description="a number within its record (1 … 2³¹−1)")]
PathIndex = Annotated[int, Path(ge=0, le=MAX_ID, description="a 0-based position (0 … 2³¹−1)")]
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
