"""The one list of workflows and activities a worker runs (``worker.py`` and tests use it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from activities.content import ContentActivities
from activities.notify import NotificationActivities
from activities.system import SystemActivities
from connectors.base import PlatformConnector
from connectors.registry import ConnectorRegistry
from db.engine import Database
from workflows.content import ContentWorkflow
from workflows.system import SystemCheckWorkflow

WORKFLOWS: list[type] = [SystemCheckWorkflow, ContentWorkflow]


@dataclass
class Dependencies:
    """What activities need from the outside world; tests pass fakes."""

    db: Database
    connectors: dict[str, PlatformConnector] = field(default_factory=dict)


def activities(deps: Dependencies) -> list[Callable[..., Any]]:
    system = SystemActivities(deps.db)
    content = ContentActivities(deps.db, ConnectorRegistry(deps.db, deps.connectors))
    notify = NotificationActivities(deps.db)
    return [
        system.check_database,
        content.sync_projection,
        content.save_version,
        content.compliance_scan,
        content.crisis_hold_status,
        content.publish,
        content.confirm,
        content.fetch_metrics,
        content.retract,
        notify.notify,
    ]
