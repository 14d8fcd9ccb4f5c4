"""``incident-{id}`` — EmergencyWorkflow (R-5.2.1–R-5.2.9; drills R-5.1.8).

confirm (truth, scope, impact × likelihood; deadline → escalation) → activate the level's plan (crisis
hold if the plan says so) → page the commander and team (acknowledgement timers, re-page, escalation)
→ assess (re-levelling switches deadlines at once) → statements drafted from approved templates,
approved by the level's approver bound to the exact text, published once to the chosen channels;
holding statement deadline → the plan's holding statement offered for one click → follow-up cadence
(reminder when due, escalation when missed) → coordination tasks (child workflows) → resolve (open
required tasks need a waiver) → release the hold → post-mortem (timeline, figures, lessons, action
items, plan revision). ``mode=drill`` publishes only to the sandbox and marks every message 演练.

This class holds the handlers and their validators; the parts live beside it: ``team.py`` (plan, paging),
``statements.py`` (deadlines, publishing, cadence), ``tasks.py`` (child tasks), sharing one
``IncidentRun`` (``context.py``).

Over 400 lines: the thin class is its handlers and validators; the work is in team.py, statements.py,
tasks.py and timeline helpers beside it.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from workflows.common import RETRY
from workflows.emergency import statements, tasks, team
from workflows.emergency.context import DrillOver, IncidentRun
from workflows.emergency.task import IncidentTaskWorkflow
from workflows.timers import at, wait_until

with workflow.unsafe.imports_passed_through():
    from activities.emergency import EmergencyActivities
    from core.temporal import SA_MODE, SA_OWNER, SA_PROCESS
    from domain.content import ComplianceOverride
    from domain.emergency import (
        CLOSED_STAGES,
        CUSTOMER_SERVICE,
        AckRequest,
        ApproveStatementRequest,
        Assessment,
        AssessRequest,
        ConfirmRequest,
        DraftStatementRequest,
        EvidenceBatch,
        IncidentInput,
        IncidentStage,
        IncidentState,
        MemberRequest,
        Postmortem,
        PostmortemRequest,
        ResolveRequest,
        Statement,
        StatementOverride,
        StatementRef,
        StatementStatus,
        TaskReassign,
        TaskReassigned,
        TaskRecord,
        TaskRequest,
        TaskStatus,
        Truth,
        text_hash,
    )
    from domain.emergency_io import PostmortemInput
    from domain.errors import conflict, forbidden, invalid, missing
    from domain.kernel import Actor, Platform
    from domain.roles import Role

ACTIVE = frozenset({IncidentStage.assembling, IncidentStage.responding})
COMMAND = frozenset({Role.leadership, Role.ops_head})  # besides the commander
DRAFTERS = frozenset({Role.ops_head, Role.marketing, Role.leadership, Role.risk_compliance})
PUBLISHERS = frozenset({Role.ops_head, Role.marketing, Role.leadership})
POSTMORTEM_WRITERS = frozenset({Role.leadership})  # besides the commander
CHANNELS = frozenset({*(p.value for p in Platform), CUSTOMER_SERVICE})


@workflow.defn
class EmergencyWorkflow:
    @workflow.init
    def __init__(self, inp: IncidentInput) -> None:
        self.run_ = IncidentRun(inp)
        self.postmortem_taken = False  # reserved by the first post-mortem call

    @property
    def state(self) -> IncidentState:
        return self.run_.state

    # --- queries -------------------------------------------------------------------------------------

    @workflow.query
    def current(self) -> IncidentState:
        return self.state

    # --- updates -------------------------------------------------------------------------------------

    @workflow.update
    async def attach_evidence(self, batch: EvidenceBatch) -> int:
        known = {e.url for e in self.state.evidence}
        fresh = [e for e in batch.items if e.url not in known]
        self.state.evidence += fresh
        if fresh:
            await self.run_.event(
                "evidence_attached",
                batch.source,
                f"{len(fresh)} 条证据：" + "；".join(e.note or e.url for e in fresh[:3]),
            )
        return len(self.state.evidence)

    @attach_evidence.validator
    def _check_evidence(self, batch: EvidenceBatch) -> None:
        if self.state.stage in CLOSED_STAGES or self.run_.postmortem_done:
            raise conflict("stage", f"the incident is {self.state.stage.value}; open a new one")

    @workflow.update
    async def confirm(self, req: ConfirmRequest) -> IncidentState:
        self.run_.confirmation = req
        self.state.truth, self.state.scope = req.truth, req.scope
        self.state.impact, self.state.likelihood = req.impact, req.likelihood
        await self.run_.event(
            "confirmed",
            req.actor.name,
            f"{req.truth.value}; 影响 {req.impact.value} × 可能性 {req.likelihood.value}; {req.scope}",
        )
        return self.state

    @confirm.validator
    def _check_confirm(self, req: ConfirmRequest) -> None:
        if self.state.stage is not IncidentStage.confirming or self.run_.confirmation is not None:
            raise conflict(
                "stage",
                "the incident is already confirmed"
                if self.run_.confirmation is not None
                else f"the incident is past confirmation ({self.state.stage.value})",
            )
        if Role.risk_compliance not in req.actor.roles:
            raise forbidden("role", "only risk_compliance confirms an incident", req.actor, {Role.risk_compliance})

    @workflow.update
    async def acknowledge(self, req: AckRequest) -> IncidentState:
        for m in self.state.members:
            if m.user == req.actor.name and m.acknowledged_at is None:
                m.acknowledged_at = workflow.now()
        await self.run_.event("acknowledged", req.actor.name, "确认到岗")
        return self.state

    @acknowledge.validator
    def _check_ack(self, req: AckRequest) -> None:
        mine = [m for m in self.state.members if m.user == req.actor.name]
        if not mine:
            raise forbidden("actor", "you were not paged for this incident", req.actor)
        if all(m.acknowledged_at is not None for m in mine):
            raise conflict("actor", "you have already acknowledged every page on this incident")

    @workflow.update
    async def add_member(self, req: MemberRequest) -> IncidentState:
        await team.page(self.run_, req.user, req.role, f"{req.actor.name} 加入应急小组")
        return self.state

    @add_member.validator
    def _check_member(self, req: MemberRequest) -> None:
        self._require_active()
        self._require_command(req.actor)
        if any(m.user == req.user and m.role == req.role for m in self.state.members):
            raise conflict("user", f"{req.user} is already on the team as {req.role.value}")

    @workflow.update
    async def hand_over(self, req: MemberRequest) -> IncidentState:
        before = self.state.commander
        self.state.commander = req.user
        workflow.upsert_search_attributes([SA_OWNER.value_set(req.user)])
        await self.run_.event("command_handed_over", req.actor.name, f"{before} → {req.user}")
        await team.page(self.run_, req.user, req.role, "接任总指挥")
        return self.state

    @hand_over.validator
    def _check_hand_over(self, req: MemberRequest) -> None:
        self._require_active()
        if req.actor.name != self.state.commander and Role.leadership not in req.actor.roles:
            raise forbidden(
                "actor", "only the commander or leadership hands over command", req.actor, {Role.leadership}
            )
        if req.user == self.state.commander:
            raise conflict("user", f"{req.user} is already the commander")

    @workflow.update
    async def assess(self, req: AssessRequest) -> IncidentState:
        async with self.run_.lock:  # two assessments re-level one after the other, never interleaved
            self.state.assessment = Assessment(
                nature=req.nature, trend=req.trend, likely_impact=req.likely_impact, by=req.actor.name,
                at=workflow.now(),
            )  # fmt: skip
            await self.run_.event(
                "assessed", req.actor.name, f"性质：{req.nature}；趋势：{req.trend}；影响：{req.likely_impact}"
            )
            if req.impact and req.likelihood:
                self.state.impact, self.state.likelihood = req.impact, req.likelihood
                level = team.level_of(self.run_, req.impact, req.likelihood)
                if level is not self.state.level:
                    await team.switch_plan(self.run_, level, req.actor.name)
            return self.state

    @assess.validator
    def _check_assess(self, req: AssessRequest) -> None:
        self._require_active()
        if req.actor.name != self.state.commander and Role.risk_compliance not in req.actor.roles:
            raise forbidden(
                "actor", "the commander or risk_compliance assesses", req.actor, {Role.risk_compliance}
            )
        if (req.impact is None) != (req.likelihood is None):
            raise invalid(
                "likelihood" if req.likelihood is None else "impact", "give impact and likelihood together"
            )

    @workflow.update
    async def draft_statement(self, req: DraftStatementRequest) -> Statement:
        plan = self.run_.plan
        assert plan is not None
        checked = workflow.patched("statement-scan-and-adapt")  # histories before: neither
        stmt = Statement(
            id=len(self.state.statements) + 1,
            kind=req.kind,
            text=req.text,
            text_hash=text_hash(req.text),
            template_key=req.template_key,
            channels=req.channels or list(plan.channels),
            status=StatementStatus.checking if checked else StatementStatus.draft,
            drafted_by=req.actor.name,
            drafted_by_roles=list(req.actor.roles),
            drafted_at=workflow.now(),
        )
        self.state.statements.append(stmt)  # the id is taken before the first await
        if checked:
            await statements.check(self.run_, stmt)
        await self.run_.event(
            "statement_drafted", req.actor.name, f"#{stmt.id} {stmt.kind.value}：{stmt.text[:80]}"
        )
        await self.run_.notify(
            "info",
            f"声明待审批（#{stmt.id}）：{self.run_.inp.title}",
            stmt.text,
            role=plan.statement_approver.value,
            key=f"stmt-{stmt.id}-draft",
        )
        return stmt

    @draft_statement.validator
    def _check_draft(self, req: DraftStatementRequest) -> None:
        self._require_active()
        if req.actor.name != self.state.commander and not req.actor.holds(DRAFTERS):
            raise forbidden(
                "role",
                "statements are drafted by the commander, ops_head, marketing, leadership or risk_compliance",
                req.actor,
                DRAFTERS,
            )
        bad = [c for c in req.channels if c not in CHANNELS]
        if bad:
            raise invalid("channels", f"unknown channel(s) {', '.join(bad)}; use {', '.join(sorted(CHANNELS))}")

    @workflow.update
    async def approve_statement(self, req: ApproveStatementRequest) -> Statement:
        stmt = self._statement(req.statement_id)
        stmt.status, stmt.approved_by, stmt.approved_at = StatementStatus.approved, req.actor.name, workflow.now()
        await self.run_.event("statement_approved", req.actor.name, f"#{stmt.id} {stmt.text_hash[:12]}")
        return stmt

    @approve_statement.validator
    def _check_approve(self, req: ApproveStatementRequest) -> None:
        self._require_active()
        stmt = self._statement(req.statement_id)
        plan = self.run_.plan
        assert plan is not None
        if stmt.status is StatementStatus.checking:
            raise conflict("stage", f"statement #{stmt.id} is still being checked; read it again in a moment")
        if stmt.status is not StatementStatus.draft:
            raise conflict("stage", f"statement #{stmt.id} is already {stmt.status.value}")
        if stmt.blocking and stmt.override is None:
            raise invalid(
                "findings",
                f"statement #{stmt.id} has blocking findings ("
                + "；".join(f.message for f in stmt.blocking)
                + "); change the text, or risk_compliance overrides them with a reason",
            )
        approvers = {plan.statement_approver}
        if plan.statement_approver in stmt.drafted_by_roles:
            # The approver drafted it and nobody approves their own text: the four-eyes check passes one
            # level up (an ops_head who drafted a medium statement is not left waiting for a second one).
            approvers.add(Role.leadership)
        if not approvers & set(req.actor.roles):
            raise forbidden(
                "role",
                f"at level {plan.level.value} statements are approved by {plan.statement_approver.value}"
                + (" (or leadership, as an approver drafted it)" if len(approvers) > 1 else ""),
                req.actor,
                approvers,
            )
        if req.text_hash != stmt.text_hash:
            raise invalid(
                "text_hash", "the approval must name the exact text of the statement (and its channel versions)"
            )
        if req.actor.name == stmt.drafted_by:
            raise forbidden("actor", "nobody approves a statement they drafted", req.actor)

    @workflow.update
    async def override_statement(self, req: StatementOverride) -> Statement:
        stmt = self._statement(req.statement_id)
        stmt.override = ComplianceOverride(by=req.actor.name, reason=req.reason, at=workflow.now())
        await self.run_.event("statement_compliance_override", req.actor.name, f"#{stmt.id}：{req.reason}")
        return stmt

    @override_statement.validator
    def _check_override(self, req: StatementOverride) -> None:
        self._require_active()
        stmt = self._statement(req.statement_id)
        if Role.risk_compliance not in req.actor.roles:
            raise forbidden(
                "role", "only risk_compliance overrides a statement's findings", req.actor, {Role.risk_compliance}
            )
        if stmt.status is not StatementStatus.draft or not stmt.blocking:
            raise conflict("stage", f"statement #{stmt.id} has no blocking findings awaiting an override")
        if stmt.override is not None:
            raise conflict("stage", f"statement #{stmt.id} is already overridden by {stmt.override.by}")

    @workflow.update
    async def publish_statement(self, req: StatementRef) -> Statement:
        stmt = self._statement(req.statement_id)
        stmt.status = StatementStatus.publishing  # reserved before the first await: a second call is refused
        try:
            return await statements.publish(self.run_, stmt, req.actor)
        except BaseException:
            if stmt.status is StatementStatus.publishing:
                stmt.status = StatementStatus.approved  # nothing went out: it may be published again
            raise

    @publish_statement.validator
    def _check_publish(self, req: StatementRef) -> None:
        self._require_active()
        stmt = self._statement(req.statement_id)
        if stmt.status is not StatementStatus.approved:
            raise conflict(
                "stage", f"statement #{stmt.id} is {stmt.status.value}; only an approved statement is published"
            )
        if req.actor.name != self.state.commander and not req.actor.holds(PUBLISHERS):
            raise forbidden(
                "role", "the commander, ops_head, marketing or leadership publishes", req.actor, PUBLISHERS
            )

    @workflow.update
    async def add_task(self, req: TaskRequest) -> TaskRecord:
        if req.request_key and req.request_key in self.run_.task_keys:  # a retry or a double click with a key
            await workflow.wait_condition(lambda: self.run_.task_keys[req.request_key] in self.run_.children)
            return next(t for t in self.state.tasks if t.number == self.run_.task_keys[req.request_key])
        record = tasks.reserve(self.run_, req.kind, req.title, req.owner, req.due_in, req.required)
        if req.request_key:
            self.run_.task_keys[req.request_key] = record.number
        await tasks.start(self.run_, record, req.due_in)
        await self.run_.event(
            "task_added", req.actor.name, f"#{record.number} [{req.kind}] {req.title} → {req.owner}"
        )
        return record

    @add_task.validator
    def _check_task(self, req: TaskRequest) -> None:
        self._require_active()
        self._require_command(req.actor)
        if req.due_in <= timedelta(0):
            raise invalid("due_in", "must be positive")

    @workflow.update
    async def reassign_task(self, req: TaskReassign) -> TaskRecord:
        task = next(t for t in self.state.tasks if t.number == req.number)
        before, task.owner = task.owner, req.owner  # set before the await: the state shows it at once
        try:
            await self.run_.children[req.number].signal(
                IncidentTaskWorkflow.reassigned, TaskReassigned(owner=req.owner, by=req.actor.name, note=req.note)
            )
        except Exception as exc:  # the task finished meanwhile: nothing was handed on
            task.owner = before
            raise conflict("number", f"task {req.number} has just finished") from exc
        note = f"（{req.note}）" if req.note else ""
        await self.run_.event(
            "task_reassigned", req.actor.name, f"#{req.number} {task.title}：{before} → {req.owner}{note}"
        )
        return task

    @reassign_task.validator
    def _check_reassign(self, req: TaskReassign) -> None:
        self._require_command(req.actor)
        task = next((t for t in self.state.tasks if t.number == req.number), None)
        if task is None or req.number not in self.run_.children:
            raise missing("number", f"this incident has no task {req.number}")
        if task.status is not TaskStatus.open:
            raise conflict("number", f"task {req.number} is already {task.status.value}")
        if task.owner == req.owner:
            raise conflict("owner", f"task {req.number} is already {req.owner}'s")

    @workflow.update
    async def resolve(self, req: ResolveRequest) -> IncidentState:
        open_required = [t for t in self.state.tasks if t.required and t.status is TaskStatus.open]
        for task in open_required:
            task.status, task.note = TaskStatus.waived, req.waive_reason
            self.run_.children[task.number].cancel()
        self.state.resolution = req.summary
        self.run_.resolved = True
        open_optional = [t for t in self.state.tasks if not t.required and t.status is TaskStatus.open]
        if open_optional and workflow.patched("resolve-says-which-optional-tasks-close"):
            for task in open_optional:  # closed with the incident, and the timeline says so
                task.status, task.note = TaskStatus.waived, "事件已解决，非必需任务随之关闭"
            await self.run_.event(
                "tasks_closed",
                req.actor.name,
                "非必需任务随事件关闭：" + ", ".join(f"#{t.number}" for t in open_optional),
            )
        if open_required:
            await self.run_.event(
                "tasks_waived",
                req.actor.name,
                f"{', '.join(f'#{t.number}' for t in open_required)}：{req.waive_reason}",
            )
        await self.run_.event("resolved", req.actor.name, req.summary)
        return self.state

    @resolve.validator
    def _check_resolve(self, req: ResolveRequest) -> None:
        self._require_active()
        if req.actor.name != self.state.commander and Role.leadership not in req.actor.roles:
            raise forbidden(
                "actor", "only the commander or leadership resolves the incident", req.actor, {Role.leadership}
            )
        open_required = [t for t in self.state.tasks if t.required and t.status is TaskStatus.open]
        if open_required and not req.waive_reason.strip():
            raise invalid(
                "waive_reason",
                f"{len(open_required)} required task(s) still open: "
                + ", ".join(f"#{t.number} {t.title}" for t in open_required)
                + "; finish them or have the commander waive them with a reason",
            )
        if open_required and req.actor.name != self.state.commander:
            raise forbidden("actor", "only the commander waives open tasks", req.actor)

    @workflow.update
    async def postmortem(self, req: PostmortemRequest) -> IncidentState:
        self.postmortem_taken = True
        if workflow.patched("postmortem-after-hold-release"):
            # The timeline it archives includes the crisis-hold release, which follows the resolution.
            await workflow.wait_condition(lambda: not self.state.crisis_hold and not self.run_.hold_changing)
        records = [
            tasks.reserve(self.run_, f"action:{i.kind}", i.title, i.owner, i.due_in, False)
            for i in req.action_items
        ]
        for record, item in zip(records, req.action_items, strict=True):
            await tasks.start(self.run_, record, item.due_in, abandon=True)
        body = Postmortem(
            causes=req.causes,
            went_well=req.went_well,
            went_badly=req.went_badly,
            lessons=req.lessons,
            action_items=records,
            figures=self.run_.figures(),
            by=req.actor.name,
            timeline=list(self.state.timeline),
        )
        version = await workflow.execute_activity_method(
            EmergencyActivities.store_postmortem,
            PostmortemInput(
                incident_id=self.run_.incident_id,
                postmortem=body.model_dump(mode="json"),
                plan_revision=req.plan_revision.model_dump(mode="json") if req.plan_revision else None,
                actor=req.actor.name,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )
        body.plan_version_created = version
        self.state.postmortem = body
        await self.run_.event(
            "postmortem",
            req.actor.name,
            f"行动项 {len(records)} 个" + (f"；预案修订为 v{version}" if version else ""),
        )
        self.run_.postmortem_done = True
        return self.state

    @postmortem.validator
    def _check_postmortem(self, req: PostmortemRequest) -> None:
        if req.actor.name != self.state.commander and not req.actor.holds(POSTMORTEM_WRITERS):
            raise forbidden(  # who may, before when: a 403 does not depend on the incident's stage
                "actor",
                "the commander or leadership writes the post-mortem",
                req.actor,
                POSTMORTEM_WRITERS,
            )
        if self.state.stage is not IncidentStage.resolved or self.postmortem_taken:
            raise conflict("stage", f"the post-mortem follows resolution (now {self.state.stage.value})")

    def _require_active(self) -> None:
        if self.state.stage not in ACTIVE or self.run_.resolved:
            raise conflict("stage", f"the incident is not active ({self.state.stage.value})")

    def _require_command(self, actor: Actor) -> None:
        if actor.name != self.state.commander and not actor.holds(COMMAND):
            raise forbidden("actor", "only the commander, ops_head or leadership directs the team", actor, COMMAND)

    def _statement(self, statement_id: int) -> Statement:
        stmt = self.run_.statement(statement_id)
        if stmt is None:
            raise missing("statement_id", f"no statement #{statement_id}")
        return stmt

    # --- the process ---------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: IncidentInput) -> IncidentState:
        run = self.run_
        workflow.upsert_search_attributes([SA_PROCESS.value_set("incident"), SA_MODE.value_set(inp.mode.value)])
        await run.persist(self.state.timeline[0], 1)
        await run.set_stage(IncidentStage.confirming)
        if inp.drill is not None:
            run.spawn(self._drill_clock(inp.drill.duration))
        try:
            await self._confirm_phase()
            if self.state.truth is Truth.false_alarm:
                await run.set_stage(IncidentStage.false_alarm)
                return await self._close(IncidentStage.false_alarm)
            await self._activate()
            await self._until(lambda: run.resolved)
            await run.set_stage(IncidentStage.resolved)
            self.state.resolved_at = workflow.now()
            await team.release_hold(run)
            await self._until(lambda: run.postmortem_done)
        except DrillOver:
            await run.event("drill_ended", "system", "演练时间到，自动结束并评分")
            await team.release_hold(run)
        return await self._close(IncidentStage.closed)

    async def _until(self, cond):  # type: ignore[no-untyped-def]
        await workflow.wait_condition(lambda: cond() or self.run_.drill_over)
        if self.run_.drill_over and not cond():
            raise DrillOver

    async def _drill_clock(self, duration: timedelta) -> None:
        await workflow.sleep(duration, summary="drill-duration")
        self.run_.drill_over = True

    async def _close(self, stage: IncidentStage) -> IncidentState:
        self.run_.resolved = True  # stops the background loops
        await self.run_.set_stage(stage, figures=True)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state

    async def _confirm_phase(self) -> None:
        run = self.run_
        deadline = self.state.started_at + min(p.confirm_within for p in run.inp.plans.values())
        await run.notify(
            "page",
            f"新事件待确认：{run.inp.title}",
            run.inp.description,
            role=Role.risk_compliance.value,
            key="confirm-request",
        )
        if not await wait_until(
            lambda: run.confirmation is not None or run.drill_over, at(deadline), summary="confirm-deadline"
        ):
            self.state.figures.deadlines["confirm"] = False
            await run.notify(
                "escalation",
                f"事件确认超时：{run.inp.title}",
                "风控合规组未在时限内确认，请督办",
                role=run.inp.escalate_confirm_to.value,
                key="confirm-escalation",
            )
            await run.event("confirmation_escalated", "system", f"升级至 {run.inp.escalate_confirm_to.value}")
        await self._until(lambda: run.confirmation is not None)
        self.state.figures.deadlines.setdefault("confirm", True)
        self.state.figures.time_to_confirm_s = (workflow.now() - self.state.started_at).total_seconds()

    async def _activate(self) -> None:
        run = self.run_
        assert run.confirmation is not None
        level = team.level_of(run, run.confirmation.impact, run.confirmation.likelihood)
        run.activated_at = workflow.now()
        await team.switch_plan(run, level, run.confirmation.actor.name, first=True)
        await team.assemble(run)
        run.spawn(statements.deadlines(run))
        run.spawn(statements.cadence(run))
