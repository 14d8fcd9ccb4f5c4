"""A campaign from plan to prize delivery on the time-skipping server."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from connectors.sandbox import SandboxPlatform
from db import campaign as q
from db.campaign import Campaign, CampaignEntry, CampaignSecret
from db.engine import Database
from db.models import Interaction
from domain.campaign import verify_draw
from domain.campaign.models import (
    ActorRequest,
    BeaconRequest,
    ComplaintRequest,
    Decision,
    PrizeEvent,
    PrizeUpdate,
    ResultsApproval,
    ReviewRequest,
    ReviseRequest,
    SlotStatus,
    Stage,
    SubmitRequest,
)
from tests.campaign_helpers import RULES, good_plan
from tests.campaign_workflow_helpers import campaign_worker, entry, notices, seed, start, wait_stage
from tests.conftest import test_converter
from workflows.campaign import CampaignWorkflow

pytestmark = pytest.mark.asyncio
RECORDED = Path(__file__).parents[1] / "histories" / "campaign_plan_to_prizes.json"


async def rejected(coro, kind: str) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await coro
    assert err.value.cause.type == kind, err.value.cause  # type: ignore[union-attr]
    return str(err.value.cause)


async def test_plan_to_prizes_with_a_forfeit(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform
) -> None:
    env, db = time_skipping, sqlite_database
    people = seed(db)
    owner, rc, lead, ops, agent = (people[k] for k in ("owner", "rc", "lead", "ops", "agent"))
    now = await env.get_current_time()
    good = good_plan(now, budget=Decimal(30000))  # above the leadership threshold
    risky = good_plan(now, close_at=None, rules_text=RULES + "本活动最终解释权归本公司所有。")
    async with campaign_worker(env.client, db, sandbox) as w:
        h = await start(env.client, w, db, owner, risky)
        await wait_stage(h, Stage.draft)

        # --- checklist: blocking findings stop the submission, each with its reason --------------------
        result = await h.execute_update(CampaignWorkflow.submit, SubmitRequest(actor=owner))
        assert not result.submitted
        codes = {f.code for f in result.findings}
        assert {"no_close_time", "final_interpretation_clause"} <= codes
        await h.execute_update(CampaignWorkflow.revise, ReviseRequest(actor=owner, plan=good))
        result = await h.execute_update(CampaignWorkflow.submit, SubmitRequest(actor=owner))
        assert result.submitted, result.findings

        # --- review: risk_compliance, then leadership (budget above threshold); never the owner ----------
        await wait_stage(h, Stage.review_compliance)
        st = await h.query(CampaignWorkflow.current)
        assert st.needs_leadership

        def review(actor, stage, plan_hash=st.plan_hash):  # type: ignore[no-untyped-def]
            return h.execute_update(
                CampaignWorkflow.review,
                ReviewRequest(actor=actor, stage=stage, plan_hash=plan_hash, decision=Decision.approve),
            )

        await rejected(review(owner, Stage.review_compliance), "Forbidden")
        await rejected(review(rc, Stage.review_compliance, "0" * 64), "Invalid")
        await rejected(review(lead, Stage.review_compliance), "Forbidden")
        await review(rc, Stage.review_compliance)
        await wait_stage(h, Stage.review_leadership)
        await review(lead, Stage.review_leadership)
        await wait_stage(h, Stage.approved)
        assert sandbox.all_posts() == []

        # --- launch: commitment and the named beacon round in the post; the secret only sealed -----------
        await env.sleep(timedelta(hours=1, minutes=1))
        await wait_stage(h, Stage.running)
        st = await h.query(CampaignWorkflow.current)
        assert st.beacon_round is not None and len(st.commitment) == 64
        (post,) = sandbox.all_posts()
        assert st.commitment in post.text and f"第 {st.beacon_round} 轮" in post.text
        with db.session() as s:
            sealed = s.get(CampaignSecret, st.campaign_id)
            assert sealed is not None and sealed.sealed.startswith("v1.")

        # --- entries: duplicates, staff, blacklist, a too-new account, one during a pause -----------------
        t = await env.get_current_time()
        users = [f"fan{i}" for i in range(8)]
        batch = [entry(u, t + timedelta(minutes=i), i) for i, u in enumerate(users)]
        batch += [
            entry("fan0", t + timedelta(minutes=20), 100),  # duplicate
            entry("staff1", t + timedelta(minutes=21), 101),
            entry("spammer", t + timedelta(minutes=22), 102),
            entry("newbie", t + timedelta(minutes=23), 103, account_created_at=t - timedelta(days=1)),
            entry("dmer", t + timedelta(minutes=24), 104, method="dm"),
        ]
        with db.session() as s:
            assert q.add_entries(s, st.campaign_id, batch) == (len(batch), 0)
            assert q.add_entries(s, st.campaign_id, batch[:2]) == (0, 2)  # redelivery stores nothing
        with db.session() as s:  # the inbox saw one more comment and one spam comment it hid
            for n, (author, hidden) in enumerate([("inboxfan", False), ("adbot", True)]):
                s.add(Interaction(platform="weibo", account="brand_weibo", external_id=f"ix{n}", kind="comment",
                                  author=author, text="参与抽奖", intent="spam" if hidden else "other",
                                  sentiment="neutral", priority="normal", received_at=t + timedelta(minutes=30),
                                  hidden=hidden))  # fmt: skip
            s.commit()
        await env.sleep(timedelta(hours=1))
        await rejected(h.execute_update(CampaignWorkflow.pause, ActorRequest(actor=agent)), "Forbidden")
        await h.execute_update(CampaignWorkflow.pause, ActorRequest(actor=owner))
        await env.sleep(timedelta(minutes=30))
        with db.session() as s:
            q.add_entries(s, st.campaign_id, [entry("napper", await env.get_current_time(), 200)])
        await h.execute_update(CampaignWorkflow.resume, ActorRequest(actor=owner))
        await env.sleep(timedelta(minutes=5))
        with db.session() as s:
            q.add_entries(s, st.campaign_id, [entry("latecomer", await env.get_current_time(), 201)])
            figures = q.figures(s, st.campaign_id)
        assert figures["entries"] == len(batch) + 4 and figures["people"] == len(batch) + 3  # the sweep ran

        # --- close by timer: frozen list, N and the root published; every exclusion with its reason ------
        assert good.close_at is not None and good.draw_at is not None
        await env.sleep(good.close_at - await env.get_current_time() + timedelta(minutes=1))
        await wait_stage(h, Stage.frozen)
        st = await h.query(CampaignWorkflow.current)
        # eight fans and the latecomer; the inbox fan's account age is unknown and the plan asks for 30 days
        assert st.freeze is not None and st.freeze.n == 9
        assert st.freeze.excluded == {
            "duplicate": 1, "staff": 1, "blacklisted": 1, "account_too_new": 1, "wrong_method": 1, "paused": 1,
            "spam": 1, "account_age_unknown": 1,
        }  # fmt: skip
        assert any(st.freeze.root in p.text for p in sandbox.all_posts())
        with db.session() as s:
            excluded = s.exec(select(CampaignEntry).where(CampaignEntry.status == "excluded")).all()
            assert all(e.exclusion_reason for e in excluded) and len(excluded) == 8

        # --- beacon: only the named round, only after its time, with evidence ----------------------------
        signature = bytes(range(48))
        randomness = hashlib.sha256(signature).hexdigest()

        def beacon(round_number: int, actor=rc, sig: bytes = signature):  # type: ignore[no-untyped-def]
            return h.execute_update(
                CampaignWorkflow.enter_beacon,
                BeaconRequest(actor=actor, round=round_number, randomness=randomness, signature=sig.hex(),
                              evidence="https://api.drand.sh/…/public/N"),
            )  # fmt: skip

        await rejected(beacon(st.beacon_round), "Invalid")  # not produced yet
        await env.sleep(good.draw_at - await env.get_current_time() + timedelta(minutes=1))
        await rejected(beacon(st.beacon_round + 1), "Invalid")
        await rejected(beacon(st.beacon_round, sig=b"forged"), "Invalid")
        await rejected(beacon(st.beacon_round, actor=agent), "Forbidden")
        await beacon(st.beacon_round)

        # --- draw: draw.json verifies; the secret matches the commitment and never entered history --------
        await wait_stage(h, Stage.results_review)
        st = await h.query(CampaignWorkflow.current)
        with db.session() as s:
            row = s.get(Campaign, st.campaign_id)
            assert row is not None and row.draw is not None
            doc = copy.deepcopy(row.draw)
        assert verify_draw.verify(doc) == []
        assert doc["commitment"] == st.commitment and doc["beacon"]["randomness"] == randomness
        assert len(doc["winners"]) == 3 and len(doc["reserves"]) == 2
        history = (await h.fetch_history()).to_json()
        assert doc["secret"] not in history
        assert st.draw is not None and [p.index for p in st.draw.winners] == [w["index"] for w in doc["winners"]]

        # --- results: reminder before the deadline, approval bound to the text ----------------------------
        await env.sleep(timedelta(hours=1))
        assert any(n.dedupe_key.endswith("results-remind") for n in notices(db, "reminder"))
        await rejected(
            h.execute_update(
                CampaignWorkflow.approve_results, ResultsApproval(actor=owner, text_hash=st.results_hash)
            ),
            "Forbidden",
        )
        await rejected(
            h.execute_update(CampaignWorkflow.approve_results, ResultsApproval(actor=ops, text_hash="x")),
            "Invalid",
        )
        await h.execute_update(
            CampaignWorkflow.approve_results, ResultsApproval(actor=ops, text_hash=st.results_hash)
        )
        await wait_stage(h, Stage.prizes)
        assert any(p.text == st.results_text for p in sandbox.all_posts())
        await h.execute_update(CampaignWorkflow.complaint, ComplaintRequest(actor=agent, note="说抽奖不公平"))

        # --- prizes: two winners answer, one lets the address deadline pass → the first reserve -----------
        def prize(slot: int, event: PrizeEvent, note: str = ""):  # type: ignore[no-untyped-def]
            return h.execute_update(
                CampaignWorkflow.prize, PrizeUpdate(actor=agent, slot=slot, event=event, note=note)
            )

        await rejected(prize(0, PrizeEvent.shipped), "Conflict")  # no address yet
        for slot in (0, 2):
            await prize(slot, PrizeEvent.address_received)
        await env.sleep(timedelta(days=7, minutes=1))
        await asyncio.sleep(0.5)
        st = await h.query(CampaignWorkflow.current)
        assert st.draw is not None
        first_reserve = st.draw.reserves[0].entry_id
        assert st.slots[1].entry_id == first_reserve and st.slots[1].status is SlotStatus.contacted
        assert len(st.slots[1].history) == 1 and st.slots[1].history[0].endswith(":expired")
        await prize(1, PrizeEvent.address_received)
        for slot in (0, 1, 2):
            await prize(slot, PrizeEvent.shipped, "SF123")
            await prize(slot, PrizeEvent.delivered)
        await wait_stage(h, Stage.completed)
        st = await h.query(CampaignWorkflow.current)
        history = await h.fetch_history()

    # The run replays on today's code; SOCIALOPS_RECORD_HISTORY=1 stores it for tests/workflows/test_replay.py.
    replayer = Replayer(workflows=[CampaignWorkflow], data_converter=test_converter())
    assert (await replayer.replay_workflow(history, raise_on_replay_failure=True)).replay_failure is None
    if os.environ.get("SOCIALOPS_RECORD_HISTORY"):
        RECORDED.write_text(history.to_json(), encoding="utf-8")

    assert st.report is not None
    r = st.report
    assert (r.entries, r.unique_users, r.eligible) == (len(batch) + 4, len(batch) + 3, 9)
    assert (r.delivered, r.forfeited, r.unfilled, r.complaints) == (3, 1, 0, 1)
    assert r.prize_cost == Decimal(999 + 99 + 99) and r.results_on_time
    assert r.cost_per_entry == (Decimal(30000) / 9).quantize(Decimal("0.01"))
    with db.session() as s:
        row = s.get(Campaign, st.campaign_id)
        assert row is not None and row.stage == "completed" and row.report is not None
