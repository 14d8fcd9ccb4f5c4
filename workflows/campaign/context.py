"""What one campaign's process holds while it runs, and the steps every phase shares.

The workflow class (``workflow.py``) owns the handlers; the phases (``phases.py``) run the main loop.
STYLE 12: a decision a handler hands to the main loop (``pending``) is cleared only by the loop.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow

from workflows.common import RETRY, notify

with workflow.unsafe.imports_passed_through():
    from activities.campaign import CampaignActivities
    from core.temporal import SA_STAGE
    from domain import ids
    from domain.campaign.io import BeaconRecord, ProjectionInput
    from domain.campaign.models import (
        Actor,
        CampaignInput,
        CampaignPlan,
        CampaignState,
        DecisionRecord,
        Pick,
        ReviewRequest,
        Stage,
        plan_hash,
    )


class Cancelled(Exception):
    """The owner cancelled before launch: the main loop unwinds to ``cancelled``."""


class CampaignRun:
    def __init__(self, inp: CampaignInput) -> None:
        self.inp = inp
        self.plan: CampaignPlan = inp.plan
        self.state = CampaignState(campaign_id=inp.campaign_id, stage=Stage.draft, plan_hash=plan_hash(inp.plan))
        self.submitted = False
        self.cancelled = False
        self.pending: ReviewRequest | None = None
        self.beacon_entered = False
        self.results_approved = False
        self.changed = 0  # bumps on every prize event: the prize loop re-reads its slots
        self.beacon: BeaconRecord | None = None
        self.reserves: list[Pick] = []  # reserve winners not yet used, in draw order
        self.launch_text = ""
        self.lock = asyncio.Lock()  # handlers that await, and the main loop's stage changes they race with

    @property
    def campaign_id(self) -> int:
        return self.inp.campaign_id

    def decide(self, stage: Stage, decision: str, actor: Actor, notes: str) -> DecisionRecord:
        record = DecisionRecord(
            stage=stage, decision=decision, actor=actor.name, roles=[r.value for r in actor.roles],
            plan_hash=self.state.plan_hash, notes=notes, at=workflow.now(),
        )  # fmt: skip
        self.state.decisions.append(record)
        return record

    async def set_stage(self, stage: Stage) -> None:
        self.state.stage = stage
        workflow.upsert_search_attributes([SA_STAGE.value_set(stage.value)])
        await self.project()

    async def project(self) -> None:
        s = self.state
        await workflow.execute_activity_method(
            CampaignActivities.project,
            ProjectionInput(
                campaign_id=self.campaign_id, stage=s.stage, plan=self.plan, plan_hash=s.plan_hash,
                commitment=s.commitment, beacon_round=s.beacon_round, post_ref=s.post_ref,
                results_text=s.results_text, report=s.report,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )  # fmt: skip

    async def notify(
        self, kind: str, subject: str, body: str, *, key: str, role: str = "", user: str = ""
    ) -> None:
        self.state.notices.append(f"{kind}:{key}")
        await notify(
            kind, subject, body, role=role, user=user, ref=f"campaign:{self.campaign_id}",
            dedupe_key=f"{ids.campaign(self.campaign_id)}-{key}",
        )  # fmt: skip
