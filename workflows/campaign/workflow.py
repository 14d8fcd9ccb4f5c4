"""``campaign-{id}`` — CampaignWorkflow (R-4.2.3, R-3.1).

plan (draft, revisable) → submit: rules checklist (blocking findings stop it) → review by risk_compliance
(+ leadership when the budget or a prize is above the thresholds), approvals bound to the plan hash →
at the start time: commit to a sealed secret, name the drand round, publish the post with both →
entries (API → database; the owner may pause and resume) → close by timer: freeze the eligible list,
publish N and the Merkle root → after the draw time a person enters the public value with evidence →
draw (activity; draw.json stored) → results statement approved before the deadline (reminder,
escalation) and published → prizes: contact, address deadline, forfeit → next reserve, shipped,
delivered → final report.

This class holds the handlers and their validators; the phases live in ``phases.py`` and share one
``CampaignRun`` (``context.py``).
"""

from __future__ import annotations

import hashlib

from temporalio import workflow

from workflows.campaign.context import CampaignRun, Cancelled
from workflows.campaign.phases import (
    STAGE_ROLE,
    beacon_record,
    collect,
    draw,
    launch,
    open_pause,
    prizes,
    report,
    results,
    review,
)

with workflow.unsafe.imports_passed_through():
    from core.temporal import SA_OWNER, SA_PLATFORMS, SA_PROCESS
    from domain.campaign.checklist import blocking, check
    from domain.campaign.models import (
        REVIEW_STAGES,
        ActorRequest,
        BeaconRequest,
        CampaignInput,
        CampaignState,
        ComplaintRequest,
        Decision,
        DecisionRecord,
        PauseWindow,
        PrizeEvent,
        PrizeUpdate,
        ResultsApproval,
        ReviewRequest,
        ReviseRequest,
        SlotStatus,
        Stage,
        SubmitRequest,
        SubmitResult,
        plan_hash,
    )
    from domain.campaign.verify_draw import drand_round_time
    from domain.errors import conflict, forbidden, invalid
    from domain.kernel import Actor
    from domain.roles import Role

EDITORS = frozenset({Role.ops_head})  # besides the owner
RESULT_APPROVERS = frozenset({Role.ops_head, Role.leadership})
BEACON_ENTRANTS = frozenset({Role.risk_compliance, Role.ops_head})
PRIZE_HANDLERS = frozenset({Role.interaction_agent, Role.ops_head})
COMPLAINT_TAKERS = frozenset({Role.interaction_agent, Role.ops_head, Role.risk_compliance})
BEFORE_LAUNCH = frozenset({Stage.draft, *REVIEW_STAGES, Stage.approved})
LAUNCHED = frozenset({Stage.running, Stage.paused, Stage.frozen, Stage.results_review, Stage.prizes})
NEXT = {
    PrizeEvent.address_received: (SlotStatus.contacted, SlotStatus.address_received),
    PrizeEvent.shipped: (SlotStatus.address_received, SlotStatus.shipped),
    PrizeEvent.delivered: (SlotStatus.shipped, SlotStatus.delivered),
    PrizeEvent.declined: (SlotStatus.contacted, SlotStatus.contacted),
}


@workflow.defn
class CampaignWorkflow:
    @workflow.init
    def __init__(self, inp: CampaignInput) -> None:
        self.run_ = CampaignRun(inp)
        self.lock = self.run_.lock

    @property
    def state(self) -> CampaignState:
        return self.run_.state

    @workflow.query
    def current(self) -> CampaignState:
        return self.state

    # --- plan and review ---------------------------------------------------------------------------

    @workflow.update
    async def revise(self, req: ReviseRequest) -> CampaignState:
        async with self.lock:
            self.run_.plan = req.plan
            self.state.plan_hash = plan_hash(req.plan)
            self.state.findings = []
            await self.run_.project()
            return self.state

    @revise.validator
    def _check_revise(self, req: ReviseRequest) -> None:
        self._require_editor(req.actor)
        if self.state.stage is not Stage.draft or self.run_.submitted:
            raise conflict("stage", f"the plan can only be changed in draft (now {self.state.stage.value})")

    @workflow.update
    def submit(self, req: SubmitRequest) -> SubmitResult:
        findings = check(self.run_.plan, self.run_.inp.thresholds, workflow.now())
        self.state.findings = findings
        ok = not blocking(findings)
        self.run_.submitted = ok
        return SubmitResult(
            submitted=ok, findings=findings, stage=self.state.stage, plan_hash=self.state.plan_hash
        )

    @submit.validator
    def _check_submit(self, req: SubmitRequest) -> None:
        self._require_editor(req.actor)
        if self.state.stage is not Stage.draft or self.run_.submitted:
            raise conflict("stage", f"only a draft can be submitted (now {self.state.stage.value})")

    @workflow.update
    def review(self, req: ReviewRequest) -> DecisionRecord:
        record = self.run_.decide(req.stage, req.decision.value, req.actor, req.notes)
        self.run_.pending = req  # the main loop takes it and clears the slot
        return record

    @review.validator
    def _check_review(self, req: ReviewRequest) -> None:
        if self.state.stage not in REVIEW_STAGES:
            raise conflict("stage", f"nothing to review; the campaign is in stage {self.state.stage.value}")
        if req.stage is not self.state.stage:
            raise conflict("stage", f"the current review stage is {self.state.stage.value}, not {req.stage.value}")
        if req.plan_hash != self.state.plan_hash:
            raise invalid("plan_hash", f"approvals bind to the current plan ({self.state.plan_hash[:12]}…)")
        role = STAGE_ROLE[req.stage]
        if role not in req.actor.roles:
            raise forbidden("role", f"stage {req.stage.value} needs {role.value}", req.actor, {role})
        if req.actor.user_id == self.run_.inp.owner_id:
            raise forbidden("actor", "nobody reviews their own campaign", req.actor)
        if req.decision is not Decision.approve and not req.notes.strip():
            raise invalid("notes", "say what to change or why it is rejected")
        if self.run_.pending is not None:
            raise conflict("stage", f"a decision for {req.stage.value} was just taken")

    @workflow.update
    def cancel(self, req: ActorRequest) -> CampaignState:
        self.run_.cancelled = True
        self.state.outcome_reason = req.reason or f"cancelled by {req.actor.name}"
        return self.state

    @cancel.validator
    def _check_cancel(self, req: ActorRequest) -> None:
        self._require_editor(req.actor)
        if self.state.stage not in BEFORE_LAUNCH or self.run_.cancelled:
            raise conflict("stage", f"a campaign in stage {self.state.stage.value} can no longer be cancelled")

    # --- while it runs -----------------------------------------------------------------------------

    @workflow.update
    async def pause(self, req: ActorRequest) -> CampaignState:
        self.state.pauses.append(PauseWindow(start=workflow.now()))  # taken before the first await
        self.state.stage = Stage.paused
        async with self.lock:
            if self.state.freeze is None:  # the close may have come first: frozen stays
                await self.run_.set_stage(Stage.paused)
        return self.state

    @pause.validator
    def _check_pause(self, req: ActorRequest) -> None:
        self._require_editor(req.actor)
        if self.state.stage is not Stage.running:
            raise conflict("stage", f"only a running campaign can be paused (now {self.state.stage.value})")
        self._before_close()

    @workflow.update
    async def resume(self, req: ActorRequest) -> CampaignState:
        window = open_pause(self.run_)
        assert window is not None
        window.end = workflow.now()
        self.state.stage = Stage.running
        async with self.lock:
            if self.state.freeze is None:  # the close may have come first: frozen stays
                await self.run_.set_stage(Stage.running)
        return self.state

    @resume.validator
    def _check_resume(self, req: ActorRequest) -> None:
        self._require_editor(req.actor)
        if self.state.stage is not Stage.paused or open_pause(self.run_) is None:
            raise conflict("stage", f"only a paused campaign can be resumed (now {self.state.stage.value})")
        self._before_close()

    def _before_close(self) -> None:
        close = self.run_.plan.close_at
        if close is not None and workflow.now() >= close:
            raise conflict("stage", "entries have closed")

    @workflow.update
    def complaint(self, req: ComplaintRequest) -> int:
        self.state.complaints += 1
        return self.state.complaints

    @complaint.validator
    def _check_complaint(self, req: ComplaintRequest) -> None:
        if not req.actor.holds(COMPLAINT_TAKERS):
            raise forbidden(
                "role", "complaints are recorded by the inbox, ops or compliance", req.actor, COMPLAINT_TAKERS
            )
        if self.state.stage not in LAUNCHED:
            raise conflict("stage", f"the campaign has not launched or is over (now {self.state.stage.value})")

    # --- draw and results --------------------------------------------------------------------------

    @workflow.update
    def enter_beacon(self, req: BeaconRequest) -> CampaignState:
        self.run_.beacon = beacon_record(req.round, req.randomness, req.signature, req.evidence, req.actor.name)
        self.state.beacon_randomness = req.randomness.lower()
        self.state.beacon_evidence = req.evidence
        self.run_.decide(self.state.stage, "beacon", req.actor, req.evidence)
        self.run_.beacon_entered = True
        return self.state

    @enter_beacon.validator
    def _check_beacon(self, req: BeaconRequest) -> None:
        if not req.actor.holds(BEACON_ENTRANTS):
            raise forbidden(
                "role", "the public value is entered by risk_compliance or ops_head", req.actor, BEACON_ENTRANTS
            )
        if self.state.stage is not Stage.frozen or self.run_.beacon_entered:
            raise conflict("stage", f"no public value is awaited (now {self.state.stage.value})")
        if req.round != self.state.beacon_round:
            raise invalid("round", f"the launch post named drand quicknet round {self.state.beacon_round}")
        if workflow.now().timestamp() < drand_round_time(req.round):
            raise invalid("round", "that round has not been produced yet")
        if req.signature:
            if hashlib.sha256(bytes.fromhex(req.signature)).hexdigest() != req.randomness.lower():
                raise invalid("signature", "randomness must be SHA-256 of the round's signature")

    @workflow.update
    def approve_results(self, req: ResultsApproval) -> CampaignState:
        self.run_.decide(Stage.results_review, "approve", req.actor, "")
        self.run_.results_approved = True
        return self.state

    @approve_results.validator
    def _check_results(self, req: ResultsApproval) -> None:
        if self.state.stage is not Stage.results_review or self.run_.results_approved:
            raise conflict("stage", f"no results statement awaits approval (now {self.state.stage.value})")
        if not req.actor.holds(RESULT_APPROVERS):
            raise forbidden("role", "results are approved by ops_head or leadership", req.actor, RESULT_APPROVERS)
        if req.actor.user_id == self.run_.inp.owner_id:
            raise forbidden("actor", "the owner does not approve their own results", req.actor)
        if req.text_hash != self.state.results_hash:
            raise invalid("text_hash", "approval binds to the current results text; reload it")

    # --- prizes ------------------------------------------------------------------------------------

    @workflow.update
    def prize(self, req: PrizeUpdate) -> CampaignState:
        slot = self.state.slots[req.slot]
        if req.event is PrizeEvent.declined:
            slot.note = "declined"
            slot.address_due = workflow.now()  # the main loop forfeits it and asks the next reserve
        else:
            slot.status = NEXT[req.event][1]
            slot.note = req.note or slot.note
            if req.event is PrizeEvent.address_received:
                slot.address_due = None
        self.run_.changed += 1
        return self.state

    @prize.validator
    def _check_prize(self, req: PrizeUpdate) -> None:
        if not req.actor.holds(PRIZE_HANDLERS):
            raise forbidden(
                "role", "prizes are handled by interaction_agent or ops_head", req.actor, PRIZE_HANDLERS
            )
        if self.state.stage is not Stage.prizes:
            raise conflict("stage", f"prizes are not being handled (now {self.state.stage.value})")
        if req.slot >= len(self.state.slots):
            raise invalid("slot", f"there are {len(self.state.slots)} prize slots")
        slot = self.state.slots[req.slot]
        want = NEXT[req.event][0]
        if slot.status is not want or slot.note == "declined":
            raise conflict("slot", f"slot {req.slot} is {slot.status.value}; {req.event.value} needs {want.value}")
        if req.event is PrizeEvent.address_received and slot.address_due and workflow.now() >= slot.address_due:
            raise conflict("slot", "the address deadline has passed; the prize goes to the next reserve")

    def _require_editor(self, actor: Actor) -> None:
        if actor.user_id != self.run_.inp.owner_id and not actor.holds(EDITORS):
            raise forbidden("actor", "only the owner or ops_head may change this campaign", actor, EDITORS)

    # --- the process -------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: CampaignInput) -> CampaignState:
        run = self.run_
        workflow.upsert_search_attributes(
            [
                SA_PROCESS.value_set("campaign"),
                SA_OWNER.value_set(inp.owner),
                SA_PLATFORMS.value_set(sorted({a.platform.value for a in inp.plan.accounts})),
            ]
        )
        await run.set_stage(Stage.draft)
        try:
            if not await review(run):
                return await self._finish()
            opened = await launch(run)
        except Cancelled:
            await run.set_stage(Stage.cancelled)
            return await self._finish()
        await collect(run, opened)
        await draw(run)
        await results(run)
        await prizes(run)
        self.state.report = report(run)
        await run.set_stage(Stage.completed)
        return await self._finish()

    async def _finish(self) -> CampaignState:
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state
