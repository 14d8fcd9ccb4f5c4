"""ContentWorkflow regressions: messages that arrive while the main loop is busy are never lost, checkpoints
keep their own readings, and an item sent back for changes still expires at its publish time."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from activities.content import ContentActivities
from activities.notify import NotificationActivities
from connectors.registry import ConnectorRegistry
from connectors.sandbox import SandboxPlatform
from db.engine import Database
from db.models import ContentMetric
from domain.content import Decision, ReasonRequest, ReviewRequest, ReviseRequest, Stage, SubmitRequest
from domain.content_io import HoldStatus, ProjectionUpdate
from domain.notify_io import NotifyInput
from tests.content_helpers import People, content_worker, notifications, plan, start_content, version
from tests.waiting import until
from tests.workflows.test_content import approve_all
from workflows.content import ContentWorkflow


class Gate:
    """Holds the projection of one stage until released, so a message can arrive while it runs."""

    def __init__(self, db: Database, stage: Stage) -> None:
        self.real = ContentActivities(db, ConnectorRegistry(db, {}))
        self.stage = stage
        self.entered = threading.Event()
        self.release = threading.Event()

    def activity(self) -> Any:
        @activity.defn(name="sync_projection")
        def sync_projection(inp: ProjectionUpdate) -> None:
            if inp.stage is self.stage and not self.release.is_set():
                self.entered.set()
                self.release.wait(30)
            self.real.sync_projection(inp)

        return sync_projection


async def stage_is(h: Any, *stages: Stage) -> bool:
    return (await h.query(ContentWorkflow.current)).stage in stages


def review(actor: Any, st: Any, decision: Decision = Decision.approve) -> ReviewRequest:
    return ReviewRequest(actor=actor, stage=st.stage, version_hash=st.version_hash, decision=decision)


async def test_a_decision_taken_while_the_stage_is_being_projected_is_kept(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform, people: People
) -> None:
    env, db = time_skipping, sqlite_database
    gate = Gate(db, Stage.review_brand)
    now = await env.get_current_time()
    async with content_worker(env.client, db, sandbox, replace={"sync_projection": gate.activity()}) as w:
        h = await start_content(env.client, w, db, people.creator, plan(now + timedelta(days=2)), version())
        await until(lambda: stage_is(h, Stage.draft), "draft")
        await h.execute_update(ContentWorkflow.submit, SubmitRequest(actor=people.creator))
        await until(lambda: stage_is(h, Stage.review_compliance), "compliance review")
        await h.execute_update(ContentWorkflow.review, review(people.rc, await h.query(ContentWorkflow.current)))
        # The main loop is now inside the activity that projects review_brand: decide right then.
        assert await asyncio.to_thread(gate.entered.wait, 30)
        st = await h.query(ContentWorkflow.current)
        assert st.stage is Stage.review_brand
        decided = asyncio.create_task(h.execute_update(ContentWorkflow.review, review(people.brand, st)))

        async def recorded() -> bool:
            return any(d.stage is Stage.review_brand for d in (await h.query(ContentWorkflow.current)).decisions)

        await until(recorded, "the brand decision accepted while the projection runs")
        gate.release.set()
        record = await decided  # answered once applied
        assert record.stage is Stage.review_brand
        assert await stage_is(h, Stage.review_final, Stage.review_accuracy)
        decisions = [(d.stage, d.actor) for d in (await h.query(ContentWorkflow.current)).decisions]
        assert (Stage.review_brand, people.brand.name) in decisions


async def test_two_reviewers_approving_at_once_advance_one_stage(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform, people: People
) -> None:
    env, db = time_skipping, sqlite_database
    now = await env.get_current_time()
    async with content_worker(env.client, db, sandbox) as w:
        h = await start_content(env.client, w, db, people.creator, plan(now + timedelta(days=2)), version())
        await until(lambda: stage_is(h, Stage.draft), "draft")
        await h.execute_update(ContentWorkflow.submit, SubmitRequest(actor=people.creator))
        await until(lambda: stage_is(h, Stage.review_compliance), "compliance review")
        st = await h.query(ContentWorkflow.current)
        second_rc = people.creator.model_copy(update={"user_id": 9999, "name": "rc2"})  # also risk_compliance
        results = await asyncio.gather(
            h.execute_update(ContentWorkflow.review, review(people.rc, st)),
            h.execute_update(ContentWorkflow.review, review(second_rc, st)),
            return_exceptions=True,
        )
        accepted = [r for r in results if not isinstance(r, BaseException)]
        refused = [r for r in results if isinstance(r, WorkflowUpdateFailedError)]
        assert len(accepted) == 1 and len(refused) == 1, results
        await until(lambda: stage_is(h, Stage.review_brand), "brand review")
        st = await h.query(ContentWorkflow.current)
        assert [d.stage for d in st.decisions] == [Stage.review_compliance]


async def test_checkpoints_an_hour_and_ninety_minutes_keep_separate_readings(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform, people: People
) -> None:
    env, db = time_skipping, sqlite_database
    now = await env.get_current_time()
    checkpoints = [timedelta(hours=1), timedelta(hours=1, minutes=30)]
    async with content_worker(env.client, db, sandbox) as w:
        h = await start_content(
            env.client, w, db, people.creator, plan(now + timedelta(hours=3)), version(), checkpoints=checkpoints
        )
        await until(lambda: stage_is(h, Stage.draft), "draft")
        await h.execute_update(ContentWorkflow.submit, SubmitRequest(actor=people.creator))
        for reviewer in (people.rc, people.brand, people.ops):
            await until(
                lambda: stage_is(h, Stage.review_compliance, Stage.review_brand, Stage.review_final), "review"
            )
            await h.execute_update(
                ContentWorkflow.review, review(reviewer, await h.query(ContentWorkflow.current))
            )
            await until(lambda: stage_is(h, Stage.review_brand, Stage.review_final, Stage.scheduled), "next")
        await env.sleep(timedelta(hours=5))
        st = await h.result()
        assert set(st.metrics) == {"T+1h", "T+90m"}
        assert st.metrics["T+90m"].views > st.metrics["T+1h"].views
        with db.session() as s:
            rows = s.exec(select(ContentMetric)).all()
        assert {r.checkpoint for r in rows} == {"T+1h", "T+90m"}
        for label, total in st.metrics.items():  # the database reads what the workflow read
            assert sum(r.metrics["views"] for r in rows if r.checkpoint == label) == total.views


async def test_an_item_sent_back_for_changes_expires_at_its_publish_time(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform, people: People
) -> None:
    env, db = time_skipping, sqlite_database
    now = await env.get_current_time()
    async with content_worker(env.client, db, sandbox) as w:
        h = await start_content(env.client, w, db, people.creator, plan(now + timedelta(hours=2)), version())
        await until(lambda: stage_is(h, Stage.draft), "draft")
        await h.execute_update(ContentWorkflow.submit, SubmitRequest(actor=people.creator))
        await until(lambda: stage_is(h, Stage.review_compliance), "compliance review")
        st = await h.query(ContentWorkflow.current)
        req = review(people.rc, st, Decision.request_changes).model_copy(update={"notes": "请补充来源"})
        await h.execute_update(ContentWorkflow.review, req)
        await until(lambda: stage_is(h, Stage.revision), "revision")
        await env.sleep(timedelta(hours=3))
        await until(lambda: stage_is(h, Stage.expired), "expired")
        assert any(
            "已过期" in n.subject and n.recipient_user == people.creator.name for n in notifications(db, "alert")
        )


async def test_an_item_past_its_publish_window_waits_for_ops_head(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform, people: People
) -> None:
    """An approved item that reaches its publish step later than its window (an outage, a stalled worker)
    does not go out by itself: the owner is alerted and ops_head confirms (publish_window was never read)."""

    @activity.defn(name="crisis_hold_status")
    def stalled_hold_check() -> HoldStatus:
        time.sleep(2)  # the worker stalls for two real seconds, beyond this item's one-second window
        return HoldStatus(active=False)

    env, db = time_skipping, sqlite_database
    now = await env.get_current_time()
    async with content_worker(env.client, db, sandbox, replace={"crisis_hold_status": stalled_hold_check}) as w:
        h = await start_content(
            env.client,
            w,
            db,
            people.creator,
            plan(now + timedelta(hours=1)),
            version(),
            publish_window=timedelta(seconds=1),
        )
        await until(lambda: stage_is(h, Stage.draft), "draft")
        await h.execute_update(ContentWorkflow.submit, SubmitRequest(actor=people.creator))
        await approve_all(h, people)
        await until(lambda: stage_is(h, Stage.scheduled), "scheduled")
        await env.sleep(timedelta(hours=1, minutes=1))
        await until(lambda: stage_is(h, Stage.awaiting_release), "waiting for confirmation, not published")
        assert sandbox.all_posts() == []
        late = [n for n in notifications(db, "alert") if "错过发布时间" in n.subject]
        assert {(n.recipient_user, n.recipient_role) for n in late} == {("creator", ""), ("", "ops_head")}
        with pytest.raises(WorkflowUpdateFailedError):  # only ops_head confirms
            await h.execute_update(ContentWorkflow.confirm_release, ReasonRequest(actor=people.rc, reason="发"))
        await h.execute_update(
            ContentWorkflow.confirm_release, ReasonRequest(actor=people.ops, reason="内容仍有效")
        )
        await until(lambda: stage_is(h, Stage.tracking, Stage.completed), "published after confirmation")
        assert len(sandbox.all_posts()) == 2


async def test_a_new_version_saved_while_changes_are_being_requested_is_not_lost(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform, people: People
) -> None:
    """The owner revises and resubmits while the "changes requested" notification is still being sent:
    the review restarts (was: the main loop then waited for a version that had already arrived)."""
    real = NotificationActivities(sqlite_database, [])
    entered, release = threading.Event(), threading.Event()

    @activity.defn(name="notify")
    def held_notify(inp: NotifyInput) -> bool:
        if "需要修改" in inp.subject and not release.is_set():
            entered.set()
            release.wait(30)
        return real.notify(inp)

    env, db = time_skipping, sqlite_database
    now = await env.get_current_time()
    async with content_worker(env.client, db, sandbox, replace={"notify": held_notify}) as w:
        h = await start_content(env.client, w, db, people.creator, plan(now + timedelta(days=2)), version())
        await until(lambda: stage_is(h, Stage.draft), "draft")
        await h.execute_update(ContentWorkflow.submit, SubmitRequest(actor=people.creator))
        await until(lambda: stage_is(h, Stage.review_compliance), "compliance review")
        st = await h.query(ContentWorkflow.current)
        changes = ReviewRequest(
            actor=people.rc, stage=st.stage, version_hash=st.version_hash,
            decision=Decision.request_changes, notes="补充价格说明",
        )  # fmt: skip
        await h.execute_update(ContentWorkflow.review, changes)
        assert await asyncio.to_thread(entered.wait, 30)  # the main loop is sending the notification
        rec = await h.execute_update(
            ContentWorkflow.revise, ReviseRequest(actor=people.creator, content=version(body="新品首发价 299 元"))
        )
        await h.execute_update(ContentWorkflow.submit, SubmitRequest(actor=people.creator, version_hash=rec.hash))
        release.set()
        await until(lambda: stage_is(h, Stage.review_compliance), "the review restarted on version 2")
        assert (await h.query(ContentWorkflow.current)).version == 2
