"""``content-{id}`` — ContentWorkflow (R-4.1, R-2.3).

draft → creator self-check (on submit) → automated compliance scan → review: compliance → brand →
accuracy (when facts are involved) → final, each an update restricted to a role, with an SLA reminder
and an escalation → wait for the publish time (reschedulable, cancellable) → crisis-hold check →
idempotent publishing per platform → confirmation → metric checkpoints → effect summary.
If the publish time arrives unapproved the item is ``expired``: never published late, only rescheduled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.common import PUBLISH_RETRY, RETRY, notify

with workflow.unsafe.imports_passed_through():
    from activities.content import ContentActivities
    from core.temporal import SA_OWNER, SA_PLATFORMS, SA_PROCESS, SA_STAGE
    from domain.activity_io import (
        ConfirmInput,
        MetricsInput,
        ProjectionUpdate,
        PublishInput,
        RetractInput,
        SaveVersionInput,
    )
    from domain.content import (
        EDITABLE_STAGES,
        ESCALATION_ROLE,
        EXPEDITED_STAGES,
        REVIEW_STAGES,
        STAGE_ROLES,
        Actor,
        AdaptedVariant,
        ContentState,
        ContentWorkflowInput,
        Decision,
        DecisionRecord,
        Finding,
        MetricsSnapshot,
        OverrideRequest,
        PublicationRecord,
        ReasonRequest,
        RescheduleRequest,
        ReviewRequest,
        ReviseRequest,
        Severity,
        Stage,
        SubmitRequest,
        SubmitResult,
        VersionContent,
        VersionRecord,
        content_hash,
        effect_summary,
    )
    from domain.errors import reject
    from domain.platform_rules import adapt
    from domain.roles import Role
    from domain.selfcheck import blocking, self_check
    from domain.workcalendar import WorkCalendar

EDITORS = frozenset({Role.ops_head})  # besides the owner
STOPPABLE = frozenset(
    {
        Stage.draft,
        Stage.revision,
        Stage.compliance_blocked,
        *REVIEW_STAGES,
        Stage.expired,
        Stage.scheduled,
        Stage.held,
        Stage.awaiting_release,
    }
)
RETRACTORS = frozenset({Role.ops_head, Role.risk_compliance, Role.leadership})
RETRACT_WINDOW = timedelta(days=30)


class _Cancelled(Exception):
    pass


@workflow.defn
class ContentWorkflow:
    @workflow.init
    def __init__(self, inp: ContentWorkflowInput) -> None:
        self.inp = inp
        self.version = inp.version
        stages = list(EXPEDITED_STAGES if inp.expedited else REVIEW_STAGES)
        self.state = ContentState(
            content_id=inp.content_id,
            stage=Stage.draft,
            version=1,
            version_hash=content_hash(inp.version),
            publish_at=inp.plan.publish_at,
            expedited=inp.expedited,
            review_stages=stages,
        )
        self.submitted = False
        self.cancelled = False
        self.epoch = 0  # bumps on every new version: running waits restart
        self.schedule_epoch = 0  # bumps on every reschedule
        self.pending: ReviewRequest | None = None
        self.override_ok = False
        self.release_confirmed = False
        self.hold_released = False
        self.retract_reason: str | None = None
        self.lock = asyncio.Lock()

    # --- queries, signals, updates -------------------------------------------------------------------

    @workflow.query
    def current(self) -> ContentState:
        return self.state

    @workflow.signal
    def hold_released_signal(self) -> None:
        self.hold_released = True

    @workflow.update
    async def revise(self, req: ReviseRequest) -> VersionRecord:
        async with self.lock:
            number = self.state.version + 1
            digest = content_hash(req.content)
            await workflow.execute_activity_method(
                ContentActivities.save_version,
                SaveVersionInput(
                    content_id=self.inp.content_id,
                    number=number,
                    hash=digest,
                    content=req.content,
                    author=req.actor.name,
                    note=req.note,
                ),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RETRY,
            )
            record = VersionRecord(
                number=number, hash=digest, author=req.actor.name, created_at=workflow.now(), note=req.note
            )
            self.version = req.content
            self.state.version, self.state.version_hash = number, digest
            self.state.versions.append(record)
            self.state.findings = []
            self.state.compliance_override = None
            self.override_ok = False
            self.submitted = False
            self.pending = None
            self.epoch += 1
            if self.state.stage not in (Stage.draft, Stage.expired):
                await self._set_stage(Stage.revision)
            else:
                await self._project()
            return record

    @revise.validator
    def _check_revise(self, req: ReviseRequest) -> None:
        self._require_editor(req.actor)
        if self.state.stage not in EDITABLE_STAGES | {Stage.scheduled}:
            raise reject("stage", f"content in stage {self.state.stage.value} can no longer be edited")
        if content_hash(req.content) == self.state.version_hash:
            raise reject("content", "identical to the current version; nothing to save")

    @workflow.update
    def submit(self, req: SubmitRequest) -> SubmitResult:
        findings = self._self_check()
        if blocking(findings):
            return SubmitResult(submitted=False, findings=findings, stage=self.state.stage)
        self.submitted = True
        self.state.findings = findings
        return SubmitResult(submitted=True, findings=findings, stage=self.state.stage)

    @submit.validator
    def _check_submit(self, req: SubmitRequest) -> None:
        self._require_editor(req.actor)
        if self.state.stage not in (Stage.draft, Stage.revision) or self.submitted:
            raise reject("stage", f"only a draft or a revision can be submitted (now {self.state.stage.value})")
        if req.version_hash and req.version_hash != self.state.version_hash:
            raise reject("version_hash", "not the current version; reload and submit again")

    @workflow.update
    def review(self, req: ReviewRequest) -> DecisionRecord:
        record = self._decide(req.stage, req.decision, req.actor, req.notes)
        self.pending = req
        return record

    @review.validator
    def _check_review(self, req: ReviewRequest) -> None:
        if self.state.stage not in REVIEW_STAGES:
            raise reject("stage", f"nothing to review; content is in stage {self.state.stage.value}")
        if req.stage != self.state.stage:
            raise reject("stage", f"the current review stage is {self.state.stage.value}, not {req.stage.value}")
        if req.version_hash != self.state.version_hash:
            raise reject(
                "version_hash",
                f"approvals bind to the current version {self.state.version} "
                f"({self.state.version_hash[:12]}…); this decision names an outdated one",
            )
        allowed = STAGE_ROLES[req.stage]
        if not set(req.actor.roles) & allowed:
            raise reject(
                "role", f"stage {req.stage.value} needs one of {', '.join(sorted(r.value for r in allowed))}"
            )
        if req.actor.user_id == self.inp.owner_id:
            raise reject("actor", "nobody reviews their own content")
        if req.decision is not Decision.approve and not req.notes.strip():
            raise reject("notes", "say what to change or why it is rejected")
        if self.pending is not None:
            raise reject("stage", "a decision for this stage is already being processed")

    @workflow.update
    def override_compliance(self, req: OverrideRequest) -> DecisionRecord:
        record = self._decide(Stage.compliance_blocked, "override", req.actor, req.reason)
        self.state.compliance_override = {
            "by": req.actor.name,
            "reason": req.reason,
            "at": workflow.now().isoformat(),
        }
        self.override_ok = True
        return record

    @override_compliance.validator
    def _check_override(self, req: OverrideRequest) -> None:
        if self.state.stage is not Stage.compliance_blocked:
            raise reject("stage", f"nothing to override; content is in stage {self.state.stage.value}")
        if Role.risk_compliance not in req.actor.roles:
            raise reject("role", "only risk_compliance may override a compliance block")
        if req.actor.user_id == self.inp.owner_id:
            raise reject("actor", "nobody overrides the block on their own content")
        if req.version_hash != self.state.version_hash:
            raise reject("version_hash", "the override must name the current version")

    @workflow.update
    async def reschedule(self, req: RescheduleRequest) -> ContentState:
        self.state.publish_at = req.publish_at
        self.schedule_epoch += 1
        await self._project()
        return self.state

    @reschedule.validator
    def _check_reschedule(self, req: RescheduleRequest) -> None:
        self._require_editor(req.actor)
        if self.state.stage not in STOPPABLE:
            raise reject("stage", f"content in stage {self.state.stage.value} can no longer be rescheduled")
        if req.publish_at <= workflow.now():
            raise reject("publish_at", "must be in the future")

    @workflow.update
    def cancel(self, req: ReasonRequest) -> ContentState:
        self.cancelled = True
        self.state.outcome_reason = req.reason or f"cancelled by {req.actor.name}"
        return self.state

    @cancel.validator
    def _check_cancel(self, req: ReasonRequest) -> None:
        self._require_editor(req.actor)
        if self.state.stage not in STOPPABLE:
            raise reject("stage", f"content in stage {self.state.stage.value} can no longer be cancelled")

    @workflow.update
    def confirm_release(self, req: ReasonRequest) -> ContentState:
        self.release_confirmed = True
        self._decide(Stage.awaiting_release, "release", req.actor, req.reason)
        return self.state

    @confirm_release.validator
    def _check_release(self, req: ReasonRequest) -> None:
        if self.state.stage is not Stage.awaiting_release:
            raise reject("stage", f"nothing awaits release; content is in stage {self.state.stage.value}")
        if Role.ops_head not in req.actor.roles:
            raise reject("role", "only ops_head confirms publishing after a crisis hold")

    @workflow.update
    def retract(self, req: ReasonRequest) -> ContentState:
        self.retract_reason = req.reason
        self._decide(self.state.stage, "retract", req.actor, req.reason)
        return self.state

    @retract.validator
    def _check_retract(self, req: ReasonRequest) -> None:
        if self.state.stage not in (Stage.tracking, Stage.completed):
            raise reject("stage", f"only published content can be retracted (now {self.state.stage.value})")
        if not set(req.actor.roles) & RETRACTORS:
            raise reject("role", "retraction needs ops_head, risk_compliance or leadership")
        if not req.reason.strip():
            raise reject("reason", "a retraction needs a recorded reason")
        if self.retract_reason is not None:
            raise reject("stage", "a retraction is already under way")

    def _decide(self, stage: Stage, decision: Decision | str, actor: Actor, notes: str) -> DecisionRecord:
        """Record a human decision on the current version (validators have checked it names that version)."""
        record = DecisionRecord(
            stage=stage, decision=decision, actor=actor.name, roles=[r.value for r in actor.roles],
            version=self.state.version, version_hash=self.state.version_hash, notes=notes, at=workflow.now(),
        )  # fmt: skip
        self.state.decisions.append(record)
        return record

    def _require_editor(self, actor: Actor) -> None:
        if actor.user_id != self.inp.owner_id and not set(actor.roles) & EDITORS:
            raise reject("actor", "only the owner or ops_head may change this content")

    # --- the process ---------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: ContentWorkflowInput) -> ContentState:
        workflow.upsert_search_attributes(
            [
                SA_PROCESS.value_set("content"),
                SA_OWNER.value_set(inp.owner),
                SA_PLATFORMS.value_set(sorted({t.platform.value for t in inp.plan.targets})),
            ]
        )
        await workflow.execute_activity_method(
            ContentActivities.save_version,
            SaveVersionInput(
                content_id=inp.content_id,
                number=1,
                hash=self.state.version_hash,
                content=inp.version,
                author=inp.owner,
                note="初稿",
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )
        self.state.versions.append(
            VersionRecord(number=1, hash=self.state.version_hash, author=inp.owner, created_at=workflow.now())
        )
        await self._set_stage(Stage.draft)
        try:
            await self._review()
            if self.state.stage is not Stage.rejected:
                await self._wait_for_publish_time()
            if self.state.stage is not Stage.rejected:
                await self._crisis_hold()
        except _Cancelled:
            await self._set_stage(Stage.cancelled)
            return await self._finish()
        if self.state.stage is Stage.rejected:
            return await self._finish()
        await self._publish()
        if self.state.stage is not Stage.failed:
            await self._track()
        return await self._finish()

    async def _finish(self) -> ContentState:
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state

    def _self_check(self) -> list[Finding]:
        return self_check(self.version, self.inp.plan)

    def variants(self) -> list[AdaptedVariant]:
        return [adapt(self.version, t, self.inp.plan.format) for t in self.inp.plan.targets]

    # Waiting with a publish deadline: an unapproved item expires instead of going out late.
    async def _wait(
        self, cond: Callable[[], bool], events: list[tuple[datetime, Callable[[], Awaitable[None]]]]
    ) -> None:
        fired: set[int] = set()
        while True:
            if self.cancelled:
                raise _Cancelled
            if cond():
                return
            now = workflow.now()
            if now >= self.state.publish_at:
                await self._expire()
                continue
            for i, (at, action) in enumerate(events):
                if i not in fired and now >= at:
                    fired.add(i)
                    await action()
            upcoming = [at for i, (at, _) in enumerate(events) if i not in fired]
            wake = min([self.state.publish_at, *upcoming])
            epoch, sched = self.epoch, self.schedule_epoch
            try:
                await workflow.wait_condition(
                    partial(self._woken, cond, epoch, sched),
                    timeout=max(wake - now, timedelta(seconds=1)),
                    timeout_summary="content-deadline",
                )
            except TimeoutError:
                pass
            if self.epoch != epoch:
                return  # a new version: the caller restarts review

    def _woken(self, cond: Callable[[], bool], epoch: int, sched: int) -> bool:
        return cond() or self.cancelled or self.epoch != epoch or self.schedule_epoch != sched

    async def _expire(self) -> None:
        before = self.state.stage
        await self._set_stage(Stage.expired)
        await self._notify(
            "alert",
            f"内容 #{self.inp.content_id} 未在发布时间前完成审批，已过期（不会补发）",
            "请重新安排发布时间或取消。",
            user=self.inp.owner,
            key=f"expired-{self.schedule_epoch}",
        )
        sched = self.schedule_epoch
        await workflow.wait_condition(lambda: self.cancelled or self.schedule_epoch != sched)
        if self.cancelled:
            raise _Cancelled
        await self._set_stage(before)

    async def _review(self) -> None:
        while True:
            epoch = self.epoch
            if self.state.stage not in (Stage.draft, Stage.revision):
                await self._set_stage(Stage.revision)
            await self._wait(lambda: self.submitted, [])
            if self.epoch != epoch:
                continue
            # Automated compliance scan before any person looks at it (R-4.1.3.1).
            scan = await workflow.execute_activity_method(
                ContentActivities.compliance_scan,
                self.version,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RETRY,
            )
            self.state.findings = self.state.findings + scan
            if any(f.severity is Severity.blocking for f in scan):
                await self._set_stage(Stage.compliance_blocked)
                await self._notify(
                    "info",
                    f"内容 #{self.inp.content_id} 合规扫描发现阻断项",
                    "; ".join(f.message for f in scan if f.severity is Severity.blocking),
                    user=self.inp.owner,
                    key=f"blocked-v{self.state.version}",
                )
                await self._wait(lambda: self.override_ok, [])
                if self.epoch != epoch:
                    continue
            if await self._review_stages(epoch):
                return
            if self.state.stage is Stage.rejected:
                return

    async def _review_stages(self, epoch: int) -> bool:
        """True when every stage approved; False to restart (new version / changes requested / rejected)."""
        for stage in self.state.review_stages:
            if stage is Stage.review_accuracy and not self._needs_accuracy_review():
                continue
            await self._set_stage(stage)
            started = workflow.now()
            cal = WorkCalendar(self.inp.calendar)
            sla = timedelta(hours=self.inp.sla.hours)

            if self.inp.sla.business_hours:
                due, overdue = cal.add(started, sla), cal.add(started, sla * 2)
            else:
                due, overdue = started + sla, started + sla * 2
            events: list[tuple[datetime, Callable[[], Awaitable[None]]]] = [
                (due, partial(self._remind, stage)),
                (overdue, partial(self._escalate, stage)),
            ]
            self.pending = None
            await self._wait(lambda: self.pending is not None, events)
            if self.epoch != epoch:
                return False
            decision = self.pending
            assert decision is not None
            self.pending = None
            if decision.decision is Decision.approve:
                continue
            if decision.decision is Decision.request_changes:
                self.state.revision_notes = decision.notes
                self.submitted = False
                await self._set_stage(Stage.revision)
                await self._notify(
                    "info",
                    f"内容 #{self.inp.content_id} 需要修改",
                    decision.notes,
                    user=self.inp.owner,
                    key=f"changes-v{self.state.version}-{stage.value}",
                )
                await workflow.wait_condition(lambda: self.epoch != epoch or self.cancelled)
                if self.cancelled:
                    raise _Cancelled
                return False
            self.state.outcome_reason = decision.notes
            await self._set_stage(Stage.rejected)
            await self._notify(
                "info",
                f"内容 #{self.inp.content_id} 被驳回",
                decision.notes,
                user=self.inp.owner,
                key=f"rejected-v{self.state.version}",
            )
            return False
        self.state.variants = self.variants()
        return True

    def _needs_accuracy_review(self) -> bool:
        if self.version.facts_flagged or self.inp.plan.goal.value in ("launch", "conversion"):
            return True
        text = " ".join(
            [self.version.title, self.version.body, *(v.body or "" for v in self.version.variants.values())]
        )
        return _has_facts(text)

    async def _remind(self, stage: Stage) -> None:
        self.state.reminders_sent.append(f"reminder:{stage.value}")
        roles = sorted(r.value for r in STAGE_ROLES[stage])
        for role in roles:
            await self._notify(
                "reminder",
                f"待审：内容 #{self.inp.content_id}（{stage.value}）已超过审核时限",
                f"版本 {self.state.version}",
                role=role,
                key=f"remind-{stage.value}-v{self.state.version}-{role}",
            )

    async def _escalate(self, stage: Stage) -> None:
        self.state.reminders_sent.append(f"escalation:{stage.value}")
        role = ESCALATION_ROLE[stage].value
        await self._notify(
            "escalation",
            f"升级：内容 #{self.inp.content_id} 在 {stage.value} 阶段超时两倍",
            f"版本 {self.state.version}，请督办",
            role=role,
            key=f"escalate-{stage.value}-v{self.state.version}",
        )

    async def _wait_for_publish_time(self) -> None:
        await self._set_stage(Stage.scheduled)
        while True:
            epoch, sched = self.epoch, self.schedule_epoch
            remaining = self.state.publish_at - workflow.now()
            if remaining > timedelta(0):
                try:
                    await workflow.wait_condition(
                        partial(self._woken, _never, epoch, sched),
                        timeout=remaining,
                        timeout_summary="publish-time",
                    )
                except TimeoutError:
                    pass
            if self.cancelled:
                raise _Cancelled
            if self.epoch != epoch:  # edited after approval: review again
                await self._review()
                if self.state.stage is Stage.rejected:
                    return
                await self._set_stage(Stage.scheduled)
                continue
            if self.schedule_epoch != sched:
                continue
            if workflow.now() >= self.state.publish_at:
                return

    async def _crisis_hold(self) -> None:
        if self.state.stage is Stage.rejected:
            return
        status = await self._hold_status()
        if not status.active:
            return
        self.state.held_since = workflow.now()
        await self._set_stage(Stage.held)
        await self._notify(
            "alert",
            f"危机暂停：内容 #{self.inp.content_id} 暂缓发布",
            status.reason,
            role=Role.ops_head.value,
            key=f"held-{self.schedule_epoch}",
        )
        while status.active:
            self.hold_released = False
            try:
                await workflow.wait_condition(
                    lambda: self.hold_released or self.cancelled,
                    timeout=self.inp.hold_poll,
                    timeout_summary="hold-poll",
                )
            except TimeoutError:
                pass
            if self.cancelled:
                raise _Cancelled
            status = await self._hold_status()
        await self._set_stage(Stage.awaiting_release)
        await self._notify(
            "info",
            f"危机暂停已解除：内容 #{self.inp.content_id} 等待运营负责人确认发布",
            "",
            role=Role.ops_head.value,
            key=f"release-{self.schedule_epoch}",
        )
        await workflow.wait_condition(lambda: self.release_confirmed or self.cancelled)
        if self.cancelled:
            raise _Cancelled

    async def _hold_status(self):  # type: ignore[no-untyped-def]
        return await workflow.execute_activity_method(
            ContentActivities.crisis_hold_status, start_to_close_timeout=timedelta(seconds=15), retry_policy=RETRY
        )

    async def _publish(self) -> None:
        await self._set_stage(Stage.publishing)
        self.state.variants = self.variants()
        for variant in self.state.variants:
            key = f"content-{self.inp.content_id}-v{self.state.version}-{variant.platform.value}-{variant.account}"
            try:
                pub = await workflow.execute_activity_method(
                    ContentActivities.publish,
                    PublishInput(
                        content_id=self.inp.content_id,
                        version=self.state.version,
                        variant=variant,
                        idempotency_key=key,
                        at=workflow.now(),
                    ),
                    start_to_close_timeout=timedelta(seconds=60),
                    retry_policy=PUBLISH_RETRY,
                )
            except ActivityError as err:
                cause = err.cause.message if isinstance(err.cause, ApplicationError) else str(err)
                self.state.publications.append(
                    PublicationRecord(
                        platform=variant.platform,
                        account=variant.account,
                        idempotency_key=key,
                        confirmed=False,
                        confirmation_note=f"发布失败：{cause}",
                    )
                )
                await self._notify(
                    "alert",
                    f"发布失败：内容 #{self.inp.content_id} @ {variant.platform.value}",
                    cause,
                    user=self.inp.owner,
                    key=f"publish-failed-{key}",
                )
                continue
            self.state.publications.append(pub)
        if not any(p.external_id for p in self.state.publications):
            await self._set_stage(Stage.failed)
            return
        # Post-publish confirmation: live, and the same text that was approved.
        for i, pub in enumerate(self.state.publications):
            if not pub.external_id:
                continue
            variant = next(
                v for v in self.state.variants if v.platform == pub.platform and v.account == pub.account
            )
            checked = await workflow.execute_activity_method(
                ContentActivities.confirm,
                ConfirmInput(
                    content_id=self.inp.content_id,
                    publication=pub,
                    expected_title=variant.title,
                    expected_text=variant.body,
                ),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RETRY,
            )
            self.state.publications[i] = checked
            if not checked.confirmed:
                await self._notify(
                    "alert",
                    f"发布核验异常：内容 #{self.inp.content_id} @ {pub.platform.value}",
                    checked.confirmation_note,
                    user=self.inp.owner,
                    key=f"confirm-{pub.idempotency_key}",
                )
                await self._notify(
                    "alert",
                    f"发布核验异常：内容 #{self.inp.content_id} @ {pub.platform.value}",
                    checked.confirmation_note,
                    role=Role.ops_head.value,
                    key=f"confirm-ops-{pub.idempotency_key}",
                )

    async def _track(self) -> None:
        await self._set_stage(Stage.tracking)
        live = [p for p in self.state.publications if p.external_id]
        start = min(p.published_at for p in live if p.published_at)
        for checkpoint in self.inp.checkpoints:
            label = _label(checkpoint)
            remaining = start + checkpoint - workflow.now()
            if remaining > timedelta(0):
                try:
                    await workflow.wait_condition(
                        lambda: self.retract_reason is not None,
                        timeout=remaining,
                        timeout_summary=f"metrics-{label}",
                    )
                except TimeoutError:
                    pass
            if self.retract_reason is not None:
                await self._retract()
                return
            total = MetricsSnapshot()
            for pub in live:
                snap = await workflow.execute_activity_method(
                    ContentActivities.fetch_metrics,
                    MetricsInput(
                        content_id=self.inp.content_id, publication=pub, checkpoint=label, at=workflow.now()
                    ),
                    start_to_close_timeout=timedelta(seconds=60),
                    retry_policy=RETRY,
                )
                total = total.plus(snap)
            self.state.metrics[label] = total
        final = list(self.state.metrics.values())[-1] if self.state.metrics else MetricsSnapshot()
        self.state.summary = effect_summary(final, self.inp.plan.kpi)
        await self._set_stage(Stage.completed)
        try:
            await workflow.wait_condition(
                lambda: self.retract_reason is not None,
                timeout=RETRACT_WINDOW,
                timeout_summary="retraction-window",
            )
        except TimeoutError:
            return
        await self._retract()

    async def _retract(self) -> None:
        reason = self.retract_reason or ""
        for i, pub in enumerate(self.state.publications):
            if not pub.external_id or pub.retracted:
                continue
            self.state.publications[i] = await workflow.execute_activity_method(
                ContentActivities.retract,
                RetractInput(content_id=self.inp.content_id, publication=pub, reason=reason, at=workflow.now()),
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=PUBLISH_RETRY,
            )
        self.state.outcome_reason = reason
        await self._set_stage(Stage.retracted)

    # --- helpers -------------------------------------------------------------------------------------

    async def _set_stage(self, stage: Stage) -> None:
        self.state.stage = stage
        self.state.stage_since = workflow.now()
        workflow.upsert_search_attributes([SA_STAGE.value_set(stage.value)])
        await self._project()

    async def _project(self) -> None:
        await workflow.execute_activity_method(
            ContentActivities.sync_projection,
            ProjectionUpdate(
                content_id=self.inp.content_id,
                stage=self.state.stage,
                version=self.state.version,
                version_hash=self.state.version_hash,
                title=self.version.title,
                publish_at=self.state.publish_at,
                summary=self.state.summary,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )

    async def _notify(
        self, kind: str, subject: str, body: str, *, role: str = "", user: str = "", key: str
    ) -> None:
        await notify(
            kind,
            subject,
            body,
            role=role,
            user=user,
            ref=f"content:{self.inp.content_id}",
            dedupe_key=f"content-{self.inp.content_id}-{key}",
        )


def _never() -> bool:
    return False


def _label(d: timedelta) -> str:
    hours = int(d.total_seconds() // 3600)
    if hours and hours % 24 == 0 and hours >= 168:
        return f"T+{hours // 24}d"
    return f"T+{hours}h" if hours else f"T+{int(d.total_seconds() // 60)}m"


_FACT_MARKERS = ("%", "％", "¥", "￥", "价格", "折扣", "截止", "活动规则", "抽奖", "中奖", "〇", "零点")


def _has_facts(text: str) -> bool:
    """Numbers, prices, percentages, dates or campaign rules call for the accuracy review."""
    return any(ch.isdigit() for ch in text) or any(m in text for m in _FACT_MARKERS)


__all__ = ["ContentWorkflow", "VersionContent"]
