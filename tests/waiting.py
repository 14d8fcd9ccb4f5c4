"""The one "poll until" helper every test uses: wait for a condition on a running system, with a clear failure."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

T = TypeVar("T")


async def until(check: Callable[[], Any], what: str, timeout: float = 30, every: float = 0.1) -> Any:
    """Call ``check`` (sync or async) until it returns something truthy; return that. Fails the test with
    ``what`` and the last value after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        last = value
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout:.0f} s for {what}; last saw {last!r}")
        await asyncio.sleep(every)


def until_sync(check: Callable[[], T], what: str, timeout: float = 30, every: float = 0.1) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout:.0f} s for {what}; last saw {value!r}")
        time.sleep(every)


__all__ = ["Awaitable", "until", "until_sync"]
