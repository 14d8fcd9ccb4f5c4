"""Inputs and results of the account token keeper (``account-{platform}-{id}``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel

from domain.kernel import Platform
from domain.notify_io import NotifyInput


class TokenKeeperInput(BaseModel):
    account_id: int
    platform: Platform
    handle: str
    refresh_margin: timedelta = timedelta(hours=1)  # refresh this long before the token expires
    notice_ahead: timedelta = timedelta(days=2)  # no refresh (Weibo): tell platform_admin this early
    max_sleep: timedelta = timedelta(hours=6)  # look again at least this often (a revoked grant, new tokens)
    rounds: int = 0


class TokenCheckInput(BaseModel):
    keeper: TokenKeeperInput
    at: datetime  # the workflow's clock: the check compares expiries with it


class WakeSignal(BaseModel):
    reason: str = ""


class TokenCheck(BaseModel):
    """What the check found; ``next_check_at`` None: the account is gone or inactive (the keeper ends)."""

    state: str  # refreshed | valid | expiring | reauthorize_needed | no_token | gone
    next_check_at: datetime | None
    notices: list[NotifyInput] = []
