"""Payloads of the system self-check process."""

from __future__ import annotations

from pydantic import BaseModel


class SystemCheckInput(BaseModel):
    requested_by: str = "system"


class DatabaseCheckResult(BaseModel):
    ok: bool
    dialect: str
    migration: str | None
    users: int


class SystemCheckResult(BaseModel):
    worker_identity: str
    database: DatabaseCheckResult
