"""The one list of workflows and activities a worker runs (``worker.py`` and tests use it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from activities.system import SystemActivities
from db.engine import Database
from workflows.system import SystemCheckWorkflow

WORKFLOWS: list[type] = [SystemCheckWorkflow]


@dataclass
class Dependencies:
    """What activities need from the outside world; tests pass fakes."""

    db: Database


def activities(deps: Dependencies) -> list[Callable[..., Any]]:
    system = SystemActivities(deps.db)
    return [system.check_database]
