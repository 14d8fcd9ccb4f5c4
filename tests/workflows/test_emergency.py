"""EmergencyWorkflow on the time-skipping server."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlmodel import select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from connectors.sandbox import SandboxPlatform
from db.engine import Database
from db.models import CrisisHold, Incident, IncidentPlanRow
from domain.content import Stage, SubmitRequest
from domain.emergency import (
    AckRequest,
    ActionItem,
    ApproveStatementRequest,
    AssessRequest,
    ConfirmRequest,
    DraftStatementRequest,
    IncidentStage,
    PostmortemRequest,
    ResolveRequest,
    StatementKind,
    StatementRef,
    TaskRequest,
    TaskUpdate,
    Truth,
    text_hash,
)
from domain.kernel import Platform
from domain.risk import Impact, Likelihood, RiskLevel
from domain.roles import Role
from tests.content_helpers import content_worker, notifications, plan, seed_people, start_content, version
from tests.emergency_helpers import Team, events, start_incident, wait_for, wait_stage
from tests.seeds import seed_accounts
from workflows.content import ContentWorkflow
from workflows.emergency import EmergencyWorkflow, IncidentTaskWorkflow

pytestmark = pytest.mark.asyncio


def confirm(
    team: Team,
    impact: Impact = Impact.major,
    likelihood: Likelihood = Likelihood.likely,
    truth: Truth = Truth.confirmed,
) -> ConfirmRequest:
    return ConfirmRequest(
        actor=team.rc, truth=truth, scope="华东地区部分用户", impact=impact, likelihood=likelihood
    )


async def ack_all(h, team: Team) -> None:  # type: ignore[no-untyped-def]
    st = await h.query(EmergencyWorkflow.current)
    by_name = {a.name: a for a in (team.rc, team.lead, team.ops, team.mkt, team.agent)}
    for m in st.members:
        if m.acknowledged_at is None:
            await h.execute_update(EmergencyWorkflow.acknowledge, AckRequest(actor=by_name[m.user]))


async def test_high_incident_from_report_to_postmortem(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform, team: Team
) -> None:
    env, db = time_skipping, sqlite_database
    async with content_worker(env.client, db, sandbox) as w:
        h = await start_incident(env.client, w, db)
        await wait_stage(h, IncidentStage.confirming)
        with pytest.raises(WorkflowUpdateFailedError):  # only risk_compliance confirms
            await h.execute_update(EmergencyWorkflow.confirm, confirm(team).model_copy(update={"actor": team.ops}))
        await h.execute_update(EmergencyWorkflow.confirm, confirm(team))
        st = await wait_stage(h, IncidentStage.assembling)
        assert st.level is RiskLevel.high and st.crisis_hold and st.commander == "lead"
        assert {(m.user, m.role.value) for m in st.members} == {
            ("lead", "leadership"),
            ("ops", "ops_head"),
            ("rc", "risk_compliance"),
            ("mkt", "marketing"),
        }
        with db.session() as s:
            hold = s.get(CrisisHold, 1)
            assert hold is not None and hold.active
        await ack_all(h, team)
        await wait_stage(h, IncidentStage.responding)

        await h.execute_update(
            EmergencyWorkflow.assess,
            AssessRequest(actor=team.lead, nature="产品质量", trend="上升", likely_impact="销量与口碑"),
        )
        text = "关于部分产品异响问题，我们深表歉意。经初步调查，系某批次零件公差所致。我们已暂停该批次销售并提供免费更换。"
        stmt = await h.execute_update(
            EmergencyWorkflow.draft_statement,
            DraftStatementRequest(
                actor=team.ops, kind=StatementKind.full, text=text, template_key="serious_incident"
            ),
        )
        assert stmt.channels == ["weibo", "wechat_oa", "website", "customer_service"]
        with pytest.raises(WorkflowUpdateFailedError) as err:  # high level: leadership approves, not ops_head
            await h.execute_update(
                EmergencyWorkflow.approve_statement,
                ApproveStatementRequest(actor=team.ops, statement_id=1, text_hash=stmt.text_hash),
            )
        assert "leadership" in str(err.value.cause)
        with pytest.raises(WorkflowUpdateFailedError) as err:  # bound to the exact text
            await h.execute_update(
                EmergencyWorkflow.approve_statement,
                ApproveStatementRequest(actor=team.lead, statement_id=1, text_hash=text_hash(text + "。")),
            )
        assert "exact text" in str(err.value.cause)
        with pytest.raises(WorkflowUpdateFailedError):  # not yet approved
            await h.execute_update(
                EmergencyWorkflow.publish_statement, StatementRef(actor=team.ops, statement_id=1)
            )
        await h.execute_update(
            EmergencyWorkflow.approve_statement,
            ApproveStatementRequest(actor=team.lead, statement_id=1, text_hash=stmt.text_hash),
        )
        published = await h.execute_update(
            EmergencyWorkflow.publish_statement, StatementRef(actor=team.ops, statement_id=1)
        )
        assert {r.channel for r in published.results if r.ok} == {"weibo", "wechat_oa", "customer_service"}
        website = next(r for r in published.results if r.channel == "website")  # no website account configured
        assert not website.ok and "no active website account" in website.error
        assert any(
            "声明发布失败：website" in n.subject and n.recipient_user == "lead" for n in notifications(db, "alert")
        )
        assert {p.external_id.split("-")[1] for p in sandbox.all_posts()} == {"weibo", "wechat_oa"}
        assert any("客服统一话术" in n.subject for n in notifications(db))

        task = await h.execute_update(
            EmergencyWorkflow.add_task,
            TaskRequest(
                actor=team.lead, kind="legal", title="法务评估召回义务", owner="rc", due_in=timedelta(hours=6)
            ),
        )
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await h.execute_update(EmergencyWorkflow.resolve, ResolveRequest(actor=team.lead, summary="已处理"))
        assert "required task" in str(err.value.cause)
        await env.client.get_workflow_handle(task.workflow_id).execute_update(
            IncidentTaskWorkflow.complete, TaskUpdate(actor=team.rc, note="无需召回")
        )
        await wait_for(h, lambda st: st.tasks[0].status == "done", "task done")
        await h.execute_update(
            EmergencyWorkflow.resolve, ResolveRequest(actor=team.lead, summary="更换完成，舆情平息")
        )
        st = await wait_stage(h, IncidentStage.resolved)
        # The post-mortem is sent at once, while the hold may still be being released: its archived
        # timeline still includes the release (it waits for it).
        high_plan = st.model_copy()
        with db.session() as s:
            plan_row = s.exec(select(IncidentPlanRow).where(IncidentPlanRow.level == "high")).first()
            assert plan_row is not None
            revised = dict(plan_row.content)
        revised["holding_statement_within"] = "PT30M"
        await h.execute_update(
            EmergencyWorkflow.postmortem,
            PostmortemRequest(
                actor=team.lead,
                causes="零件供应商变更未经验证",
                lessons="供应链变更需质检",
                went_well="1 小时内发声",
                action_items=[ActionItem(title="修订供应商准入流程", kind="plan_revision", owner="ops")],
                plan_revision=revised,
            ),
        )
        result = await h.result()
        del high_plan
    with db.session() as s:
        hold = s.get(CrisisHold, 1)
        assert hold is not None and not hold.active
    assert result.postmortem is not None
    assert "crisis_hold_released" in [e.kind for e in result.postmortem.timeline]

    assert result.stage is IncidentStage.closed
    assert result.postmortem is not None and result.postmortem.plan_version_created == 2
    f = result.figures
    assert (
        f.time_to_confirm_s is not None
        and f.time_to_team_s is not None
        and f.time_to_first_statement_s is not None
    )
    assert f.deadlines["confirm"] and f.deadlines["holding_statement"] and f.deadlines["full_statement"]
    # The timeline lists every step with actor and time, in the database as in the workflow.
    kinds = [e.kind for e in result.timeline]
    for step in (
        "reported",
        "confirmed",
        "plan_activated",
        "crisis_hold_set",
        "paged",
        "acknowledged",
        "assessed",
        "statement_drafted",
        "statement_approved",
        "statement_published",
        "task_added",
        "task_done",
        "resolved",
        "crisis_hold_released",
        "postmortem",
    ):
        assert step in kinds, step
    stored = events(db, result.incident_id)
    assert [(e.kind, e.actor) for e in stored] == [(e.kind, e.actor) for e in result.timeline]
    assert next(e for e in stored if e.kind == "statement_approved").actor == "lead"
    assert all(e.at is not None for e in stored)
    with db.session() as s:
        row = s.get(Incident, result.incident_id)
        assert row is not None and row.stage == "closed" and row.figures and row.postmortem
        assert s.exec(
            select(IncidentPlanRow).where(IncidentPlanRow.level == "high", IncidentPlanRow.version == 2)
        ).first()


async def test_false_alarm_closes_with_record(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform, team: Team
) -> None:
    async with content_worker(time_skipping.client, sqlite_database, sandbox) as w:
        h = await start_incident(time_skipping.client, w, sqlite_database)
        await wait_stage(h, IncidentStage.confirming)
        await h.execute_update(EmergencyWorkflow.confirm, confirm(team, truth=Truth.false_alarm))
        result = await h.result()
    assert result.stage is IncidentStage.false_alarm and result.members == [] and not result.crisis_hold
    assert [e.kind for e in result.timeline] == ["reported", "confirmed"]


async def test_missed_confirmation_escalates_to_leadership(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform, team: Team
) -> None:
    async with content_worker(time_skipping.client, sqlite_database, sandbox) as w:
        h = await start_incident(time_skipping.client, w, sqlite_database)
        await wait_stage(h, IncidentStage.confirming)
        assert notifications(sqlite_database, "escalation") == []
        await time_skipping.sleep(timedelta(minutes=31))  # the strictest plan: 30 minutes
        await wait_for(h, lambda st: "confirmation_escalated" in [e.kind for e in st.timeline], "escalation")
        assert [n.recipient_role for n in notifications(sqlite_database, "escalation")] == ["leadership"]
        await h.execute_update(EmergencyWorkflow.confirm, confirm(team, Impact.minor, Likelihood.possible))
        st = await wait_stage(h, IncidentStage.assembling, IncidentStage.responding)
        assert st.level is RiskLevel.low and st.figures.deadlines["confirm"] is False


async def test_unacknowledged_member_is_repaged_then_escalated(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform, team: Team
) -> None:
    env, db = time_skipping, sqlite_database
    async with content_worker(env.client, db, sandbox) as w:
        h = await start_incident(env.client, w, db)
        await wait_stage(h, IncidentStage.confirming)
        await h.execute_update(EmergencyWorkflow.confirm, confirm(team))
        await wait_stage(h, IncidentStage.assembling)
        for who in (team.lead, team.ops, team.rc):  # marketing never answers
            await h.execute_update(EmergencyWorkflow.acknowledge, AckRequest(actor=who))
        with pytest.raises(WorkflowUpdateFailedError):  # nobody paged the agent
            await h.execute_update(EmergencyWorkflow.acknowledge, AckRequest(actor=team.agent))
        await env.sleep(timedelta(minutes=16))  # high: 15 minutes to acknowledge
        st = await wait_for(h, lambda st: "repaged" in [e.kind for e in st.timeline], "re-page")
        assert next(m for m in st.members if m.user == "mkt").pages == 2
        assert st.stage is IncidentStage.assembling
        await env.sleep(timedelta(minutes=16))
        st = await wait_for(h, lambda st: "ack_escalated" in [e.kind for e in st.timeline], "escalation")
        esc = notifications(db, "escalation")
        assert {(n.recipient_role, n.recipient_user) for n in esc} == {("leadership", ""), ("", "lead")}
        await wait_stage(h, IncidentStage.responding)  # the team proceeds without the missing member


async def test_missed_holding_statement_alerts_leadership_with_the_plan_line(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform, team: Team
) -> None:
    env, db = time_skipping, sqlite_database
    async with content_worker(env.client, db, sandbox) as w:
        h = await start_incident(env.client, w, db)
        await wait_stage(h, IncidentStage.confirming)
        await h.execute_update(EmergencyWorkflow.confirm, confirm(team))
        await wait_stage(h, IncidentStage.assembling)
        await ack_all(h, team)
        await env.sleep(timedelta(minutes=61))  # high: a holding statement within 1 hour
        st = await wait_for(h, lambda st: len(st.statements) == 1, "holding statement offered")
        offer = st.statements[0]
        assert offer.kind is StatementKind.holding and offer.text.startswith("我们已关注到相关情况")
        alerts = [n for n in notifications(db, "alert") if "未在时限内发声" in n.subject]
        assert alerts and alerts[0].recipient_role == "leadership" and offer.text in alerts[0].body
        # One click: approve exactly that text, then publish.
        await h.execute_update(
            EmergencyWorkflow.approve_statement,
            ApproveStatementRequest(actor=team.lead, statement_id=offer.id, text_hash=offer.text_hash),
        )
        await h.execute_update(
            EmergencyWorkflow.publish_statement, StatementRef(actor=team.lead, statement_id=offer.id)
        )
        st = await h.query(EmergencyWorkflow.current)
        assert st.figures.deadlines["holding_statement"] is False


async def test_relevelling_switches_deadlines_at_once(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform, team: Team
) -> None:
    env, db = time_skipping, sqlite_database
    async with content_worker(env.client, db, sandbox) as w:
        h = await start_incident(env.client, w, db)
        await wait_stage(h, IncidentStage.confirming)
        await h.execute_update(
            EmergencyWorkflow.confirm, confirm(team, Impact.moderate, Likelihood.likely)
        )  # medium
        st = await wait_stage(h, IncidentStage.assembling)
        assert st.level is RiskLevel.medium and not st.crisis_hold and st.commander == "ops"
        await ack_all(h, team)
        await h.execute_update(
            EmergencyWorkflow.assess,
            AssessRequest(
                actor=team.ops,
                nature="质量问题",
                trend="迅速扩散",
                impact=Impact.severe,
                likelihood=Likelihood.likely,
            ),
        )
        st = await wait_for(h, lambda st: st.level is RiskLevel.high, "relevel")
        assert st.crisis_hold  # the high plan holds scheduled content
        # Upward, the higher plan brings its people: command passes to leadership, its required roles are
        # paged, and its whole escalation path hears of it (was: nobody new was paged).
        st = await wait_for(h, lambda st: st.commander == "lead", "command passed to the high plan's commander")
        assert "command_handed_over" in [e.kind for e in st.timeline]
        assert {m.role for m in st.members} >= {
            Role.leadership,
            Role.ops_head,
            Role.risk_compliance,
            Role.marketing,
        }
        raised = {n.recipient_role for n in notifications(db, "alert") if "事件升级为 high" in n.subject}
        assert raised == {"risk_compliance", "ops_head"}  # leadership has its own relevel alert
        await env.sleep(timedelta(minutes=65))  # high: 1 h to a holding statement (medium would allow 2 h)
        st = await wait_for(h, lambda st: st.statements, "holding offer after the high deadline")
        assert st.figures.deadlines["holding_statement"] is False
        await h.execute_update(EmergencyWorkflow.resolve, ResolveRequest(actor=team.lead, summary="x"))


async def test_follow_up_cadence_reminds_and_escalates(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform, team: Team
) -> None:
    env, db = time_skipping, sqlite_database
    async with content_worker(env.client, db, sandbox) as w:
        h = await start_incident(env.client, w, db)
        await wait_stage(h, IncidentStage.confirming)
        await h.execute_update(EmergencyWorkflow.confirm, confirm(team))
        await wait_stage(h, IncidentStage.assembling)
        await ack_all(h, team)

        async def say(kind: StatementKind, text: str) -> None:
            s = await h.execute_update(
                EmergencyWorkflow.draft_statement,
                DraftStatementRequest(actor=team.ops, kind=kind, text=text, channels=["weibo"]),
            )
            await h.execute_update(
                EmergencyWorkflow.approve_statement,
                ApproveStatementRequest(actor=team.lead, statement_id=s.id, text_hash=s.text_hash),
            )
            await h.execute_update(
                EmergencyWorkflow.publish_statement, StatementRef(actor=team.ops, statement_id=s.id)
            )

        await say(StatementKind.full, "正式声明")
        await env.sleep(timedelta(hours=3))
        await say(StatementKind.update, "进展一")  # on time: resets the 4-hour cadence
        await env.sleep(timedelta(hours=3, minutes=30))
        assert notifications(db, "reminder") == []
        await env.sleep(timedelta(minutes=31))  # 4 h after the last update
        await wait_for(h, lambda st: "update_due" in [e.kind for e in st.timeline], "reminder")
        assert [n.recipient_user for n in notifications(db, "reminder")] == ["lead"]
        await env.sleep(timedelta(hours=2, minutes=1))  # half a cadence later: escalation
        await wait_for(h, lambda st: "update_missed" in [e.kind for e in st.timeline], "escalation")
        assert any("进展更新逾期" in n.subject for n in notifications(db, "escalation"))
        await say(StatementKind.update, "进展二")
        st = await wait_for(h, lambda st: st.figures.updates_due == 2, "cadence counted")
        assert st.figures.updates_on_time == 1 and st.figures.cadence_adherence == 0.5


async def test_waiver_allows_resolution_with_open_tasks(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform, team: Team
) -> None:
    env, db = time_skipping, sqlite_database
    async with content_worker(env.client, db, sandbox) as w:
        h = await start_incident(env.client, w, db)
        await wait_stage(h, IncidentStage.confirming)
        await h.execute_update(EmergencyWorkflow.confirm, confirm(team))
        await wait_stage(h, IncidentStage.assembling)
        task = await h.execute_update(
            EmergencyWorkflow.add_task,
            TaskRequest(
                actor=team.lead, kind="pr", title="联系媒体说明情况", owner="mkt", due_in=timedelta(hours=2)
            ),
        )
        await env.sleep(timedelta(hours=2, minutes=1))
        await asyncio.sleep(0.5)
        assert any("已逾期" in n.subject for n in notifications(db, "escalation"))
        with pytest.raises(WorkflowUpdateFailedError) as err:  # the commander waives, not ops_head
            await h.execute_update(
                EmergencyWorkflow.resolve, ResolveRequest(actor=team.ops, summary="x", waive_reason="不需要")
            )
        await h.execute_update(
            EmergencyWorkflow.resolve,
            ResolveRequest(actor=team.lead, summary="已平息", waive_reason="媒体未跟进报道"),
        )
        st = await wait_stage(h, IncidentStage.resolved)
        assert st.tasks[0].status == "waived" and "tasks_waived" in [e.kind for e in st.timeline]
        child = await env.client.get_workflow_handle_for(IncidentTaskWorkflow.run, task.workflow_id).result()
        assert child.status == "waived"
        del err


async def test_crisis_hold_stops_scheduled_content_and_release_returns_it(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform
) -> None:
    env, db = time_skipping, sqlite_database
    seed_accounts(db)
    people = seed_people(db)
    team = seed_team_for(db)
    now = await env.get_current_time()
    async with content_worker(env.client, db, sandbox) as w:
        c = await start_content(env.client, w, db, people.creator, plan(now + timedelta(hours=2)), version())
        for _ in range(100):
            if (await c.query(ContentWorkflow.current)).stage is Stage.draft:
                break
            await asyncio.sleep(0.05)
        await c.execute_update(ContentWorkflow.submit, SubmitRequest(actor=people.creator))
        from tests.workflows.test_content import approve_all

        await approve_all(c, people)
        h = await start_incident(env.client, w, db)
        await wait_stage(h, IncidentStage.confirming)
        await h.execute_update(EmergencyWorkflow.confirm, confirm(team))
        await wait_for(h, lambda st: st.crisis_hold, "hold set")
        await env.sleep(timedelta(hours=2, minutes=1))
        for _ in range(100):
            if (await c.query(ContentWorkflow.current)).stage is Stage.held:
                break
            await asyncio.sleep(0.1)
        assert (await c.query(ContentWorkflow.current)).stage is Stage.held and sandbox.all_posts() == []
        await h.execute_update(EmergencyWorkflow.resolve, ResolveRequest(actor=team.lead, summary="平息"))
        for _ in range(100):
            if (await c.query(ContentWorkflow.current)).stage is Stage.awaiting_release:
                break
            await asyncio.sleep(0.1)
        assert (await c.query(ContentWorkflow.current)).stage is Stage.awaiting_release
        assert sandbox.all_posts(Platform.weibo) == []


def seed_team_for(db: Database) -> Team:
    """The emergency team beside the content people (different names)."""
    from domain.roles import Role
    from tests.seeds import seed_users

    actors, _ = seed_users(db, {"rc2": [Role.risk_compliance], "lead2": [Role.leadership]})
    rc, lead = actors["rc2"], actors["lead2"]
    return Team(reporter=rc, rc=rc, lead=lead, ops=lead, mkt=lead, agent=lead, tokens={})
