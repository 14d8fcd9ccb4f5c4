"""Review phase: self-check on submit → automated compliance scan → the review stages, each with an SLA
reminder and an escalation → (changes requested → revision → a new version → again)."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from temporalio import workflow

from workflows.common import RETRY
from workflows.content.context import Cancelled, ContentRun

with workflow.unsafe.imports_passed_through():
    from activities.content import ContentActivities
    from domain.content import ESCALATION_ROLE, STAGE_ROLES, Decision, Severity, Stage
    from domain.workcalendar import WorkCalendar


async def review(run: ContentRun) -> None:
    """Until every stage has approved the current version (or it is rejected)."""
    while True:
        epoch = run.epoch
        if run.state.stage not in (Stage.draft, Stage.revision):
            await run.set_stage(Stage.revision)
        await run.wait(lambda: run.submitted)
        if run.epoch != epoch:
            continue
        # Automated compliance scan before any person looks at it (R-4.1.3.1).
        scan = await workflow.execute_activity_method(
            ContentActivities.compliance_scan,
            run.version,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )
        run.state.findings = run.state.findings + scan
        if any(f.severity is Severity.blocking for f in scan):
            await run.set_stage(Stage.compliance_blocked)
            await run.notify(
                "info",
                f"内容 #{run.content_id} 合规扫描发现阻断项",
                "; ".join(f.message for f in scan if f.severity is Severity.blocking),
                user=run.inp.owner,
                key=f"blocked-v{run.state.version}",
            )
            await run.wait(lambda: run.override_ok)
            if run.epoch != epoch:
                continue
        if await _stages(run, epoch):
            return
        if run.state.stage is Stage.rejected:
            return


async def _stages(run: ContentRun, epoch: int) -> bool:
    """True when every stage approved; False to restart (new version / changes requested / rejected)."""
    for stage in run.state.review_stages:
        if stage is Stage.review_accuracy and not needs_accuracy_review(run):
            continue
        await run.set_stage(stage)
        started = workflow.now()
        sla = timedelta(hours=run.inp.sla.hours)
        if run.inp.sla.business_hours:
            cal = WorkCalendar(run.inp.calendar)
            due, overdue = cal.add(started, sla), cal.add(started, sla * 2)
        else:
            due, overdue = started + sla, started + sla * 2
        # A decision may already be waiting: it arrived while the stage was being projected. Only this
        # loop clears the slot, after taking the decision out of it.
        await run.wait(
            partial(_decision_for, run, stage),
            [(due, partial(_remind, run, stage)), (overdue, partial(_escalate, run, stage))],
        )
        if run.epoch != epoch:
            run.pending = None  # a decision on the version that was replaced
            return False
        decision = run.pending
        assert decision is not None
        run.pending = None
        if decision.decision is Decision.approve:
            continue
        if decision.decision is Decision.request_changes:
            run.state.revision_notes = decision.notes
            run.submitted = False
            await run.set_stage(Stage.revision)
            await run.notify(
                "info",
                f"内容 #{run.content_id} 需要修改",
                decision.notes,
                user=run.inp.owner,
                key=f"changes-v{run.state.version}-{stage.value}",
            )
            if workflow.patched("revision-expires"):
                # In revision the publish time still counts: an item never revised in time expires. The
                # round's epoch is the one to compare: a new version saved while the stage and the
                # notification above were being written has already arrived.
                await run.wait(lambda: run.epoch != epoch)
            else:  # histories recorded before the fix waited without a deadline
                await workflow.wait_condition(lambda: run.epoch != epoch or run.cancelled)
            if run.cancelled:
                raise Cancelled
            return False
        run.state.outcome_reason = decision.notes
        await run.set_stage(Stage.rejected)
        await run.notify(
            "info",
            f"内容 #{run.content_id} 被驳回",
            decision.notes,
            user=run.inp.owner,
            key=f"rejected-v{run.state.version}",
        )
        return False
    run.state.variants = run.variants()
    return True


def _decision_for(run: ContentRun, stage: Stage) -> bool:
    return run.pending is not None and run.pending.stage is stage


def needs_accuracy_review(run: ContentRun) -> bool:
    if run.version.facts_flagged or run.inp.plan.goal.value in ("launch", "conversion"):
        return True
    text = " ".join([run.version.title, run.version.body, *(v.body or "" for v in run.version.variants.values())])
    return has_facts(text)


async def _remind(run: ContentRun, stage: Stage) -> None:
    run.state.reminders_sent.append(f"reminder:{stage.value}")
    for role in sorted(r.value for r in STAGE_ROLES[stage]):
        await run.notify(
            "reminder",
            f"待审：内容 #{run.content_id}（{stage.value}）已超过审核时限",
            f"版本 {run.state.version}",
            role=role,
            key=f"remind-{stage.value}-v{run.state.version}-{role}",
        )


async def _escalate(run: ContentRun, stage: Stage) -> None:
    run.state.reminders_sent.append(f"escalation:{stage.value}")
    await run.notify(
        "escalation",
        f"升级：内容 #{run.content_id} 在 {stage.value} 阶段超时两倍",
        f"版本 {run.state.version}，请督办",
        role=ESCALATION_ROLE[stage].value,
        key=f"escalate-{stage.value}-v{run.state.version}",
    )


_FACT_MARKERS = ("%", "％", "¥", "￥", "价格", "折扣", "截止", "活动规则", "抽奖", "中奖", "〇", "零点")


def has_facts(text: str) -> bool:
    """Numbers, prices, percentages, dates or campaign rules call for the accuracy review."""
    return any(ch.isdigit() for ch in text) or any(m in text for m in _FACT_MARKERS)
