"""Publish phase: wait for the publish time (reschedulable) → crisis-hold check → publish per platform
(idempotent) → confirm live and unchanged → metric checkpoints → effect summary → retraction window."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.common import PUBLISH_RETRY, RETRY
from workflows.content.context import Cancelled, ContentRun
from workflows.content.review import review
from workflows.timers import at, wait_until

with workflow.unsafe.imports_passed_through():
    from activities.content import ContentActivities
    from domain.content import MetricsSnapshot, PublicationRecord, Stage, checkpoint_label, effect_summary
    from domain.content_io import (
        ConfirmInput,
        HoldStatus,
        MetricsInput,
        PublishInput,
        PublishStatusInput,
        RetractInput,
    )
    from domain.roles import Role

RETRACT_WINDOW = timedelta(days=30)


async def wait_for_publish_time(run: ContentRun) -> None:
    await run.set_stage(Stage.scheduled)
    while True:
        epoch = run.epoch
        await wait_until(partial(_woken, run, epoch), lambda: run.state.publish_at, summary="publish-time")
        if run.cancelled:
            raise Cancelled
        if run.epoch != epoch:  # edited after approval: review again
            await review(run)
            if run.state.stage is Stage.rejected:
                return
            await run.set_stage(Stage.scheduled)
            continue
        return


def _woken(run: ContentRun, epoch: int) -> bool:
    return run.cancelled or run.epoch != epoch


async def crisis_hold(run: ContentRun) -> None:
    status = await _hold_status()
    if not status.active:
        return
    run.state.held_since = workflow.now()
    await run.set_stage(Stage.held)
    await run.notify(
        "alert",
        f"危机暂停：内容 #{run.content_id} 暂缓发布",
        status.reason,
        role=Role.ops_head.value,
        key=f"held-{run.reschedules}",
    )
    while status.active:
        run.hold_released = False
        await wait_until(
            lambda: run.hold_released or run.cancelled, at(workflow.now() + run.inp.hold_poll), summary="hold-poll"
        )
        if run.cancelled:
            raise Cancelled
        status = await _hold_status()
    await run.set_stage(Stage.awaiting_release)
    await run.notify(
        "info",
        f"危机暂停已解除：内容 #{run.content_id} 等待运营负责人确认发布",
        "",
        role=Role.ops_head.value,
        key=f"release-{run.reschedules}",
    )
    await workflow.wait_condition(lambda: run.release_confirmed or run.cancelled)
    if run.cancelled:
        raise Cancelled


async def late_gate(run: ContentRun) -> bool:
    """Past its publish window (an outage, a long hold) an item does not go out by itself: it waits for
    ops_head's confirmation, with an alert to the owner. Returns True when rescheduled instead (the caller
    waits for the new time again)."""
    late_by = workflow.now() - run.state.publish_at
    if late_by <= run.inp.publish_window or run.release_confirmed:
        return False
    if not workflow.patched("late-publish-confirm"):
        return False
    count = run.reschedules
    run.state.outcome_reason = f"已超过发布时间 {int(late_by.total_seconds() // 60)} 分钟"
    await run.set_stage(Stage.awaiting_release)
    await run.notify(
        "alert",
        f"内容 #{run.content_id} 已错过发布时间，等待确认",
        f"原定 {run.state.publish_at.isoformat()} 发布，现已超出发布窗口；请运营负责人确认发布，或改期、取消。",
        user=run.inp.owner,
        key=f"late-{count}",
    )
    await run.notify(
        "alert",
        f"内容 #{run.content_id} 已错过发布时间，等待确认",
        "确认发布：POST /content/{id}/release；或由负责人改期。",
        role=Role.ops_head.value,
        key=f"late-ops-{count}",
    )
    await workflow.wait_condition(lambda: run.release_confirmed or run.cancelled or run.reschedules != count)
    if run.cancelled:
        raise Cancelled
    run.state.outcome_reason = ""
    return not run.release_confirmed


async def _hold_status() -> HoldStatus:
    return await workflow.execute_activity_method(
        ContentActivities.crisis_hold_status, start_to_close_timeout=timedelta(seconds=15), retry_policy=RETRY
    )


async def publish(run: ContentRun) -> None:
    await run.set_stage(Stage.publishing)
    run.state.variants = run.variants()
    for variant in run.state.variants:
        key = f"content-{run.content_id}-v{run.state.version}-{variant.platform.value}-{variant.account}"
        try:
            pub = await workflow.execute_activity_method(
                ContentActivities.publish,
                PublishInput(
                    content_id=run.content_id,
                    version=run.state.version,
                    variant=variant,
                    idempotency_key=key,
                    at=workflow.now(),
                ),
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=PUBLISH_RETRY,
            )
        except ActivityError as err:
            cause = err.cause.message if isinstance(err.cause, ApplicationError) else str(err)
            run.state.publications.append(
                PublicationRecord(
                    platform=variant.platform,
                    account=variant.account,
                    idempotency_key=key,
                    confirmed=False,
                    confirmation_note=f"发布失败：{cause}",
                )
            )
            await run.notify(
                "alert",
                f"发布失败：内容 #{run.content_id} @ {variant.platform.value}",
                cause,
                user=run.inp.owner,
                key=f"publish-failed-{key}",
            )
            continue
        run.state.publications.append(pub)
    if any(p.pending for p in run.state.publications):
        await _await_async_publications(run)
    if not any(p.external_id for p in run.state.publications):
        await run.set_stage(Stage.failed)
        return
    await _confirm(run)


async def _await_async_publications(run: ContentRun) -> None:
    """Platforms that publish asynchronously (WeChat freepublish) queue the job: poll it on a timer until
    it succeeds or fails, at most ``async_publish_max_wait``; a failure or a job still queued at the end
    is recorded with its reason and the owner is alerted. Only items with a pending publication take this
    path, so histories recorded before it replay unchanged."""
    deadline = workflow.now() + run.inp.async_publish_max_wait
    while True:
        pending = [i for i, p in enumerate(run.state.publications) if p.pending]
        if not pending:
            return
        if workflow.now() >= deadline:
            break
        await workflow.sleep(min(run.inp.async_publish_poll, deadline - workflow.now()), summary="publish-poll")
        for i in pending:
            run.state.publications[i] = await workflow.execute_activity_method(
                ContentActivities.publish_status,
                PublishStatusInput(
                    content_id=run.content_id, publication=run.state.publications[i], at=workflow.now()
                ),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RETRY,
            )
            pub = run.state.publications[i]
            if not pub.pending and not pub.external_id:
                await _publish_failed(run, pub, pub.confirmation_note.removeprefix("发布失败："))
    waited = int(run.inp.async_publish_max_wait.total_seconds() // 60)
    for i, pub in enumerate(run.state.publications):
        if pub.pending:
            reason = f"平台 {waited} 分钟内未完成发布（publish_id {pub.publish_id}），请到平台后台查看"
            run.state.publications[i] = pub.model_copy(
                update={"pending": False, "confirmed": False, "confirmation_note": f"发布失败：{reason}"}
            )
            await _publish_failed(run, pub, reason)


async def _publish_failed(run: ContentRun, pub: PublicationRecord, reason: str) -> None:
    await run.notify(
        "alert",
        f"发布失败：内容 #{run.content_id} @ {pub.platform.value}",
        reason,
        user=run.inp.owner,
        key=f"publish-failed-{pub.idempotency_key}",
    )


async def _confirm(run: ContentRun) -> None:
    """Post-publish confirmation: live, and the same text that was approved."""
    for i, pub in enumerate(run.state.publications):
        if not pub.external_id:
            continue
        variant = next(v for v in run.state.variants if v.platform == pub.platform and v.account == pub.account)
        checked = await workflow.execute_activity_method(
            ContentActivities.confirm,
            ConfirmInput(
                content_id=run.content_id,
                publication=pub,
                expected_title=variant.title,
                expected_text=variant.body,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )
        run.state.publications[i] = checked
        if not checked.confirmed:
            for recipient in ({"user": run.inp.owner}, {"role": Role.ops_head.value}):
                await run.notify(
                    "alert",
                    f"发布核验异常：内容 #{run.content_id} @ {pub.platform.value}",
                    checked.confirmation_note,
                    key=("confirm-" if "user" in recipient else "confirm-ops-") + pub.idempotency_key,
                    **recipient,
                )


async def track(run: ContentRun) -> None:
    await run.set_stage(Stage.tracking)
    live = [p for p in run.state.publications if p.external_id]
    start = min(p.published_at for p in live if p.published_at)
    retracting = lambda: run.retract_reason is not None  # noqa: E731
    for checkpoint in run.inp.checkpoints:
        label = checkpoint_label(checkpoint)
        await wait_until(retracting, at(start + checkpoint), summary=f"metrics-{label}")
        if retracting():
            await _retract(run)
            return
        total = MetricsSnapshot()
        for pub in live:
            snap = await workflow.execute_activity_method(
                ContentActivities.fetch_metrics,
                MetricsInput(content_id=run.content_id, publication=pub, checkpoint=label, at=workflow.now()),
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=RETRY,
            )
            total = total.plus(snap)
        run.state.metrics[label] = total
    final = list(run.state.metrics.values())[-1] if run.state.metrics else MetricsSnapshot()
    run.state.summary = effect_summary(final, run.inp.plan.kpi)
    await run.set_stage(Stage.completed)
    if await wait_until(retracting, at(workflow.now() + RETRACT_WINDOW), summary="retraction-window"):
        await _retract(run)


async def _retract(run: ContentRun) -> None:
    reason = run.retract_reason or ""
    for i, pub in enumerate(run.state.publications):
        if not pub.external_id or pub.retracted:
            continue
        run.state.publications[i] = await workflow.execute_activity_method(
            ContentActivities.retract,
            RetractInput(content_id=run.content_id, publication=pub, reason=reason, at=workflow.now()),
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=PUBLISH_RETRY,
        )
    run.state.outcome_reason = reason
    await run.set_stage(Stage.retracted)
