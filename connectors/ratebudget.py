"""Per-account rate budgets: a sliding window per (account, operation) so a bulk schedule does not burn
the platform's quota. Over budget → ``RateLimited`` (retryable, with the wait until a slot frees)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable

from connectors.base import PlatformError


class RateLimited(PlatformError):
    """Retry after ``retry_after`` seconds (the platform's window, or our own budget's)."""

    def __init__(self, message: str, retry_after: float, code: str = "rate_limited") -> None:
        super().__init__(message, retryable=True, code=code)
        self.retry_after = retry_after


class RateBudget:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._calls: dict[tuple[str, str], deque[float]] = defaultdict(deque)

    def take(self, account: str, operation: str, limit: int, window_s: float) -> None:
        """Count one call, or raise ``RateLimited`` when ``limit`` calls were made in the last ``window_s``."""
        if limit <= 0:
            return
        now = self._clock()
        with self._lock:
            calls = self._calls[(account, operation)]
            while calls and calls[0] <= now - window_s:
                calls.popleft()
            if len(calls) >= limit:
                wait = calls[0] + window_s - now
                raise RateLimited(
                    f"本账号 {operation} 的调用预算已用完（{limit} 次 / {int(window_s)} 秒），{int(wait) + 1} 秒后重试",
                    retry_after=max(wait, 1.0),
                    code="budget_exhausted",
                )
            calls.append(now)
