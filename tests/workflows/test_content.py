"""ContentWorkflow on the time-skipping server: review, SLAs, scheduling, hold, publishing, tracking."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from connectors.sandbox import SandboxPlatform
from db import crisis_hold
from db.engine import Database
from db.models import ContentItem, ContentMetric, ContentPublication, ContentVersion
from domain.content import (
    Decision,
    OverrideRequest,
    ReasonRequest,
    RescheduleRequest,
    ReviewRequest,
    ReviseRequest,
    Stage,
    SubmitRequest,
)
from domain.kernel import Actor, Platform
from tests.content_helpers import People, content_worker, notifications, plan, start_content, version
from tests.waiting import until
from workflows.content import ContentWorkflow

pytestmark = pytest.mark.asyncio

CHECKPOINTS = [timedelta(hours=1), timedelta(hours=24)]


async def stage_of(h: WorkflowHandle[Any, Any]) -> Stage:
    return (await h.query(ContentWorkflow.current)).stage


async def wait_stage(h: WorkflowHandle[Any, Any], *stages: Stage, timeout: float = 20) -> None:
    async def reached() -> bool:
        return await stage_of(h) in stages

    await until(reached, f"stage in {stages}", timeout=timeout)


async def decide(
    h: WorkflowHandle[Any, Any], actor: Actor, decision: Decision = Decision.approve, notes: str = "", **kw: Any
) -> Any:
    st = await h.query(ContentWorkflow.current)
    req = ReviewRequest(
        actor=actor,
        stage=kw.get("stage", st.stage),
        version_hash=kw.get("version_hash", st.version_hash),
        decision=decision,
        notes=notes,
    )
    return await h.execute_update(ContentWorkflow.review, req)


async def approve_all(h: WorkflowHandle[Any, Any], p: People) -> None:
    reviewers = {
        Stage.review_compliance: p.rc,
        Stage.review_brand: p.brand,
        Stage.review_accuracy: p.biz,
        Stage.review_final: p.ops,
    }
    decided: Stage | None = None
    while True:
        await wait_stage(h, *(s for s in reviewers if s is not decided), Stage.scheduled, Stage.compliance_blocked)
        stage = await stage_of(h)
        if stage not in reviewers:
            return
        await decide(h, reviewers[stage])
        decided = stage  # accepted; the stage moves once the workflow has applied it


async def test_happy_path_to_published_and_tracked(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform, people: People
) -> None:
    env, db = time_skipping, sqlite_database
    now = await env.get_current_time()
    async with content_worker(env.client, db, sandbox) as w:
        h = await start_content(
            env.client,
            w,
            db,
            people.creator,
            plan(now + timedelta(hours=6)),
            version(body="新品上线，首发价 299 元（详情见官网）"),
            checkpoints=CHECKPOINTS,
        )
        await wait_stage(h, Stage.draft)
        result = await h.execute_update(ContentWorkflow.submit, SubmitRequest(actor=people.creator))
        assert result.submitted, result.findings
        seen: list[Stage] = []
        for reviewer in (people.rc, people.brand, people.biz, people.ops):  # a price → accuracy review
            await wait_stage(
                h, Stage.review_compliance, Stage.review_brand, Stage.review_accuracy, Stage.review_final
            )
            seen.append(await stage_of(h))
            await decide(h, reviewer)
        assert seen == [Stage.review_compliance, Stage.review_brand, Stage.review_accuracy, Stage.review_final]
        await wait_stage(h, Stage.scheduled)
        assert sandbox.all_posts() == []  # not before its time
        await env.sleep(timedelta(hours=6, minutes=1))
        await wait_stage(h, Stage.tracking, Stage.completed)
        await env.sleep(timedelta(hours=25))
        await wait_stage(h, Stage.completed)
        st = await h.query(ContentWorkflow.current)

    posts = sandbox.all_posts()
    assert sorted(p.external_id.split("-")[1] for p in posts) == ["wechat_oa", "weibo"]
    assert all(p.confirmed for p in st.publications)
    weibo = next(p for p in posts if "weibo" in p.external_id)
    assert "#秋季新品#" in weibo.text  # adapted to Weibo's topic syntax
    assert list(st.metrics) == ["T+1h", "T+24h"]
    assert st.metrics["T+24h"].views > st.metrics["T+1h"].views > 0
    assert st.summary is not None and {r.metric for r in st.summary.results} == {"views", "likes"}
    assert "likes" in st.summary.beat
    with db.session() as s:
        item = s.get(ContentItem, st.content_id)
        assert item is not None and item.stage == "completed" and item.summary is not None
        assert len(s.exec(select(ContentMetric)).all()) == 4
        assert len(s.exec(select(ContentPublication)).all()) == 2


async def test_request_changes_then_revision_restarts_at_compliance(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform, people: People
) -> None:
    env, db = time_skipping, sqlite_database
    now = await env.get_current_time()
    async with content_worker(env.client, db, sandbox) as w:
        h = await start_content(env.client, w, db, people.creator, plan(now + timedelta(days=2)), version())
        await wait_stage(h, Stage.draft)
        await h.execute_update(ContentWorkflow.submit, SubmitRequest(actor=people.creator))
        await wait_stage(h, Stage.review_compliance)
        await decide(h, people.rc)
        await wait_stage(h, Stage.review_brand)
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await decide(h, people.brand, Decision.request_changes)
        assert "notes" in str(err.value.cause)
        await decide(h, people.brand, Decision.request_changes, notes="语气太硬，改得亲切些")
        await wait_stage(h, Stage.revision)
        st = await h.query(ContentWorkflow.current)
        assert st.revision_notes == "语气太硬，改得亲切些"
        rec = await h.execute_update(
            ContentWorkflow.revise,
            ReviseRequest(actor=people.creator, content=version(body="新品来啦，欢迎来体验～")),
        )
        assert rec.number == 2
        await h.execute_update(ContentWorkflow.submit, SubmitRequest(actor=people.creator, version_hash=rec.hash))
        await wait_stage(h, Stage.review_compliance)  # restarts at compliance, not at brand
        st = await h.query(ContentWorkflow.current)
        assert st.version == 2 and st.version_hash == rec.hash
    with db.session() as s:
        assert [v.number for v in s.exec(select(ContentVersion).order_by(ContentVersion.number)).all()] == [1, 2]


async def test_outdated_version_and_self_approval_are_rejected(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform, people: People
) -> None:
    env, db = time_skipping, sqlite_database
    now = await env.get_current_time()
    async with content_worker(env.client, db, sandbox) as w:
        h = await start_content(env.client, w, db, people.creator, plan(now + timedelta(days=2)), version())
        await wait_stage(h, Stage.draft)
        old = (await h.query(ContentWorkflow.current)).version_hash
        await h.execute_update(ContentWorkflow.submit, SubmitRequest(actor=people.creator))
        await wait_stage(h, Stage.review_compliance)
        # The creator holds risk_compliance, yet cannot approve their own content.
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await decide(h, people.creator)
        assert "own content" in str(err.value.cause)
        # Wrong role for the stage.
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await decide(h, people.brand)
        assert "role" in str(err.value.cause)
        rec = await h.execute_update(
            ContentWorkflow.revise, ReviseRequest(actor=people.creator, content=version(body="改过的正文"))
        )
        assert rec.hash != old
        await h.execute_update(ContentWorkflow.submit, SubmitRequest(actor=people.creator))
        await wait_stage(h, Stage.review_compliance)
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await decide(h, people.rc, version_hash=old)
        assert "outdated" in str(err.value.cause)
        await decide(h, people.rc)  # the current version is fine
        await wait_stage(h, Stage.review_brand)
        st = await h.query(ContentWorkflow.current)
        assert [(d.actor, d.version) for d in st.decisions] == [("rc", 2)]


async def test_compliance_block_and_override(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform, people: People
) -> None:
    env, db = time_skipping, sqlite_database
    now = await env.get_current_time()
    async with content_worker(env.client, db, sandbox) as w:
        h = await start_content(
            env.client,
            w,
            db,
            people.creator,
            plan(now + timedelta(days=2)),
            version(body="行业最佳的秋季新品，咨询 13812345678"),
        )
        await wait_stage(h, Stage.draft)
        await h.execute_update(ContentWorkflow.submit, SubmitRequest(actor=people.creator))
        await wait_stage(h, Stage.compliance_blocked)
        st = await h.query(ContentWorkflow.current)
        codes = {f.code for f in st.findings}
        assert {"term_ad_absolute", "privacy_mobile"} <= codes
        with pytest.raises(WorkflowUpdateFailedError):  # only risk_compliance overrides
            await h.execute_update(
                ContentWorkflow.override_compliance,
                OverrideRequest(actor=people.ops, version_hash=st.version_hash, reason="x"),
            )
        with pytest.raises(WorkflowUpdateFailedError):  # reviewers are not reviewers of their own items
            await h.execute_update(
                ContentWorkflow.override_compliance,
                OverrideRequest(actor=people.creator, version_hash=st.version_hash, reason="x"),
            )
        await h.execute_update(
            ContentWorkflow.override_compliance,
            OverrideRequest(
                actor=people.rc, version_hash=st.version_hash, reason="“最佳”为第三方评测原话，已取得授权"
            ),
        )
        await wait_stage(h, Stage.review_compliance)
        st = await h.query(ContentWorkflow.current)
        assert st.compliance_override and st.compliance_override.by == "rc"


async def test_self_check_blocks_submission(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform, people: People
) -> None:
    env, db = time_skipping, sqlite_database
    now = await env.get_current_time()
    async with content_worker(env.client, db, sandbox) as w:
        h = await start_content(
            env.client,
            w,
            db,
            people.creator,
            plan(now + timedelta(days=2)),
            version(body="好消息！！！" + "长" * 200 + "（未闭合"),
        )
        await wait_stage(h, Stage.draft)
        result = await h.execute_update(ContentWorkflow.submit, SubmitRequest(actor=people.creator))
        assert not result.submitted
        codes = {(f.code, f.severity.value) for f in result.findings}
        assert ("text_too_long", "blocking") in codes  # Weibo's 140 characters
        assert ("repeated_punctuation", "warning") in codes
        assert ("unbalanced_brackets", "warning") in codes
        assert await stage_of(h) == Stage.draft


async def test_stage_reminder_and_escalation(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform, people: People
) -> None:
    env, db = time_skipping, sqlite_database
    now = await env.get_current_time()
    async with content_worker(env.client, db, sandbox) as w:
        h = await start_content(env.client, w, db, people.creator, plan(now + timedelta(days=3)), version())
        await wait_stage(h, Stage.draft)
        await h.execute_update(ContentWorkflow.submit, SubmitRequest(actor=people.creator))
        await wait_stage(h, Stage.review_compliance)
        assert notifications(db, "reminder") == []
        await env.sleep(timedelta(hours=4, minutes=5))
        for _ in range(50):
            if notifications(db, "reminder"):
                break
            await asyncio.sleep(0.1)
        reminders = notifications(db, "reminder")
        assert [n.recipient_role for n in reminders] == ["risk_compliance"]
        assert notifications(db, "escalation") == []
        await env.sleep(timedelta(hours=4))
        for _ in range(50):
            if notifications(db, "escalation"):
                break
            await asyncio.sleep(0.1)
        assert [n.recipient_role for n in notifications(db, "escalation")] == ["ops_head"]
        assert len(notifications(db, "reminder")) == 1  # each fires once


async def test_unapproved_at_publish_time_expires_and_can_be_rescheduled(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform, people: People
) -> None:
    env, db = time_skipping, sqlite_database
    now = await env.get_current_time()
    async with content_worker(env.client, db, sandbox) as w:
        h = await start_content(env.client, w, db, people.creator, plan(now + timedelta(hours=2)), version())
        await wait_stage(h, Stage.draft)
        await h.execute_update(ContentWorkflow.submit, SubmitRequest(actor=people.creator))
        await wait_stage(h, Stage.review_compliance)
        await env.sleep(timedelta(hours=2, minutes=1))
        await wait_stage(h, Stage.expired)
        assert sandbox.all_posts() == []
        assert any("过期" in n.subject for n in notifications(db, "alert"))
        with pytest.raises(WorkflowUpdateFailedError) as err:  # review is closed while expired
            await decide(h, people.rc, stage=Stage.review_compliance)
        assert "expired" in str(err.value.cause)
        now = await env.get_current_time()
        await h.execute_update(
            ContentWorkflow.reschedule, RescheduleRequest(actor=people.creator, publish_at=now + timedelta(days=1))
        )
        await wait_stage(h, Stage.review_compliance)  # back where it was
        await approve_all(h, people)
        await wait_stage(h, Stage.scheduled)


async def test_reschedule_and_cancel_while_waiting(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform, people: People
) -> None:
    env, db = time_skipping, sqlite_database
    now = await env.get_current_time()
    async with content_worker(env.client, db, sandbox) as w:
        h = await start_content(env.client, w, db, people.creator, plan(now + timedelta(hours=3)), version())
        await wait_stage(h, Stage.draft)
        await h.execute_update(ContentWorkflow.submit, SubmitRequest(actor=people.creator))
        await approve_all(h, people)
        await wait_stage(h, Stage.scheduled)
        now = await env.get_current_time()
        await h.execute_update(
            ContentWorkflow.reschedule, RescheduleRequest(actor=people.ops, publish_at=now + timedelta(hours=10))
        )
        await env.sleep(timedelta(hours=4))
        assert await stage_of(h) == Stage.scheduled and sandbox.all_posts() == []  # the old time passed quietly
        await h.execute_update(ContentWorkflow.cancel, ReasonRequest(actor=people.creator, reason="活动取消"))
        await wait_stage(h, Stage.cancelled)
        await env.sleep(timedelta(hours=12))
        assert sandbox.all_posts() == []  # a cancelled item never publishes
        result = await h.result()
        assert result.stage == Stage.cancelled and result.outcome_reason == "活动取消"


async def test_crisis_hold_and_release(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform, people: People
) -> None:
    env, db = time_skipping, sqlite_database
    with db.session() as s:
        crisis_hold.change(s, holder=crisis_hold.MANUAL, active=True, reason="重大舆情处置中", by="ops")
        s.commit()
    now = await env.get_current_time()
    async with content_worker(env.client, db, sandbox) as w:
        h = await start_content(env.client, w, db, people.creator, plan(now + timedelta(hours=2)), version())
        await wait_stage(h, Stage.draft)
        await h.execute_update(ContentWorkflow.submit, SubmitRequest(actor=people.creator))
        await approve_all(h, people)
        await env.sleep(timedelta(hours=2, minutes=1))
        await wait_stage(h, Stage.held)
        await env.sleep(timedelta(hours=1))
        assert await stage_of(h) == Stage.held and sandbox.all_posts() == []
        with db.session() as s:
            crisis_hold.change(s, holder=crisis_hold.MANUAL, active=False, reason="已平息", by="ops")
            s.commit()
        await h.signal(ContentWorkflow.hold_released_signal)
        await wait_stage(h, Stage.awaiting_release)
        assert sandbox.all_posts() == []  # release alone does not publish
        with pytest.raises(WorkflowUpdateFailedError):
            await h.execute_update(ContentWorkflow.confirm_release, ReasonRequest(actor=people.rc))
        await h.execute_update(ContentWorkflow.confirm_release, ReasonRequest(actor=people.ops, reason="已核对"))
        await wait_stage(h, Stage.tracking, Stage.completed)
        assert len(sandbox.all_posts()) == 2


async def test_timeout_after_accept_publishes_exactly_once(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform, people: People
) -> None:
    env, db = time_skipping, sqlite_database
    sandbox.inject_fault(Platform.weibo, "publish", "timeout_after_accept")
    now = await env.get_current_time()
    async with content_worker(env.client, db, sandbox) as w:
        h = await start_content(
            env.client, w, db, people.creator, plan(now + timedelta(hours=2)), version(), checkpoints=CHECKPOINTS
        )
        await wait_stage(h, Stage.draft)
        await h.execute_update(ContentWorkflow.submit, SubmitRequest(actor=people.creator))
        await approve_all(h, people)
        await env.sleep(timedelta(hours=2, minutes=1))
        await wait_stage(h, Stage.tracking, Stage.completed)
        st = await h.query(ContentWorkflow.current)
    weibo_posts = sandbox.all_posts(Platform.weibo)
    assert len(weibo_posts) == 1
    pub = next(p for p in st.publications if p.platform is Platform.weibo)
    assert pub.external_id == weibo_posts[0].external_id and pub.confirmed


async def test_confirmation_mismatch_alerts_the_owner(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform, people: People
) -> None:
    env, db = time_skipping, sqlite_database
    sandbox.inject_fault(Platform.wechat_oa, "publish", "tamper")
    now = await env.get_current_time()
    async with content_worker(env.client, db, sandbox) as w:
        h = await start_content(env.client, w, db, people.creator, plan(now + timedelta(hours=2)), version())
        await wait_stage(h, Stage.draft)
        await h.execute_update(ContentWorkflow.submit, SubmitRequest(actor=people.creator))
        await approve_all(h, people)
        await env.sleep(timedelta(hours=2, minutes=1))
        await wait_stage(h, Stage.tracking, Stage.completed)
        st = await h.query(ContentWorkflow.current)
    by_platform = {p.platform: p for p in st.publications}
    assert by_platform[Platform.weibo].confirmed is True
    assert by_platform[Platform.wechat_oa].confirmed is False
    alerts = [n for n in notifications(db, "alert") if "核验" in n.subject]
    assert {(n.recipient_user, n.recipient_role) for n in alerts} == {("creator", ""), ("", "ops_head")}


async def test_retraction_removes_posts_with_reason(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform, people: People
) -> None:
    env, db = time_skipping, sqlite_database
    now = await env.get_current_time()
    async with content_worker(env.client, db, sandbox) as w:
        h = await start_content(env.client, w, db, people.creator, plan(now + timedelta(hours=2)), version())
        await wait_stage(h, Stage.draft)
        await h.execute_update(ContentWorkflow.submit, SubmitRequest(actor=people.creator))
        await approve_all(h, people)
        await env.sleep(timedelta(hours=2, minutes=1))
        await wait_stage(h, Stage.tracking)
        with pytest.raises(WorkflowUpdateFailedError):
            await h.execute_update(ContentWorkflow.retract, ReasonRequest(actor=people.rc, reason=""))
        await h.execute_update(
            ContentWorkflow.retract, ReasonRequest(actor=people.rc, reason="数据有误，撤回更正")
        )
        await wait_stage(h, Stage.retracted)
    assert {p.status for p in sandbox.all_posts()} == {"deleted"}
    with db.session() as s:
        reasons = {p.retract_reason for p in s.exec(select(ContentPublication)).all()}
    assert reasons == {"数据有误，撤回更正"}
