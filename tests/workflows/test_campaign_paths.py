"""Campaign paths besides the happy one: changes requested, rejection, SLA reminders, cancel, too few
entrants, a winner who declines with no reserve left."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.campaign import CampaignActivities
from connectors.registry import ConnectorRegistry
from connectors.sandbox import SandboxPlatform
from core.registry import WORKFLOWS, Dependencies, activities
from db import campaign as q
from db.campaign import Campaign
from db.engine import Database
from domain import ids
from domain.campaign import verify_draw
from domain.campaign.io import ProjectionInput
from domain.campaign.models import (
    ActorRequest,
    BeaconRequest,
    CampaignInput,
    Decision,
    PrizeEvent,
    PrizeUpdate,
    ResultsApproval,
    ReviewRequest,
    ReviseRequest,
    SlotStatus,
    Stage,
    SubmitRequest,
    Timing,
)
from tests.campaign_helpers import good_plan
from tests.campaign_workflow_helpers import SECRET_KEY, campaign_worker, entry, notices, seed, start, wait_stage
from workflows.campaign import CampaignWorkflow

pytestmark = pytest.mark.asyncio


async def test_changes_requested_then_rejected_with_sla_notices(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform
) -> None:
    env, db = time_skipping, sqlite_database
    people = seed(db)
    owner, rc = people["owner"], people["rc"]
    now = await env.get_current_time()
    async with campaign_worker(env.client, db, sandbox) as w:
        h = await start(env.client, w, db, owner, good_plan(now), timing=Timing(review_sla=timedelta(hours=1)))
        await wait_stage(h, Stage.draft)
        assert (await h.execute_update(CampaignWorkflow.submit, SubmitRequest(actor=owner))).submitted
        await wait_stage(h, Stage.review_compliance)
        await env.sleep(timedelta(hours=2, minutes=1))
        keys = [n.dedupe_key for n in notices(db, "reminder") + notices(db, "escalation")]
        assert any("remind-review_compliance" in k for k in keys) and any(
            "escalate-review_compliance" in k for k in keys
        )
        st = await h.query(CampaignWorkflow.current)
        req = ReviewRequest(actor=rc, stage=Stage.review_compliance, plan_hash=st.plan_hash,
                            decision=Decision.request_changes)  # fmt: skip
        with pytest.raises(WorkflowUpdateFailedError):  # changes need notes
            await h.execute_update(CampaignWorkflow.review, req)
        await h.execute_update(CampaignWorkflow.review, req.model_copy(update={"notes": "奖品价值写清楚"}))
        await wait_stage(h, Stage.draft)
        await h.execute_update(
            CampaignWorkflow.revise, ReviseRequest(actor=owner, plan=good_plan(now, budget=Decimal(2500)))
        )
        assert (await h.execute_update(CampaignWorkflow.submit, SubmitRequest(actor=owner))).submitted
        await wait_stage(h, Stage.review_compliance)
        st2 = await h.query(CampaignWorkflow.current)
        assert st2.plan_hash != st.plan_hash
        with pytest.raises(WorkflowUpdateFailedError):  # the old plan's hash no longer approves anything
            await h.execute_update(CampaignWorkflow.review, req.model_copy(update={"decision": Decision.approve}))
        await h.execute_update(
            CampaignWorkflow.review,
            ReviewRequest(actor=rc, stage=Stage.review_compliance, plan_hash=st2.plan_hash, decision=Decision.reject,
                          notes="不符合品牌要求"),
        )  # fmt: skip
        final = await h.result()
    assert final.stage is Stage.rejected
    assert [d.decision for d in final.decisions] == ["request_changes", "reject"]


async def test_cancel_before_launch_only(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform
) -> None:
    env, db = time_skipping, sqlite_database
    people = seed(db)
    now = await env.get_current_time()
    async with campaign_worker(env.client, db, sandbox) as w:
        h = await start(env.client, w, db, people["owner"], good_plan(now))
        await wait_stage(h, Stage.draft)
        with pytest.raises(WorkflowUpdateFailedError):
            await h.execute_update(CampaignWorkflow.cancel, ActorRequest(actor=people["agent"]))
        await h.execute_update(CampaignWorkflow.cancel, ActorRequest(actor=people["ops"], reason="预算取消"))
        final = await h.result()
    assert final.stage is Stage.cancelled and final.outcome_reason == "预算取消"
    assert sandbox.all_posts() == []


async def test_fewer_entrants_than_prizes_and_a_decline_without_reserves(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform
) -> None:
    env, db = time_skipping, sqlite_database
    people = seed(db)
    owner, rc, ops, agent = people["owner"], people["rc"], people["ops"], people["agent"]
    now = await env.get_current_time()
    plan = good_plan(now)
    assert plan.close_at and plan.draw_at
    async with campaign_worker(env.client, db, sandbox) as w:
        h = await start(env.client, w, db, owner, plan)
        await wait_stage(h, Stage.draft)
        await h.execute_update(CampaignWorkflow.submit, SubmitRequest(actor=owner))
        await wait_stage(h, Stage.review_compliance)
        st = await h.query(CampaignWorkflow.current)
        await h.execute_update(
            CampaignWorkflow.review,
            ReviewRequest(
                actor=rc, stage=Stage.review_compliance, plan_hash=st.plan_hash, decision=Decision.approve
            ),
        )
        await env.sleep(timedelta(hours=1, minutes=1))
        await wait_stage(h, Stage.running)
        t = await env.get_current_time()
        with db.session() as s:
            q.add_entries(
                s, st.campaign_id, [entry("onlyfan", t, 1), entry("onlyfan", t + timedelta(seconds=5), 2)]
            )
        await env.sleep(plan.draw_at - t + timedelta(minutes=1))
        await wait_stage(h, Stage.frozen)
        st = await h.query(CampaignWorkflow.current)
        assert st.freeze is not None and st.freeze.n == 1 and st.beacon_round is not None
        await h.execute_update(
            CampaignWorkflow.enter_beacon,
            BeaconRequest(actor=ops, round=st.beacon_round, randomness="11" * 32, evidence="drand 截图"),
        )
        await wait_stage(h, Stage.results_review)
        with db.session() as s:
            row = s.get(Campaign, st.campaign_id)
            assert row is not None and row.draw is not None
            assert verify_draw.verify(row.draw) == []
            assert len(row.draw["winners"]) == 1 and row.draw["reserves"] == []
        st = await h.query(CampaignWorkflow.current)
        assert plan.results_deadline is not None
        await env.sleep(plan.results_deadline - await env.get_current_time() + timedelta(minutes=1))
        assert any(n.dedupe_key.endswith("results-escalate") and n.recipient_role == "leadership"
                   for n in notices(db, "escalation"))  # fmt: skip
        assert any(n.dedupe_key.endswith("results-overdue") for n in notices(db, "alert"))
        await h.execute_update(
            CampaignWorkflow.approve_results, ResultsApproval(actor=ops, text_hash=st.results_hash)
        )
        await wait_stage(h, Stage.prizes)
        st = await h.query(CampaignWorkflow.current)
        assert [s.status for s in st.slots] == [SlotStatus.contacted, SlotStatus.unfilled, SlotStatus.unfilled]
        await h.execute_update(CampaignWorkflow.prize, PrizeUpdate(actor=agent, slot=0, event=PrizeEvent.declined))
        final = await h.result()
    assert final.stage is Stage.completed and final.report is not None
    r = final.report
    assert (r.eligible, r.delivered, r.forfeited, r.unfilled, r.prize_cost) == (1, 0, 1, 3, Decimal(0))
    assert final.slots[0].history[0].endswith(":declined")
    assert r.excluded == {"duplicate": 1}
    assert not r.results_on_time


async def test_a_decision_arriving_while_the_stage_is_being_projected_is_kept(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform
) -> None:
    """STYLE 12: the review lands while the main loop's projection activity for that stage still runs."""
    env, db = time_skipping, sqlite_database
    people = seed(db)
    real = CampaignActivities(db, ConnectorRegistry(db, {"sandbox": sandbox}), SECRET_KEY)
    in_review_projection = threading.Event()
    release = threading.Event()

    @activity.defn(name="campaign_project")
    def slow_project(inp: ProjectionInput) -> None:
        if inp.stage is Stage.review_compliance:
            in_review_projection.set()
            release.wait(10)
        real.project(inp)

    deps = Dependencies(db=db, connectors={"sandbox": sandbox}, secret_key=SECRET_KEY)
    acts = [a for a in activities(deps) if activity._Definition.must_from_callable(a).name != "campaign_project"]
    tq = f"campaign-{uuid.uuid4().hex[:8]}"
    now = await env.get_current_time()
    plan = good_plan(now)
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        async with Worker(env.client, task_queue=tq, workflows=WORKFLOWS, activities=[*acts, slow_project],
                          activity_executor=ex):  # fmt: skip
            with db.session() as s:
                row = q.create(s, plan, people["owner"].user_id, "owner")
                s.commit()
                assert row.id is not None
            inp = CampaignInput(campaign_id=row.id, owner="owner", owner_id=people["owner"].user_id, plan=plan)
            h = await env.client.start_workflow(CampaignWorkflow.run, inp, id=ids.campaign(row.id), task_queue=tq)
            await wait_stage(h, Stage.draft)
            await h.execute_update(CampaignWorkflow.submit, SubmitRequest(actor=people["owner"]))
            assert await asyncio.to_thread(in_review_projection.wait, 10)
            st = await h.query(CampaignWorkflow.current)
            await h.execute_update(
                CampaignWorkflow.review,
                ReviewRequest(actor=people["rc"], stage=Stage.review_compliance, plan_hash=st.plan_hash,
                              decision=Decision.approve),
            )  # fmt: skip
            release.set()
            await wait_stage(h, Stage.approved)
            st = await h.query(CampaignWorkflow.current)
    assert [d.decision for d in st.decisions] == ["approve"]
