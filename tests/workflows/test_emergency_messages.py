"""EmergencyWorkflow under real conditions: two incidents at once, two people publishing at once, and a
missed holding statement at a level leadership does not approve (issue 11)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from connectors.sandbox import SandboxPlatform
from core.temporal import connect, ensure_search_attributes
from db import crisis_hold
from db.engine import Database
from db.models import Incident
from domain.emergency import (
    ApproveStatementRequest,
    DraftStatementRequest,
    IncidentStage,
    ResolveRequest,
    StatementKind,
    StatementRef,
    StatementStatus,
)
from domain.kernel import Platform
from domain.risk import Impact, Likelihood, RiskLevel
from tests.conftest import CONCURRENCY_NAMESPACE, DevServer, test_settings
from tests.content_helpers import content_worker, notifications
from tests.emergency_helpers import Team, start_incident, wait_for, wait_stage
from tests.waiting import until
from tests.workflows.test_emergency import ack_all, confirm
from workflows.emergency import EmergencyWorkflow

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def dev_client(dev_server: DevServer, sqlite_database: Database) -> AsyncIterator[Client]:
    """The dev server's real concurrency, in a namespace of these tests; incident ids start at a random
    offset so this test's ``incident-N`` never meets an earlier test's on the shared server."""
    settings = test_settings(
        sqlite_database, temporal_address=dev_server.address, temporal_namespace=CONCURRENCY_NAMESPACE
    )
    c = await connect(settings)
    await ensure_search_attributes(c, CONCURRENCY_NAMESPACE)
    with sqlite_database.session() as s:
        s.add(Incident(id=random.randint(10**6, 10**9), title="(id offset)", reported_by="test", stage="closed"))
        s.commit()
    yield c


def hold_status(db: Database) -> tuple[bool, list[str]]:
    with db.session() as s:
        st = crisis_hold.status(s)
    return st.active, st.holders


async def _hold_stays(client: Client, sqlite_database: Database, sandbox: SandboxPlatform, team: Team) -> None:
    db = sqlite_database
    async with content_worker(client, db, sandbox) as w:
        first, second = await asyncio.gather(  # two high incidents at once
            start_incident(client, w, db, title="产品起火视频在抖音传播"),
            start_incident(client, w, db, title="门店食品安全投诉登上微博热搜"),
        )
        for h in (first, second):
            await wait_stage(h, IncidentStage.confirming)
            await h.execute_update(EmergencyWorkflow.confirm, confirm(team))  # high: the plan holds content
            await wait_for(h, lambda st: st.crisis_hold, "hold set")
            await wait_stage(h, IncidentStage.assembling)
        active, holders = hold_status(db)
        assert active and sorted(holders) == sorted([first.id, second.id])

        await first.execute_update(
            EmergencyWorkflow.resolve, ResolveRequest(actor=team.lead, summary="已平息", waive_reason="演示")
        )
        await wait_stage(first, IncidentStage.resolved)
        await wait_for(first, lambda st: not st.crisis_hold, "first let go")
        active, holders = hold_status(db)
        assert active and holders == [second.id]  # was: the first resolution lifted the hold for both

        await second.execute_update(
            EmergencyWorkflow.resolve, ResolveRequest(actor=team.lead, summary="已平息", waive_reason="演示")
        )
        await wait_for(second, lambda st: not st.crisis_hold, "second let go")
        await until(lambda: hold_status(db) == (False, []), "the last holder let go: publishing resumes")


async def _publish_once(client: Client, sqlite_database: Database, sandbox: SandboxPlatform, team: Team) -> None:
    db = sqlite_database
    async with content_worker(client, db, sandbox) as w:
        h = await start_incident(client, w, db)
        await wait_stage(h, IncidentStage.confirming)
        await h.execute_update(EmergencyWorkflow.confirm, confirm(team))
        await wait_stage(h, IncidentStage.assembling)
        await ack_all(h, team)
        stmt = await h.execute_update(
            EmergencyWorkflow.draft_statement,
            DraftStatementRequest(
                actor=team.ops, kind=StatementKind.full, text="关于产品安全问题的说明：已停售并召回相关批次。"
            ),
        )
        await h.execute_update(
            EmergencyWorkflow.approve_statement,
            ApproveStatementRequest(actor=team.lead, statement_id=stmt.id, text_hash=stmt.text_hash),
        )
        results = await asyncio.gather(
            *(
                h.execute_update(
                    EmergencyWorkflow.publish_statement, StatementRef(actor=who, statement_id=stmt.id)
                )
                for who in (team.lead, team.ops, team.mkt)
            ),
            return_exceptions=True,
        )
        assert sum(isinstance(r, WorkflowUpdateFailedError) for r in results) == 2, results
        st = await wait_for(h, lambda st: st.statements[0].status is StatementStatus.published, "published")
        assert [e.kind for e in st.timeline].count("statement_published") == 1
        assert len(sandbox.all_posts(Platform.weibo)) == 1


async def test_a_missed_holding_statement_at_medium_goes_to_ops_head_and_informs_leadership(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform, team: Team
) -> None:
    env, db = time_skipping, sqlite_database
    async with content_worker(env.client, db, sandbox) as w:
        h = await start_incident(env.client, w, db)
        await wait_stage(h, IncidentStage.confirming)
        await h.execute_update(EmergencyWorkflow.confirm, confirm(team, Impact.moderate, Likelihood.likely))
        st = await wait_stage(h, IncidentStage.assembling)
        assert st.level is RiskLevel.medium
        await ack_all(h, team)
        await env.sleep(timedelta(hours=2, minutes=1))  # medium: a holding statement within 2 hours
        st = await wait_for(h, lambda st: len(st.statements) == 1, "holding statement offered")
        offer = st.statements[0]
        offers = [n for n in notifications(db) if "未在时限内发声" in n.subject]
        assert {(n.kind, n.recipient_role) for n in offers} == {("alert", "ops_head"), ("info", "leadership")}
        with pytest.raises(WorkflowUpdateFailedError):  # leadership is informed, but does not approve here
            await h.execute_update(
                EmergencyWorkflow.approve_statement,
                ApproveStatementRequest(actor=team.lead, statement_id=offer.id, text_hash=offer.text_hash),
            )
        await h.execute_update(
            EmergencyWorkflow.approve_statement,
            ApproveStatementRequest(actor=team.ops, statement_id=offer.id, text_hash=offer.text_hash),
        )


async def test_a_medium_statement_the_ops_head_drafted_is_approved_by_leadership(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform, team: Team
) -> None:
    """Was: with one ops_head, a medium statement they drafted could be approved by nobody."""
    env, db = time_skipping, sqlite_database
    async with content_worker(env.client, db, sandbox) as w:
        h = await start_incident(env.client, w, db)
        await wait_stage(h, IncidentStage.confirming)
        await h.execute_update(EmergencyWorkflow.confirm, confirm(team, Impact.moderate, Likelihood.likely))
        st = await wait_stage(h, IncidentStage.assembling)
        assert st.level is RiskLevel.medium
        text = "关于部分用户反映的暖手宝发热问题，我们已成立专项小组排查，结果将于24小时内公布。"

        async def draft(actor: Any) -> Any:
            return await h.execute_update(
                EmergencyWorkflow.draft_statement,
                DraftStatementRequest(actor=actor, kind=StatementKind.holding, text=text, channels=["weibo"]),
            )

        async def wait_approvable(stmt_id: int) -> Any:
            return await wait_for(
                h, lambda st: st.statements[stmt_id - 1].status is StatementStatus.draft, "statement checked"
            )

        by_ops = await draft(team.ops)
        by_ops = (await wait_approvable(by_ops.id)).statements[by_ops.id - 1]
        own = ApproveStatementRequest(actor=team.ops, statement_id=by_ops.id, text_hash=by_ops.text_hash)
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await h.execute_update(EmergencyWorkflow.approve_statement, own)
        assert "drafted" in str(err.value.cause)
        by_mkt = await draft(team.mkt)
        by_mkt = (await wait_approvable(by_mkt.id)).statements[by_mkt.id - 1]
        with pytest.raises(WorkflowUpdateFailedError) as err:  # another drafter: the ops_head approves
            await h.execute_update(
                EmergencyWorkflow.approve_statement,
                ApproveStatementRequest(actor=team.lead, statement_id=by_mkt.id, text_hash=by_mkt.text_hash),
            )
        assert "approved by ops_head" in str(err.value.cause)
        approved = await h.execute_update(
            EmergencyWorkflow.approve_statement,
            ApproveStatementRequest(actor=team.lead, statement_id=by_ops.id, text_hash=by_ops.text_hash),
        )
        assert approved.status is StatementStatus.approved and approved.approved_by == team.lead.name


async def test_a_statement_is_scanned_and_adapted_before_approval(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform, team: Team
) -> None:
    """Was: a 314-character statement with 第一/最佳 went to Weibo as it was."""
    from domain.emergency import StatementOverride, statement_hash
    from domain.platform_rules import text_length

    env, db = time_skipping, sqlite_database
    async with content_worker(env.client, db, sandbox) as w:
        h = await start_incident(env.client, w, db)
        await wait_stage(h, IncidentStage.confirming)
        await h.execute_update(EmergencyWorkflow.confirm, confirm(team))
        await wait_stage(h, IncidentStage.assembling)
        text = (
            "我们是行业第一的品牌，产品质量最佳。"
            + "关于近日网络反映的暖手宝充电发热问题，我们已成立专项小组全面排查。" * 9
        )
        stmt = await h.execute_update(
            EmergencyWorkflow.draft_statement,
            DraftStatementRequest(
                actor=team.ops, kind=StatementKind.full, text=text, channels=["weibo", "wechat_oa"]
            ),
        )
        assert stmt.status is StatementStatus.draft and stmt.blocking  # 第一/最佳: absolute terms
        weibo = next(v for v in stmt.variants if v.channel == "weibo")
        assert weibo.title == "" and text_length(weibo.body) <= 140 and weibo.body.endswith("（全文见官网声明）")
        assert stmt.text_hash == statement_hash(text, stmt.variants)  # the approval covers every version
        approve = ApproveStatementRequest(actor=team.lead, statement_id=stmt.id, text_hash=stmt.text_hash)
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await h.execute_update(EmergencyWorkflow.approve_statement, approve)
        assert "blocking findings" in str(err.value.cause)
        with pytest.raises(WorkflowUpdateFailedError):  # only risk_compliance overrides
            await h.execute_update(
                EmergencyWorkflow.override_statement,
                StatementOverride(actor=team.lead, statement_id=stmt.id, reason="领导同意"),
            )
        await h.execute_update(
            EmergencyWorkflow.override_statement,
            StatementOverride(actor=team.rc, statement_id=stmt.id, reason="引用第三方认证结论，已核实"),
        )
        await h.execute_update(EmergencyWorkflow.approve_statement, approve)
        await h.execute_update(
            EmergencyWorkflow.publish_statement, StatementRef(actor=team.lead, statement_id=stmt.id)
        )
        (post,) = sandbox.all_posts(Platform.weibo)
        assert post.text == weibo.body and post.title == ""
        (oa,) = sandbox.all_posts(Platform.wechat_oa)
        assert oa.text == text and oa.title.startswith("关于")  # an article has a title


async def test_the_hold_stays_while_another_high_incident_holds_it_time_skipping(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform, team: Team
) -> None:
    await _hold_stays(time_skipping.client, sqlite_database, sandbox, team)


async def test_the_hold_stays_while_another_high_incident_holds_it_on_the_dev_server(
    dev_client: Client, sqlite_database: Database, sandbox: SandboxPlatform, team: Team
) -> None:
    await _hold_stays(dev_client, sqlite_database, sandbox, team)


async def test_a_statement_published_by_three_people_at_once_goes_out_once_time_skipping(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform, team: Team
) -> None:
    await _publish_once(time_skipping.client, sqlite_database, sandbox, team)


async def test_a_statement_published_by_three_people_at_once_goes_out_once_on_the_dev_server(
    dev_client: Client, sqlite_database: Database, sandbox: SandboxPlatform, team: Team
) -> None:
    await _publish_once(dev_client, sqlite_database, sandbox, team)
