"""Payloads of the system processes: the self-check and the outbox reconciler."""

from __future__ import annotations

from datetime import timedelta

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


class ReconcileInput(BaseModel):
    """The reconciler's sweep: outbox rows older than ``grace`` are dispatched."""

    grace: timedelta = timedelta(seconds=30)


class ReconcileResult(BaseModel):
    started: list[str] = []
    failed: list[str] = []
