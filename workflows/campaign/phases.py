"""The phases of a campaign: review → launch → entries → freeze → beacon → draw → results → prizes → report."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import Decimal

from temporalio import workflow

from workflows.campaign.context import CampaignRun, Cancelled
from workflows.common import PUBLISH_RETRY, RETRY
from workflows.timers import at, wait_until

with workflow.unsafe.imports_passed_through():
    from activities.campaign import CampaignActivities
    from domain.campaign import draw as drawing
    from domain.campaign.checklist import needs_leadership
    from domain.campaign.io import (
        BeaconRecord,
        CommitInput,
        DrawInput,
        FreezeInput,
        InboxImportInput,
        PostInput,
        PostResult,
    )
    from domain.campaign.models import (
        CampaignReport,
        Decision,
        PauseWindow,
        PrizeSlot,
        SlotStatus,
        Stage,
    )
    from domain.campaign.verify_draw import drand_round_time
    from domain.roles import Role

Event = tuple[datetime, Callable[[], Awaitable[None]]]
STAGE_ROLE = {Stage.review_compliance: Role.risk_compliance, Stage.review_leadership: Role.leadership}


async def wait_with(run: CampaignRun, done: Callable[[], bool], events: list[Event], *, summary: str) -> None:
    """Wait for ``done()``; fire each event once its time has passed (reminders, escalations)."""
    left = sorted(events, key=lambda e: e[0])
    while not done():
        now = workflow.now()
        due = [e for e in left if now >= e[0]]
        for event in due:
            left.remove(event)
            await event[1]()
        if due:
            continue
        await wait_until(done, lambda: left[0][0] if left else None, summary=summary)


# --- plan and review ----------------------------------------------------------------------------------


async def review(run: CampaignRun) -> bool:
    """Until the plan is approved (True) or rejected (False); changes requested → back to draft."""
    while True:
        await workflow.wait_condition(lambda: run.submitted or run.cancelled)
        if run.cancelled:
            raise Cancelled
        run.state.needs_leadership = needs_leadership(run.plan, run.inp.thresholds)
        stages = [Stage.review_compliance] + ([Stage.review_leadership] if run.state.needs_leadership else [])
        outcome = Decision.approve
        for stage in stages:
            await run.set_stage(stage)
            outcome = await _decision(run, stage)
            if outcome is not Decision.approve:
                break
        if outcome is Decision.approve:
            return True
        run.submitted = False
        if outcome is Decision.reject:
            await run.set_stage(Stage.rejected)
            return False
        await run.set_stage(Stage.draft)
        await run.notify(
            "info", f"活动 #{run.campaign_id} 需要修改", run.state.decisions[-1].notes, user=run.inp.owner,
            key=f"changes-{len(run.state.decisions)}",
        )  # fmt: skip


async def _decision(run: CampaignRun, stage: Stage) -> Decision:
    started = workflow.now()
    sla = run.inp.timing.review_sla
    role = STAGE_ROLE[stage]
    n = len(run.state.decisions)

    async def remind() -> None:
        await run.notify(
            "reminder", f"待审：活动 #{run.campaign_id}（{stage.value}）已超过审核时限", run.plan.title,
            role=role.value, key=f"remind-{stage.value}-{n}",
        )  # fmt: skip

    async def escalate() -> None:
        await run.notify(
            "escalation", f"升级：活动 #{run.campaign_id} 在 {stage.value} 阶段超时两倍", run.plan.title,
            role=Role.ops_head.value if role is not Role.ops_head else Role.leadership.value,
            key=f"escalate-{stage.value}-{n}",
        )  # fmt: skip

    def decided() -> bool:
        return run.cancelled or (run.pending is not None and run.pending.stage is stage)

    await wait_with(run, decided, [(started + sla, remind), (started + 2 * sla, escalate)], summary="review-sla")
    if run.cancelled:
        raise Cancelled
    decision = run.pending
    assert decision is not None
    run.pending = None  # only the main loop clears the slot
    return decision.decision


# --- launch and entries -----------------------------------------------------------------------------


async def _post(run: CampaignRun, purpose: str, text: str) -> list[PostResult]:
    out = []
    for acc in run.plan.accounts:
        out.append(
            await workflow.execute_activity_method(
                CampaignActivities.publish_post,
                PostInput(
                    campaign_id=run.campaign_id, platform=acc.platform, account=acc.account,
                    title=run.plan.title if purpose == "launch" else "", text=text,
                    idempotency_key=f"campaign-{run.campaign_id}-{purpose}-{acc.platform.value}-{acc.account}",
                ),
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=PUBLISH_RETRY,
            )
        )  # fmt: skip
    return out


async def launch(run: CampaignRun) -> datetime:
    """At the start time: commit to the secret, name the beacon round, publish the post with both."""
    await run.set_stage(Stage.approved)
    assert run.plan.start_at is not None and run.plan.draw_at is not None
    await wait_until(lambda: run.cancelled, at(run.plan.start_at), summary="start-time")
    if run.cancelled:
        raise Cancelled
    run.state.commitment = await workflow.execute_activity_method(
        CampaignActivities.commit,
        CommitInput(campaign_id=run.campaign_id),
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=RETRY,
    )
    run.state.beacon_round = drawing.beacon_round(run.plan.draw_at)
    line = drawing.commitment_line(run.campaign_id, run.state.commitment, run.state.beacon_round, run.plan)
    posts = await _post(run, "launch", f"{run.plan.post_text}\n\n{line}".strip())
    run.state.post_ref = ",".join(p.external_id for p in posts)
    run.launch_text = f"{run.plan.post_text}\n\n{line}".strip()
    opened = workflow.now()
    await run.set_stage(Stage.running)
    return opened


async def collect(run: CampaignRun, opened: datetime) -> None:
    """Entries arrive through the API into the database, and from the engagement inbox by a sweep every
    ``timing.inbox_sweep``; pauses are recorded by the handlers and applied at the freeze."""
    close = run.plan.close_at
    assert close is not None
    sweep = run.inp.timing.inbox_sweep
    since = opened
    while workflow.now() < close:
        if sweep is not None and workflow.now() >= since + sweep:
            since = await _import_inbox(run, since, workflow.now())
        next_wake = min(close, since + sweep) if sweep is not None else close
        await wait_until(lambda: False, at(next_wake), summary="close-time")
    async with run.lock:  # a pause or resume accepted just before the close finishes its projection first
        for window in run.state.pauses:
            if window.end is None:
                window.end = close
        await _import_inbox(run, since, close)
        result = await workflow.execute_activity_method(
            CampaignActivities.freeze,
            FreezeInput(campaign_id=run.campaign_id, plan=run.plan, pauses=run.state.pauses, opened=opened),
            start_to_close_timeout=timedelta(minutes=10),
            retry_policy=RETRY,
        )
        run.state.freeze = result
        await run.set_stage(Stage.frozen)
    await _post(
        run,
        "freeze",
        f"【{run.plan.title}】参与已截止：有效参与 {result.n} 人，名单默克尔根 {result.root}。"
        f"开奖将使用 drand quicknet 第 {run.state.beacon_round} 轮随机数；每位参与者可查询自己的包含证明。",
    )


async def _import_inbox(run: CampaignRun, since: datetime, until: datetime) -> datetime:
    await workflow.execute_activity_method(
        CampaignActivities.import_inbox,
        InboxImportInput(campaign_id=run.campaign_id, plan=run.plan, since=since, until=until),
        start_to_close_timeout=timedelta(minutes=5),
        retry_policy=RETRY,
    )
    return until


# --- beacon and draw --------------------------------------------------------------------------------


async def draw(run: CampaignRun) -> None:
    assert run.plan.draw_at is not None and run.state.beacon_round is not None
    round_time = datetime.fromtimestamp(drand_round_time(run.state.beacon_round), workflow.now().tzinfo)
    await wait_until(lambda: False, at(max(run.plan.draw_at, round_time)), summary="draw-time")
    reminders = 0
    while not run.beacon_entered:
        if not await wait_until(
            lambda: run.beacon_entered, at(workflow.now() + run.inp.timing.beacon_reminder), summary="beacon"
        ):
            reminders += 1
            await run.notify(
                "reminder" if reminders < 3 else "escalation",
                f"活动 #{run.campaign_id} 待录入公开随机数：drand quicknet 第 {run.state.beacon_round} 轮",
                "请从 https://api.drand.sh/52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971/public/"
                f"{run.state.beacon_round} 读取 randomness，并附上证据录入。",
                role=Role.risk_compliance.value if reminders < 3 else Role.leadership.value,
                key=f"beacon-{reminders}",
            )
    assert run.beacon is not None
    out = await workflow.execute_activity_method(
        CampaignActivities.draw,
        DrawInput(campaign_id=run.campaign_id, plan=run.plan, beacon=run.beacon),
        start_to_close_timeout=timedelta(minutes=10),
        retry_policy=RETRY,
    )
    run.state.draw = out.draw
    run.state.results_text = out.results_text
    run.state.results_hash = hashlib.sha256(out.results_text.encode("utf-8")).hexdigest()
    await run.set_stage(Stage.results_review)


def beacon_record(round_number: int, randomness: str, signature: str, evidence: str, by: str) -> BeaconRecord:
    return BeaconRecord(
        round=round_number, round_time=drand_round_time(round_number), randomness=randomness.lower(),
        signature=signature.lower(), evidence=evidence, entered_by=by,
    )  # fmt: skip


# --- results ----------------------------------------------------------------------------------------


async def results(run: CampaignRun) -> None:
    """The drafted statement needs approval before the results deadline: reminder, escalation, alert."""
    deadline = run.plan.results_deadline
    assert deadline is not None
    t = run.inp.timing
    await run.notify(
        "info", f"活动 #{run.campaign_id} 已开奖，中奖公告待审批", run.state.results_text,
        role=Role.ops_head.value, key="results-draft",
    )  # fmt: skip

    def event(kind: str, role: Role, subject: str, key: str) -> Callable[[], Awaitable[None]]:
        async def fire() -> None:
            await run.notify(kind, subject, run.plan.title, role=role.value, key=key)

        return fire

    cid = run.campaign_id
    await wait_with(
        run,
        lambda: run.results_approved,
        [
            (deadline - t.results_reminder_before, event("reminder", Role.ops_head, f"活动 #{cid} 中奖公告即将到期", "results-remind")),
            (deadline - t.results_escalation_before, event("escalation", Role.leadership, f"活动 #{cid} 中奖公告临近期限仍未审批", "results-escalate")),
            (deadline, event("alert", Role.leadership, f"活动 #{cid} 已超过中奖公告期限", "results-overdue")),
        ],
        summary="results-deadline",
    )  # fmt: skip
    await _post(run, "results", run.state.results_text)
    run.state.results_published_at = workflow.now()


# --- prizes and report ------------------------------------------------------------------------------


async def prizes(run: CampaignRun) -> None:
    assert run.state.draw is not None
    days = timedelta(days=run.plan.address_days)
    prize_list = [p for p in run.plan.prizes for _ in range(p.quantity)]
    winners = list(run.state.draw.winners)
    run.reserves = list(run.state.draw.reserves)
    for i, prize in enumerate(prize_list):
        slot = PrizeSlot(slot=i, prize=prize.name, unit_value=prize.unit_value, physical=prize.physical)
        if i < len(winners):
            slot.entry_id, slot.pick_rank = winners[i].entry_id, winners[i].rank
            slot.address_due = workflow.now() + days
        else:
            slot.status = SlotStatus.unfilled
        run.state.slots.append(slot)
    # The stage is shown only once its slots exist: a prize update arriving during the projection finds
    # them (STYLE 12), rather than a "prizes" stage with no slots.
    await run.set_stage(Stage.prizes)
    for slot in run.state.slots:
        if slot.status is SlotStatus.contacted:
            await _contact(run, slot)
    while True:
        now = workflow.now()
        for slot in run.state.slots:
            if slot.status is SlotStatus.contacted and slot.address_due is not None and now >= slot.address_due:
                slot.history.append(f"{slot.entry_id}:{'declined' if slot.note == 'declined' else 'expired'}")
                if run.reserves:
                    nxt = run.reserves.pop(0)
                    slot.entry_id, slot.pick_rank, slot.note = nxt.entry_id, nxt.rank, ""
                    slot.address_due = now + days
                    await _contact(run, slot)
                else:
                    slot.entry_id, slot.status, slot.address_due = None, SlotStatus.unfilled, None
        if all(s.status in (SlotStatus.delivered, SlotStatus.unfilled) for s in run.state.slots):
            return
        changed = run.changed
        await wait_until(lambda c=changed: run.changed != c, lambda: _next_due(run), summary="address-deadline")  # type: ignore[misc]


def _next_due(run: CampaignRun) -> datetime | None:
    dues = [s.address_due for s in run.state.slots if s.status is SlotStatus.contacted and s.address_due]
    return min(dues) if dues else None


async def _contact(run: CampaignRun, slot: PrizeSlot) -> None:
    """The agent looks the winner up in the campaign's winner list: no handle or address in history."""
    assert slot.address_due is not None
    await run.notify(
        "info",
        f"活动 #{run.campaign_id} 请联系中奖者：名额 {slot.slot + 1}（{slot.prize}）",
        f"在 GET /campaigns/{run.campaign_id}/winners 查看账号；收货信息截止 {slot.address_due.isoformat()}。",
        role=Role.interaction_agent.value,
        key=f"contact-{slot.slot}-{slot.entry_id}",
    )


def report(run: CampaignRun) -> CampaignReport:
    f = run.state.freeze
    assert f is not None
    delivered = [s for s in run.state.slots if s.status is SlotStatus.delivered]
    cost = sum((s.unit_value or Decimal(0) for s in delivered), Decimal(0))
    deadline = run.plan.results_deadline
    published = run.state.results_published_at
    return CampaignReport(
        entries=f.entries, unique_users=f.unique_users, eligible=f.n, excluded=f.excluded, budget=run.plan.budget,
        prize_cost=cost, cost_per_entry=(run.plan.budget / f.n).quantize(Decimal("0.01")) if f.n else None,
        complaints=run.state.complaints, delivered=len(delivered),
        forfeited=sum(len(s.history) for s in run.state.slots),
        unfilled=sum(1 for s in run.state.slots if s.status is SlotStatus.unfilled),
        results_on_time=bool(published and deadline and published <= deadline),
    )  # fmt: skip


def open_pause(run: CampaignRun) -> PauseWindow | None:
    return next((p for p in run.state.pauses if p.end is None), None)
