"""``content-{id}`` — ContentWorkflow (R-4.1, R-2.3).

draft → creator self-check (on submit) → automated compliance scan → review: compliance → brand →
accuracy (when facts are involved) → final, each an update restricted to a role, with an SLA reminder
and an escalation → wait for the publish time (reschedulable, cancellable) → crisis-hold check →
idempotent publishing per platform → confirmation → metric checkpoints → effect summary.
If the publish time arrives unapproved the item is ``expired``: never published late, only rescheduled.

This class holds the handlers and their validators; the phases live in ``review.py`` and ``publish.py``
and share one ``ContentRun`` (``context.py``).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow

from workflows.common import RETRY
from workflows.content.context import Cancelled, ContentRun
from workflows.content.publish import crisis_hold, late_gate, publish, track, wait_for_publish_time
from workflows.content.review import review

with workflow.unsafe.imports_passed_through():
    from activities.content import ContentActivities
    from core.temporal import SA_OWNER, SA_PLATFORMS, SA_PROCESS
    from domain.content import (
        EDITABLE_STAGES,
        REVIEW_STAGES,
        STAGE_ROLES,
        Actor,
        ComplianceOverride,
        ContentState,
        ContentWorkflowInput,
        Decision,
        DecisionRecord,
        OverrideRequest,
        ReasonRequest,
        RescheduleRequest,
        ReviewRequest,
        ReviseRequest,
        Stage,
        SubmitRequest,
        SubmitResult,
        VersionRecord,
        content_hash,
    )
    from domain.content_io import HOLD_RELEASED_SIGNAL, SaveVersionInput
    from domain.errors import conflict, forbidden, invalid
    from domain.roles import Role
    from domain.selfcheck import blocking, self_check

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


@workflow.defn
class ContentWorkflow:
    @workflow.init
    def __init__(self, inp: ContentWorkflowInput) -> None:
        self.run_ = ContentRun(inp)
        self.lock = asyncio.Lock()

    @property
    def state(self) -> ContentState:
        return self.run_.state

    # --- queries, signals, updates -------------------------------------------------------------------

    @workflow.query
    def current(self) -> ContentState:
        return self.state

    @workflow.signal(name=HOLD_RELEASED_SIGNAL)
    def hold_released_signal(self) -> None:
        self.run_.hold_released = True

    @workflow.update
    async def revise(self, req: ReviseRequest) -> VersionRecord:
        run = self.run_
        run.revising = True  # reserved before the first await: decisions wait for the new version
        try:
            async with self.lock:
                number = self.state.version + 1
                digest = content_hash(req.content)
                await workflow.execute_activity_method(
                    ContentActivities.save_version,
                    SaveVersionInput(
                        content_id=run.content_id,
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
                run.version = req.content
                self.state.version, self.state.version_hash = number, digest
                self.state.versions.append(record)
                self.state.findings = []
                self.state.compliance_override = None
                run.override_ok = False
                run.submitted = False
                run.epoch += 1
                if self.state.stage not in (Stage.draft, Stage.expired):
                    await run.set_stage(Stage.revision)
                else:
                    await run.project()
                return record
        finally:
            run.revising = False

    @revise.validator
    def _check_revise(self, req: ReviseRequest) -> None:
        self._require_editor(req.actor)
        if self.state.stage not in EDITABLE_STAGES | {Stage.scheduled}:
            raise conflict("stage", f"content in stage {self.state.stage.value} can no longer be edited")
        if self.run_.revising:
            raise conflict("stage", "another new version is being saved; reload and try again")
        if self.run_.pending is not None:
            raise conflict("stage", "a review decision on the current version is being processed; reload first")
        if content_hash(req.content) == self.state.version_hash:
            raise invalid("content", "identical to the current version; nothing to save")

    @workflow.update
    def submit(self, req: SubmitRequest) -> SubmitResult:
        findings = self_check(self.run_.version, self.run_.inp.plan)
        if blocking(findings):
            return SubmitResult(submitted=False, findings=findings, stage=self.state.stage)
        self.run_.submitted = True
        self.state.findings = findings
        return SubmitResult(submitted=True, findings=findings, stage=self.state.stage)

    @submit.validator
    def _check_submit(self, req: SubmitRequest) -> None:
        self._require_editor(req.actor)
        if self.state.stage not in (Stage.draft, Stage.revision) or self.run_.submitted or self.run_.revising:
            raise conflict("stage", f"only a draft or a revision can be submitted (now {self.state.stage.value})")
        if req.version_hash and req.version_hash != self.state.version_hash:
            raise invalid("version_hash", "not the current version; reload and submit again")

    @workflow.update
    async def review(self, req: ReviewRequest) -> DecisionRecord:
        record = self.run_.decide(req.stage, req.decision, req.actor, req.notes)
        self.run_.pending = req  # the main loop takes it and clears the slot
        # Answer once the decision is applied (the stage has moved on): a caller that reads the item next
        # sees the next stage, and a second reviewer of the same stage is refused instead of queued.
        if workflow.patched("review-answers-when-applied"):  # histories before: answered at acceptance
            await workflow.wait_condition(lambda: self.run_.pending is not req or self.run_.cancelled)
        return record

    @review.validator
    def _check_review(self, req: ReviewRequest) -> None:
        if self.state.stage not in REVIEW_STAGES:
            raise conflict("stage", f"nothing to review; content is in stage {self.state.stage.value}")
        if req.stage != self.state.stage:
            raise conflict("stage", f"the current review stage is {self.state.stage.value}, not {req.stage.value}")
        if self.run_.revising:
            raise conflict("stage", "a new version is being saved; reload and review that one")
        if req.version_hash != self.state.version_hash:
            raise invalid(
                "version_hash",
                f"approvals bind to the current version {self.state.version} "
                f"({self.state.version_hash[:12]}…); this decision names an outdated one",
            )
        allowed = STAGE_ROLES[req.stage]
        if not req.actor.holds(allowed):
            raise forbidden(
                "role",
                f"stage {req.stage.value} needs one of {', '.join(sorted(r.value for r in allowed))}",
                req.actor,
                allowed,
            )
        if req.actor.user_id == self.run_.inp.owner_id:
            raise forbidden("actor", "nobody reviews their own content", req.actor)
        if req.decision is not Decision.approve and not req.notes.strip():
            raise invalid("notes", "say what to change or why it is rejected")
        if self.run_.pending is not None:
            raise conflict(
                "stage", f"a decision for {req.stage.value} was just taken ({self.run_.pending.actor.name})"
            )

    @workflow.update
    def override_compliance(self, req: OverrideRequest) -> DecisionRecord:
        record = self.run_.decide(Stage.compliance_blocked, "override", req.actor, req.reason)
        self.state.compliance_override = ComplianceOverride(
            by=req.actor.name, reason=req.reason, at=workflow.now()
        )
        self.run_.override_ok = True
        return record

    @override_compliance.validator
    def _check_override(self, req: OverrideRequest) -> None:
        if self.state.stage is not Stage.compliance_blocked or self.run_.override_ok:
            raise conflict("stage", f"nothing to override; content is in stage {self.state.stage.value}")
        if Role.risk_compliance not in req.actor.roles:
            raise forbidden(
                "role", "only risk_compliance may override a compliance block", req.actor, {Role.risk_compliance}
            )
        if req.actor.user_id == self.run_.inp.owner_id:
            raise forbidden("actor", "nobody overrides the block on their own content", req.actor)
        if req.version_hash != self.state.version_hash:
            raise invalid("version_hash", "the override must name the current version")

    @workflow.update
    async def reschedule(self, req: RescheduleRequest) -> ContentState:
        self.state.publish_at = req.publish_at
        self.run_.reschedules += 1
        await self.run_.project()
        return self.state

    @reschedule.validator
    def _check_reschedule(self, req: RescheduleRequest) -> None:
        self._require_editor(req.actor)
        if self.state.stage not in STOPPABLE:
            raise conflict("stage", f"content in stage {self.state.stage.value} can no longer be rescheduled")
        if req.publish_at <= workflow.now():
            raise invalid("publish_at", "must be in the future")

    @workflow.update
    def cancel(self, req: ReasonRequest) -> ContentState:
        self.run_.cancelled = True
        self.state.outcome_reason = req.reason or f"cancelled by {req.actor.name}"
        return self.state

    @cancel.validator
    def _check_cancel(self, req: ReasonRequest) -> None:
        self._require_editor(req.actor)
        if self.state.stage not in STOPPABLE or self.run_.cancelled:
            raise conflict("stage", f"content in stage {self.state.stage.value} can no longer be cancelled")

    @workflow.update
    def confirm_release(self, req: ReasonRequest) -> ContentState:
        self.run_.release_confirmed = True
        self.run_.decide(Stage.awaiting_release, "release", req.actor, req.reason)
        return self.state

    @confirm_release.validator
    def _check_release(self, req: ReasonRequest) -> None:
        if self.state.stage is not Stage.awaiting_release or self.run_.release_confirmed:
            raise conflict("stage", f"nothing awaits release; content is in stage {self.state.stage.value}")
        if Role.ops_head not in req.actor.roles:
            raise forbidden(
                "role",
                "only ops_head confirms publishing after a crisis hold or a missed window",
                req.actor,
                EDITORS,
            )

    @workflow.update
    def retract(self, req: ReasonRequest) -> ContentState:
        self.run_.retract_reason = req.reason
        self.run_.decide(self.state.stage, "retract", req.actor, req.reason)
        return self.state

    @retract.validator
    def _check_retract(self, req: ReasonRequest) -> None:
        if self.state.stage not in (Stage.tracking, Stage.completed):
            raise conflict("stage", f"only published content can be retracted (now {self.state.stage.value})")
        if not req.actor.holds(RETRACTORS):
            raise forbidden(
                "role", "retraction needs ops_head, risk_compliance or leadership", req.actor, RETRACTORS
            )
        if not req.reason.strip():
            raise invalid("reason", "a retraction needs a recorded reason")
        if self.run_.retract_reason is not None:
            raise conflict("stage", "a retraction is already under way")

    def _require_editor(self, actor: Actor) -> None:
        if actor.user_id != self.run_.inp.owner_id and not actor.holds(EDITORS):
            raise forbidden("actor", "only the owner or ops_head may change this content", actor, EDITORS)

    # --- the process ---------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: ContentWorkflowInput) -> ContentState:
        run = self.run_
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
        await run.set_stage(Stage.draft)
        try:
            await review(run)
            while self.state.stage is not Stage.rejected:
                await wait_for_publish_time(run)
                if self.state.stage is Stage.rejected:
                    break
                await crisis_hold(run)
                if not await late_gate(run):  # True: rescheduled while waiting, wait for the new time
                    break
        except Cancelled:
            await run.set_stage(Stage.cancelled)
            return await self._finish()
        if self.state.stage is Stage.rejected:
            return await self._finish()
        await publish(run)
        if self.state.stage is not Stage.failed:
            await track(run)
        return await self._finish()

    async def _finish(self) -> ContentState:
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state
