"""The crisis hold's one fan-out: when the last holder lets go, wake every held content item.

Both doors that change the hold — a person (``PUT /crisis-hold``) and an incident's process (the
``set_crisis_hold`` activity) — write through ``db.crisis_hold.change`` and then call ``wake_held``; the
items do not publish by themselves, they ask ops_head to confirm (ContentWorkflow).
"""

from __future__ import annotations

import structlog
from temporalio.client import Client

from domain.content_io import HOLD_RELEASED_SIGNAL

log = structlog.get_logger("socialops.crisis_hold")


async def wake_held(client: Client, workflow_ids: list[str]) -> list[str]:
    """Signal each held item that the hold is lifted; returns the ones reached (closed ones are skipped)."""
    reached = []
    for wid in workflow_ids:
        try:
            await client.get_workflow_handle(wid).signal(HOLD_RELEASED_SIGNAL)
            reached.append(wid)
        except Exception as exc:  # closed meanwhile: nothing to wake; the item's own poll covers the rest
            log.warning("could not wake held content", workflow_id=wid, error=str(exc))
    return reached
