"""What every workflow shares: retry policies and the notification call."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.notify import NotificationActivities
    from domain.notify_io import NotifyInput

# Database writes, look-ups, notifications: quick retries, then the workflow task reports the failure.
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30), maximum_attempts=5
)
# Irreversible platform effects: each retry first asks the platform whether the effect already happened.
PUBLISH_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=1), maximum_attempts=6
)
REPLY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=1), maximum_attempts=8
)


async def notify(
    kind: str,
    subject: str,
    body: str,
    *,
    ref: str,
    dedupe_key: str,
    role: str = "",
    user: str = "",
    drill: bool = False,
) -> None:
    """Record and deliver one notification (idempotent by ``dedupe_key``)."""
    await workflow.execute_activity_method(
        NotificationActivities.notify,
        NotifyInput(kind=kind, subject=subject, body=body, recipient_role=role, recipient_user=user, ref=ref,
                    dedupe_key=dedupe_key, drill=drill),
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=RETRY,
    )  # fmt: skip
