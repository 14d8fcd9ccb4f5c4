"""One resettable deadline helper for every SLA, reminder, escalation, cadence and expiry wait.

In the spirit of samples-python ``updatable_timer``: a wait has a *done* condition and a *deadline*
function. The deadline is re-read whenever the workflow's state changes, so a handler that moves it
(a snooze, a reschedule, a re-level that shortens a plan's deadlines) takes effect at once — no epoch
counters, no hand-rolled loops per workflow. Deterministic: only ``workflow.now()`` and timers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow

Deadline = Callable[[], datetime | None]


async def wait_until(done: Callable[[], bool], deadline: Deadline, *, summary: str) -> bool:
    """Wait until ``done()`` (→ True) or until ``deadline()`` has passed (→ False).

    ``deadline()`` returning ``None`` means "no deadline for now": the wait goes on until ``done()`` or
    until a deadline appears. If both happen at the same instant, done wins. A deadline still ahead always
    arms its timer, even when ``done()`` already holds (it is cancelled at once): the command sequence is the
    one the workflows recorded before this helper existed, so their histories replay.
    """
    while True:
        current = deadline()
        if current is None:
            await workflow.wait_condition(lambda: done() or deadline() is not None)
            if done():
                return True
            continue
        remaining = current - workflow.now()
        if remaining <= timedelta(0):
            return done()
        try:
            await workflow.wait_condition(
                lambda when=current: done() or deadline() != when,  # type: ignore[misc]
                timeout=remaining,
                timeout_summary=summary,
            )
        except TimeoutError:
            pass
        if done():
            return True


def at(moment: datetime | None) -> Deadline:
    """A fixed deadline."""
    return lambda: moment
