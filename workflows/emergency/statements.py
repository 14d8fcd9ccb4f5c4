"""Statements: the holding and full statement deadlines (silence is never the default), the plan's
holding line offered when the first is missed, publishing once to the chosen channels, and the
follow-up cadence (reminder when an update is due, escalation when half a cadence later)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow

from workflows.common import PUBLISH_RETRY, RETRY
from workflows.emergency.context import IncidentRun
from workflows.timers import at, wait_until

with workflow.unsafe.imports_passed_through():
    from activities.content import ContentActivities
    from activities.emergency import EmergencyActivities
    from domain.content import VersionContent
    from domain.emergency import (
        CUSTOMER_SERVICE,
        ChannelResult,
        IncidentPlan,
        Statement,
        StatementKind,
        StatementStatus,
        adapt_statement,
        statement_hash,
        text_hash,
    )
    from domain.emergency_io import StatementPublishInput
    from domain.kernel import Actor
    from domain.roles import Role


def full_published(run: IncidentRun) -> bool:
    return any(
        s.kind is StatementKind.full and s.status is StatementStatus.published for s in run.state.statements
    )


async def check(run: IncidentRun, stmt: Statement) -> None:
    """Before approval, like content: the compliance scan over the text, and each platform channel's
    version under its rules; the hash the approver names then covers the text and every version."""
    findings = await workflow.execute_activity_method(
        ContentActivities.compliance_scan,
        VersionContent(body=stmt.text),
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=RETRY,
    )
    variants, notes = adapt_statement(stmt.text, f"关于{run.inp.title}的说明", stmt.channels)
    stmt.findings, stmt.variants = [*findings, *notes], variants
    stmt.text_hash = statement_hash(stmt.text, variants)
    stmt.status = StatementStatus.draft


async def publish(run: IncidentRun, stmt: Statement, actor: Actor) -> Statement:
    """Publish an approved statement once: the caller has already set it to ``publishing``."""
    results = await workflow.execute_activity_method(
        EmergencyActivities.publish_statement,
        StatementPublishInput(
            incident_id=run.incident_id,
            statement_id=stmt.id,
            title=run.inp.title,
            text=stmt.text,
            channels=stmt.channels,
            variants={v.channel: v for v in stmt.variants},
            drill=run.drill,
            at=workflow.now(),
        ),
        start_to_close_timeout=timedelta(seconds=60),
        retry_policy=PUBLISH_RETRY,
    )
    stmt.results = list(results)
    for failed in (r for r in results if not r.ok):
        await run.notify(
            "alert",
            f"声明发布失败：{failed.channel}",
            failed.error,
            user=run.state.commander,
            key=f"stmt-{stmt.id}-failed-{failed.channel}",
        )
    if CUSTOMER_SERVICE in stmt.channels:
        await run.notify(
            "info",
            f"客服统一话术：{run.inp.title}",
            stmt.text,
            role=Role.interaction_agent.value,
            key=f"stmt-{stmt.id}-cs",
        )
        stmt.results.append(ChannelResult(channel=CUSTOMER_SERVICE, ok=True))
    stmt.status, stmt.published_at = StatementStatus.published, workflow.now()
    run.publish_count += 1
    run.last_published = workflow.now()
    if run.state.figures.time_to_first_statement_s is None:
        run.state.figures.time_to_first_statement_s = (workflow.now() - run.state.started_at).total_seconds()
    await run.event(
        "statement_published", actor.name, f"#{stmt.id} → {', '.join(r.channel for r in stmt.results)}"
    )
    return stmt


async def deadlines(run: IncidentRun) -> None:
    """A holding statement by its deadline, a full statement by its own; a re-level moves both at once."""
    checks: list[tuple[str, Callable[[], bool], Callable[[IncidentPlan], timedelta]]] = [
        ("holding_statement", run.spoken, lambda p: p.holding_statement_within),
        ("full_statement", lambda: full_published(run), lambda p: p.full_statement_within),
    ]
    for name, done, within in checks:

        def deadline(within: Callable[[IncidentPlan], timedelta] = within) -> datetime | None:
            assert run.plan is not None and run.activated_at is not None
            return run.activated_at + within(run.plan)

        finished = await wait_until(lambda done=done: done() or run.resolved, deadline, summary=name)  # type: ignore[misc]
        if run.resolved:
            return
        if finished:
            run.state.figures.deadlines.setdefault(name, True)
            continue
        run.state.figures.deadlines[name] = False
        await _missed(run, name)


async def _missed(run: IncidentRun, name: str) -> None:
    assert run.plan is not None
    if name == "holding_statement":
        offer = Statement(
            id=len(run.state.statements) + 1,
            kind=StatementKind.holding,
            text=run.plan.holding_statement,
            text_hash=text_hash(run.plan.holding_statement),
            template_key="plan:holding",
            channels=list(run.plan.channels),
            status=StatementStatus.draft,
            drafted_by="system:offer",
            drafted_at=workflow.now(),
        )
        run.state.statements.append(offer)
        if workflow.patched("holding-offer-checked"):  # scanned and adapted like any statement
            offer.status = StatementStatus.checking
            await check(run, offer)
        await run.event("holding_statement_offered", "system", f"#{offer.id} 预案先发声明待一键批准")
        approver = run.plan.statement_approver
        # The offer goes to whoever may approve it at this level (ops_head at low/medium); leadership is
        # informed. Histories recorded before this rule sent it to leadership whatever the level.
        to_approver = approver is not Role.leadership and workflow.patched("holding-offer-to-approver")
        await run.notify(
            "alert",
            f"未在时限内发声：{run.inp.title}",
            f"预案先发声明已备好（声明 #{offer.id}），请一键批准：{offer.text}",
            role=approver.value if to_approver else Role.leadership.value,
            key="holding-missed",
        )
        if to_approver:
            await run.notify(
                "info",
                f"未在时限内发声：{run.inp.title}",
                f"预案先发声明 #{offer.id} 已提交{approver.value}审批（知悉）",
                role=Role.leadership.value,
                key="holding-missed-informed",
            )
    else:
        await run.event("full_statement_overdue", "system", "正式声明逾期")
        await run.notify(
            "escalation",
            f"正式声明逾期：{run.inp.title}",
            "请尽快审批发布统一声明",
            role=Role.leadership.value,
            key="full-missed",
        )


async def cadence(run: IncidentRun) -> None:
    """After the first statement, an update is due every ``follow_up_every``; missing it escalates."""
    while not run.resolved:
        await workflow.wait_condition(lambda: run.last_published is not None or run.resolved)
        if run.resolved:
            return
        count = run.publish_count

        def published(count: int = count) -> bool:
            return run.publish_count != count or run.resolved

        def due() -> datetime | None:
            assert run.plan is not None and run.last_published is not None
            return run.last_published + run.plan.follow_up_every

        run.state.next_update_due = due()
        if await wait_until(published, due, summary="update-due"):
            if run.publish_count != count:
                run.state.figures.updates_due += 1
                run.state.figures.updates_on_time += 1
            continue
        assert run.plan is not None
        run.state.figures.updates_due += 1
        await run.notify(
            "reminder",
            f"进展更新到期：{run.inp.title}",
            "请发布进展更新",
            user=run.state.commander,
            key=f"update-due-{count}",
        )
        await run.event("update_due", "system", "进展更新到期")
        if not await wait_until(
            published, at(workflow.now() + run.plan.follow_up_every / 2), summary="update-missed"
        ):
            await run.notify(
                "escalation",
                f"进展更新逾期：{run.inp.title}",
                "持续沟通中断，请督办",
                role=Role.leadership.value,
                key=f"update-missed-{count}",
            )
            await run.event("update_missed", "system", "进展更新逾期，已升级")
        await workflow.wait_condition(published)
