"""The plan and the team: activate the level's plan (crisis hold where it says so), re-level, page the
commander and one member per required role, watch each page (re-page, then escalate)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from workflows.common import RETRY
from workflows.emergency.context import IncidentRun
from workflows.timers import wait_until

with workflow.unsafe.imports_passed_through():
    from activities.emergency import EmergencyActivities
    from core.temporal import SA_OWNER, SA_RISK_LEVEL
    from domain import ids
    from domain.emergency import IncidentStage, Member
    from domain.emergency_io import HoldInput, RosterInput
    from domain.risk import LEVEL_ORDER, Impact, Likelihood, RiskLevel, RiskMatrix, default_matrix
    from domain.roles import Role


def level_of(run: IncidentRun, impact: Impact, likelihood: Likelihood) -> RiskLevel:
    matrix = (
        RiskMatrix.model_validate({"cells": run.inp.matrix_cells}) if run.inp.matrix_cells else default_matrix()
    )
    level = matrix.level(impact, likelihood)
    return RiskLevel.low if level is RiskLevel.none else level


async def switch_plan(run: IncidentRun, level: RiskLevel, actor: str, first: bool = False) -> None:
    before = run.state.level
    run.plan = run.inp.plans[level]
    run.state.level = level
    run.state.plan_version = run.inp.plan_versions.get(level)
    workflow.upsert_search_attributes([SA_RISK_LEVEL.value_set(level.value)])
    if first:
        await run.event("plan_activated", actor, f"{run.plan.title}（v{run.state.plan_version}）")
        # Internal notification: every level on the escalation path hears of it at once.
        for role in dict.fromkeys(run.plan.escalation_path):
            await run.notify(
                "alert",
                f"应急预案已启动（{level.value}）：{run.inp.title}",
                f"{run.plan.title}；范围：{run.state.scope}",
                role=role.value,
                key=f"activated-{role.value}",
            )
    else:
        run.relevels += 1
        await run.event(
            "relevelled", actor, f"{before.value if before else '-'} → {level.value}：{run.plan.title}"
        )
        await run.notify(
            "alert",
            f"事件级别调整为 {level.value}：{run.inp.title}",
            run.plan.title,
            role=Role.leadership.value,
            key=f"relevel-{run.relevels + 1}",
        )
        upward = before is not None and LEVEL_ORDER[level] > LEVEL_ORDER[before]
        if upward and workflow.patched("relevel-up-brings-the-team"):
            await _bring_in(run, actor)
    if run.plan.crisis_hold and not run.state.crisis_hold:
        await set_hold(run, True, actor)
    await run.project()


async def set_hold(run: IncidentRun, active: bool, actor: str) -> None:
    run.state.crisis_hold = active
    run.hold_changing += 1  # until the change is written and in the timeline (the post-mortem waits)
    try:
        await _set_hold(run, active, actor)
    finally:
        run.hold_changing -= 1


async def _set_hold(run: IncidentRun, active: bool, actor: str) -> None:
    if run.drill:  # a drill never stops real publishing
        await run.event(
            "crisis_hold_simulated", actor, "演练：模拟暂停排期内容" if active else "演练：模拟解除暂停"
        )
        return
    held = await workflow.execute_activity_method(
        EmergencyActivities.set_crisis_hold,
        HoldInput(
            active=active,
            reason=f"事件 #{run.incident_id}：{run.inp.title}",
            incident_id=ids.incident(run.incident_id),
            actor=actor,
        ),
        start_to_close_timeout=timedelta(seconds=60),
        retry_policy=RETRY,
    )
    await run.event(
        "crisis_hold_set" if active else "crisis_hold_released",
        actor,
        "排期内容暂停发布" if active else f"解除暂停；待运营负责人确认的内容：{held}",
    )


async def release_hold(run: IncidentRun) -> None:
    if run.state.crisis_hold:
        await set_hold(run, False, run.state.commander or "system")


async def assemble(run: IncidentRun) -> None:
    assert run.plan is not None
    roles = [run.plan.commander_role.value, *(r.value for r in run.plan.required_roles)]
    roster = await workflow.execute_activity_method(
        EmergencyActivities.roster,
        RosterInput(roles=roles),
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=RETRY,
    )
    fallback = roster.get(Role.leadership.value, []) + roster.get(Role.ops_head.value, [])
    commanders = roster.get(run.plan.commander_role.value) or fallback
    if commanders:
        run.state.commander = commanders[0]
        workflow.upsert_search_attributes([SA_OWNER.value_set(commanders[0])])
        await page(run, commanders[0], run.plan.commander_role, "担任总指挥")
    else:
        await run.event("no_commander", "system", f"没有人担任 {run.plan.commander_role.value}")
    for role in run.plan.required_roles:
        people = [u for u in roster.get(role.value, []) if u != run.state.commander]
        if people:
            await page(run, people[0], role, "加入应急小组")
        elif run.state.commander not in roster.get(role.value, []):
            await run.event("role_unfilled", "system", f"没有可呼叫的 {role.value}")
    await run.set_stage(IncidentStage.assembling)  # everyone is paged
    run.spawn(_team_ready(run))


async def _bring_in(run: IncidentRun, actor: str) -> None:
    """A re-level upward: the higher escalation path hears of it, command passes to the plan's commander
    role when the commander does not hold it, and the higher plan's required roles are paged."""
    assert run.plan is not None
    for role in dict.fromkeys(run.plan.escalation_path):
        if role is Role.leadership:
            continue  # told above
        await run.notify(
            "alert",
            f"事件升级为 {run.plan.level.value}：{run.inp.title}",
            f"{run.plan.title}；范围：{run.state.scope}",
            role=role.value,
            key=f"relevel-{run.relevels + 1}-{role.value}",
        )
    roles = [run.plan.commander_role.value, *(r.value for r in run.plan.required_roles)]
    roster = await workflow.execute_activity_method(
        EmergencyActivities.roster,
        RosterInput(roles=roles),
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=RETRY,
    )
    commanders = roster.get(run.plan.commander_role.value, [])
    if commanders and run.state.commander not in commanders:
        before, run.state.commander = run.state.commander, commanders[0]
        workflow.upsert_search_attributes([SA_OWNER.value_set(commanders[0])])
        await run.event(
            "command_handed_over", actor, f"{before or '-'} → {commanders[0]}（{run.plan.level.value} 预案）"
        )
        await page(run, commanders[0], run.plan.commander_role, "事件升级，接任总指挥")
    for role in run.plan.required_roles:
        if any(m.role is role for m in run.state.members) or run.state.commander in roster.get(role.value, []):
            continue
        paged = {m.user for m in run.state.members}
        people = [u for u in roster.get(role.value, []) if u not in paged]
        if people:
            await page(run, people[0], role, "事件升级，加入应急小组")
        else:
            await run.event("role_unfilled", "system", f"没有可呼叫的 {role.value}")


async def page(run: IncidentRun, user: str, role: Role, why: str) -> None:
    member = Member(user=user, role=role, paged_at=workflow.now())
    run.state.members.append(member)
    number = len(run.state.members)  # taken before the first await
    await run.event("paged", "system", f"{user}（{role.value}）：{why}")
    await run.notify(
        "page", f"应急呼叫：{run.inp.title}", f"{why}，请在系统中确认到岗", user=user, key=f"page-{user}-{number}"
    )
    run.spawn(_watch_member(run, member))


async def _watch_member(run: IncidentRun, m: Member) -> None:
    """Acknowledge within the plan's window (a re-level moves the deadline at once), else re-page, then
    escalate to the top of the escalation path and tell the commander."""

    def acked() -> bool:
        return m.acknowledged_at is not None or run.resolved

    def deadline():  # type: ignore[no-untyped-def]
        assert run.plan is not None
        return m.paged_at + run.plan.acknowledge_within

    while not acked():
        if await wait_until(acked, deadline, summary=f"ack-{m.user}"):
            return
        assert run.plan is not None
        run.state.figures.deadlines[f"ack:{m.user}"] = False
        if m.pages <= run.inp.repage_limit:
            m.pages += 1
            m.paged_at = workflow.now()
            await run.event("repaged", "system", f"{m.user} 未确认，第 {m.pages} 次呼叫")
            await run.notify(
                "page",
                f"再次呼叫：{run.inp.title}",
                "请立即确认到岗",
                user=m.user,
                key=f"repage-{m.user}-{m.pages}",
            )
            continue
        m.escalated = True
        top = run.plan.escalation_path[-1].value if run.plan.escalation_path else Role.leadership.value
        await run.event("ack_escalated", "system", f"{m.user} 多次呼叫未确认，升级至 {top}")
        await run.notify(
            "escalation", f"应急成员未到岗：{m.user}", run.inp.title, role=top, key=f"ack-escalate-{m.user}"
        )
        if run.state.commander and run.state.commander != m.user:
            await run.notify(
                "escalation",
                f"应急成员未到岗：{m.user}",
                run.inp.title,
                user=run.state.commander,
                key=f"ack-escalate-cmd-{m.user}",
            )
        return


async def _team_ready(run: IncidentRun) -> None:
    await workflow.wait_condition(
        lambda: run.resolved or all(m.acknowledged_at is not None or m.escalated for m in run.state.members)
    )
    if run.resolved:
        return
    run.state.figures.time_to_team_s = (workflow.now() - run.state.started_at).total_seconds()
    await run.set_stage(IncidentStage.responding)
