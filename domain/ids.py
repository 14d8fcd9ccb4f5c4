"""Workflow and schedule ids: one function per process, so an id is spelled in exactly one place.

Ids mean something (STYLE 7) and are derived from the record they belong to, which is what makes a
retried start harmless (STYLE 14): starting ``content-42`` twice finds the running one.
"""

from __future__ import annotations

from domain.kernel import Platform


def content(content_id: int) -> str:
    return f"content-{content_id}"


def incident(incident_id: int) -> str:
    return f"incident-{incident_id}"


def incident_task(incident_id: int, number: int) -> str:
    return f"incident-{incident_id}-task-{number}"


def interaction(platform: Platform | str, external_id: str) -> str:
    p = platform.value if isinstance(platform, Platform) else platform
    return f"interaction-{p}-{external_id}"


def monitor(topic_key: str) -> str:
    return f"monitor-{topic_key}"


def inbox_poll(platform: Platform | str, account: str) -> str:
    p = platform.value if isinstance(platform, Platform) else platform
    return f"inbox-poll-{p}-{account}"


def drill_schedule(key: str) -> str:
    return f"drill-{key}"


def drill_run(key: str) -> str:
    """A drill started by hand (``trigger`` on a schedule gets the schedule's own timestamped ids)."""
    return f"drill-{key}-run"


def campaign(campaign_id: int) -> str:
    return f"campaign-{campaign_id}"


def system_check(stamp_ms: int) -> str:
    return f"system-check-{stamp_ms}"


RECONCILER_SCHEDULE = "socialops-reconciler"
RECONCILER_RUN = "socialops-reconciler-run"
DAILY_CHECKS_SCHEDULE = "socialops-daily-checks"
DAILY_CHECKS_RUN = "socialops-daily-checks-run"


def account_tokens(platform: Platform | str, account_id: int) -> str:
    """The workflow that keeps a connected account's tokens valid."""
    p = platform.value if isinstance(platform, Platform) else platform
    return f"account-{p}-{account_id}"
