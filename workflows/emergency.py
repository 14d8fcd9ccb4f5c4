"""``incident-{id}`` — EmergencyWorkflow (R-5.2.1–R-5.2.9; drills R-5.1.8).

confirm (truth, scope, impact × likelihood; deadline → escalation) → activate the level's plan (crisis
hold if the plan says so) → page the commander and team (acknowledgement timers, re-page, escalation)
→ assess (re-levelling switches deadlines at once) → statements drafted from approved templates,
approved by the level's approver bound to the exact text, published to the chosen channels; holding
statement deadline → leadership alert with the plan's holding statement ready for one click → follow-up
cadence (reminder when due, escalation when missed) → coordination tasks (child workflows) → resolve
(open required tasks need a waiver) → release the hold → post-mortem (timeline, figures, lessons,
action items, plan revision). ``mode=drill`` publishes only to the sandbox and marks every message 演练.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from temporalio import workflow
from temporalio.workflow import ChildWorkflowHandle, ParentClosePolicy

from workflows.common import PUBLISH_RETRY, RETRY, notify

with workflow.unsafe.imports_passed_through():
    from activities.emergency import EmergencyActivities
    from core.temporal import SA_MODE, SA_OWNER, SA_PROCESS, SA_RISK_LEVEL, SA_STAGE
    from domain.activity_io import (
        EventInput,
        HoldInput,
        IncidentProjection,
        PostmortemInput,
        RosterInput,
        StatementPublishInput,
    )
    from domain.content import Actor, Platform
    from domain.emergency import (
        CUSTOMER_SERVICE,
        AckRequest,
        ApproveStatementRequest,
        AssessRequest,
        ConfirmRequest,
        DraftStatementRequest,
        EvidenceBatch,
        IncidentInput,
        IncidentPlan,
        IncidentStage,
        IncidentState,
        Member,
        MemberRequest,
        Mode,
        PostmortemRequest,
        ResolveRequest,
        Statement,
        StatementKind,
        StatementRef,
        StatementStatus,
        TaskInput,
        TaskRecord,
        TaskRequest,
        TaskResult,
        TimelineEntry,
        Truth,
        text_hash,
    )
    from domain.errors import reject
    from domain.risk import Impact, Likelihood, RiskLevel, RiskMatrix, default_matrix
    from domain.roles import Role
    from workflows.incident_task import IncidentTaskWorkflow

ACTIVE = frozenset({IncidentStage.assembling, IncidentStage.responding})
DRAFTERS = frozenset({Role.ops_head, Role.marketing, Role.leadership, Role.risk_compliance})
PUBLISHERS = frozenset({Role.ops_head, Role.marketing, Role.leadership})
CHANNELS = frozenset({*(p.value for p in Platform), CUSTOMER_SERVICE})


class _DrillOver(Exception):
    pass


@workflow.defn
class EmergencyWorkflow:
    @workflow.init
    def __init__(self, inp: IncidentInput) -> None:
        self.inp = inp
        self.state = IncidentState(
            incident_id=inp.incident_id,
            title=inp.title,
            mode=inp.mode,
            stage=IncidentStage.confirming,
            started_at=workflow.now(),
            evidence=list(inp.evidence),
        )
        self.plan: IncidentPlan | None = None
        self.activated_at: datetime | None = None
        self.confirmation: ConfirmRequest | None = None
        self.plan_epoch = 0
        self.publish_count = 0
        self.last_published: datetime | None = None
        self.resolved = False
        self.postmortem_done = False
        self.drill_over = False
        self.children: dict[int, ChildWorkflowHandle[IncidentTaskWorkflow, TaskResult]] = {}
        self.background: list[asyncio.Task[None]] = []
        # The report is the first line of the timeline before any handler can run.
        self.state.timeline.append(
            TimelineEntry(
                at=workflow.now(),
                kind="reported",
                actor=inp.reported_by,
                detail=f"{inp.title}（证据 {len(inp.evidence)} 条）",
            )
        )

    # --- queries -------------------------------------------------------------------------------------

    @workflow.query
    def current(self) -> IncidentState:
        return self.state

    # --- updates -------------------------------------------------------------------------------------

    @workflow.update
    async def attach_evidence(self, batch: EvidenceBatch) -> int:
        self.state.evidence += batch.items
        await self._event(
            "evidence_attached",
            batch.source,
            f"{len(batch.items)} 条证据：" + "；".join(e.note or e.url for e in batch.items[:3]),
        )
        return len(self.state.evidence)

    @attach_evidence.validator
    def _check_evidence(self, batch: EvidenceBatch) -> None:
        if self.state.stage in (IncidentStage.closed, IncidentStage.false_alarm) or self.postmortem_done:
            raise reject("stage", f"the incident is {self.state.stage.value}; open a new one")

    @workflow.update
    async def confirm(self, req: ConfirmRequest) -> IncidentState:
        self.confirmation = req
        self.state.truth, self.state.scope = req.truth, req.scope
        self.state.impact, self.state.likelihood = req.impact, req.likelihood
        await self._event(
            "confirmed",
            req.actor.name,
            f"{req.truth.value}; 影响 {req.impact.value} × 可能性 {req.likelihood.value}; {req.scope}",
        )
        return self.state

    @confirm.validator
    def _check_confirm(self, req: ConfirmRequest) -> None:
        if self.state.stage is not IncidentStage.confirming or self.confirmation is not None:
            raise reject("stage", f"the incident is past confirmation ({self.state.stage.value})")
        if Role.risk_compliance not in req.actor.roles:
            raise reject("role", "only risk_compliance confirms an incident")

    @workflow.update
    async def acknowledge(self, req: AckRequest) -> IncidentState:
        for m in self.state.members:
            if m.user == req.actor.name and m.acknowledged_at is None:
                m.acknowledged_at = workflow.now()
        await self._event("acknowledged", req.actor.name, "确认到岗")
        return self.state

    @acknowledge.validator
    def _check_ack(self, req: AckRequest) -> None:
        if not any(m.user == req.actor.name and m.acknowledged_at is None for m in self.state.members):
            raise reject("actor", "you have no open page on this incident")

    @workflow.update
    async def add_member(self, req: MemberRequest) -> IncidentState:
        await self._page(req.user, req.role, f"{req.actor.name} 加入应急小组")
        return self.state

    @add_member.validator
    def _check_member(self, req: MemberRequest) -> None:
        self._require_active()
        self._require_command(req.actor)
        if any(m.user == req.user and m.role == req.role for m in self.state.members):
            raise reject("user", f"{req.user} is already on the team as {req.role.value}")

    @workflow.update
    async def hand_over(self, req: MemberRequest) -> IncidentState:
        before = self.state.commander
        self.state.commander = req.user
        workflow.upsert_search_attributes([SA_OWNER.value_set(req.user)])
        await self._event("command_handed_over", req.actor.name, f"{before} → {req.user}")
        await self._page(req.user, req.role, "接任总指挥")
        return self.state

    @hand_over.validator
    def _check_hand_over(self, req: MemberRequest) -> None:
        self._require_active()
        if req.actor.name != self.state.commander and Role.leadership not in req.actor.roles:
            raise reject("actor", "only the commander or leadership hands over command")
        if req.user == self.state.commander:
            raise reject("user", f"{req.user} is already the commander")

    @workflow.update
    async def assess(self, req: AssessRequest) -> IncidentState:
        self.state.assessment = {
            "nature": req.nature,
            "trend": req.trend,
            "likely_impact": req.likely_impact,
            "by": req.actor.name,
            "at": workflow.now().isoformat(),
        }
        await self._event(
            "assessed", req.actor.name, f"性质：{req.nature}；趋势：{req.trend}；影响：{req.likely_impact}"
        )
        if req.impact and req.likelihood:
            self.state.impact, self.state.likelihood = req.impact, req.likelihood
            level = self._level(req.impact, req.likelihood)
            if level is not self.state.level:
                await self._switch_plan(level, req.actor.name)
        return self.state

    @assess.validator
    def _check_assess(self, req: AssessRequest) -> None:
        self._require_active()
        if req.actor.name != self.state.commander and Role.risk_compliance not in req.actor.roles:
            raise reject("actor", "the commander or risk_compliance assesses")
        if (req.impact is None) != (req.likelihood is None):
            raise reject(
                "likelihood" if req.likelihood is None else "impact", "give impact and likelihood together"
            )

    @workflow.update
    async def draft_statement(self, req: DraftStatementRequest) -> Statement:
        assert self.plan is not None
        stmt = Statement(
            id=len(self.state.statements) + 1,
            kind=req.kind,
            text=req.text,
            text_hash=text_hash(req.text),
            template_key=req.template_key,
            channels=req.channels or list(self.plan.channels),
            status=StatementStatus.draft,
            drafted_by=req.actor.name,
            drafted_at=workflow.now(),
        )
        self.state.statements.append(stmt)
        await self._event("statement_drafted", req.actor.name, f"#{stmt.id} {stmt.kind.value}：{stmt.text[:80]}")
        await self._notify(
            "info",
            f"声明待审批（#{stmt.id}）：{self.inp.title}",
            stmt.text,
            role=self.plan.statement_approver.value,
            key=f"stmt-{stmt.id}-draft",
        )
        return stmt

    @draft_statement.validator
    def _check_draft(self, req: DraftStatementRequest) -> None:
        self._require_active()
        if req.actor.name != self.state.commander and not set(req.actor.roles) & DRAFTERS:
            raise reject(
                "role",
                "statements are drafted by the commander, ops_head, marketing, leadership or risk_compliance",
            )
        bad = [c for c in req.channels if c not in CHANNELS]
        if bad:
            raise reject("channels", f"unknown channel(s) {', '.join(bad)}; use {', '.join(sorted(CHANNELS))}")

    @workflow.update
    async def approve_statement(self, req: ApproveStatementRequest) -> Statement:
        stmt = self.state.statements[req.statement_id - 1]
        stmt.status, stmt.approved_by, stmt.approved_at = StatementStatus.approved, req.actor.name, workflow.now()
        await self._event("statement_approved", req.actor.name, f"#{stmt.id} {stmt.text_hash[:12]}")
        return stmt

    @approve_statement.validator
    def _check_approve(self, req: ApproveStatementRequest) -> None:
        self._require_active()
        stmt = self._statement(req.statement_id)
        assert self.plan is not None
        if stmt.status is not StatementStatus.draft:
            raise reject("stage", f"statement #{stmt.id} is already {stmt.status.value}")
        if self.plan.statement_approver not in req.actor.roles:
            raise reject(
                "role",
                f"at level {self.plan.level.value} statements are approved by {self.plan.statement_approver.value}",
            )
        if req.text_hash != stmt.text_hash:
            raise reject("text_hash", "the approval must name the exact text of the statement")
        if req.actor.name == stmt.drafted_by:
            raise reject("actor", "nobody approves a statement they drafted")

    @workflow.update
    async def publish_statement(self, req: StatementRef) -> Statement:
        stmt = self.state.statements[req.statement_id - 1]
        results = await workflow.execute_activity_method(
            EmergencyActivities.publish_statement,
            StatementPublishInput(
                incident_id=self.inp.incident_id,
                statement_id=stmt.id,
                title=self.inp.title,
                text=stmt.text,
                channels=stmt.channels,
                drill=self.drill,
                at=workflow.now(),
            ),
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=PUBLISH_RETRY,
        )
        stmt.results = [r.model_dump() for r in results]
        for failed in (r for r in results if not r.ok):
            await self._notify(
                "alert",
                f"声明发布失败：{failed.channel}",
                failed.error,
                user=self.state.commander,
                key=f"stmt-{stmt.id}-failed-{failed.channel}",
            )
        if CUSTOMER_SERVICE in stmt.channels:
            await self._notify(
                "info",
                f"客服统一话术：{self.inp.title}",
                stmt.text,
                role=Role.interaction_agent.value,
                key=f"stmt-{stmt.id}-cs",
            )
            stmt.results.append({"channel": CUSTOMER_SERVICE, "ok": True})
        stmt.status, stmt.published_at = StatementStatus.published, workflow.now()
        self.publish_count += 1
        self.last_published = workflow.now()
        if self.state.figures.time_to_first_statement_s is None:
            self.state.figures.time_to_first_statement_s = (workflow.now() - self.state.started_at).total_seconds()
        await self._event(
            "statement_published", req.actor.name, f"#{stmt.id} → {', '.join(r['channel'] for r in stmt.results)}"
        )
        return stmt

    @publish_statement.validator
    def _check_publish(self, req: StatementRef) -> None:
        self._require_active()
        stmt = self._statement(req.statement_id)
        if stmt.status is not StatementStatus.approved:
            raise reject(
                "stage", f"statement #{stmt.id} is {stmt.status.value}; only an approved statement is published"
            )
        if req.actor.name != self.state.commander and not set(req.actor.roles) & PUBLISHERS:
            raise reject("role", "the commander, ops_head, marketing or leadership publishes")

    @workflow.update
    async def add_task(self, req: TaskRequest) -> TaskRecord:
        number = len(self.state.tasks) + 1
        record = await self._start_task(number, req.kind, req.title, req.owner, req.due_in, req.required)
        await self._event("task_added", req.actor.name, f"#{number} [{req.kind}] {req.title} → {req.owner}")
        return record

    @add_task.validator
    def _check_task(self, req: TaskRequest) -> None:
        self._require_active()
        self._require_command(req.actor)
        if req.due_in <= timedelta(0):
            raise reject("due_in", "must be positive")

    @workflow.update
    async def resolve(self, req: ResolveRequest) -> IncidentState:
        open_required = [t for t in self.state.tasks if t.required and t.status == "open"]
        for task in open_required:
            task.status, task.note = "waived", req.waive_reason
            self.children[task.number].cancel()
        if open_required:
            await self._event(
                "tasks_waived",
                req.actor.name,
                f"{', '.join(f'#{t.number}' for t in open_required)}：{req.waive_reason}",
            )
        self.state.resolution = req.summary
        self.resolved = True
        await self._event("resolved", req.actor.name, req.summary)
        return self.state

    @resolve.validator
    def _check_resolve(self, req: ResolveRequest) -> None:
        self._require_active()
        if req.actor.name != self.state.commander and Role.leadership not in req.actor.roles:
            raise reject("actor", "only the commander or leadership resolves the incident")
        open_required = [t for t in self.state.tasks if t.required and t.status == "open"]
        if open_required and not req.waive_reason.strip():
            raise reject(
                "waive_reason",
                f"{len(open_required)} required task(s) still open: "
                + ", ".join(f"#{t.number} {t.title}" for t in open_required)
                + "; finish them or have the commander waive them with a reason",
            )
        if open_required and req.actor.name != self.state.commander:
            raise reject("actor", "only the commander waives open tasks")

    @workflow.update
    async def postmortem(self, req: PostmortemRequest) -> IncidentState:
        action_items = []
        for item in req.action_items:
            number = len(self.state.tasks) + 1
            rec = await self._start_task(
                number, f"action:{item.kind}", item.title, item.owner, item.due_in, False, abandon=True
            )
            action_items.append(rec.model_dump(mode="json"))
        revision = req.plan_revision.model_dump(mode="json") if req.plan_revision else None
        body: dict[str, Any] = {
            "causes": req.causes,
            "went_well": req.went_well,
            "went_badly": req.went_badly,
            "lessons": req.lessons,
            "action_items": action_items,
            "figures": self._figures(),
            "by": req.actor.name,
            "timeline": [e.model_dump(mode="json") for e in self.state.timeline],
        }
        version = await workflow.execute_activity_method(
            EmergencyActivities.store_postmortem,
            PostmortemInput(
                incident_id=self.inp.incident_id, postmortem=body, plan_revision=revision, actor=req.actor.name
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )
        body["plan_version_created"] = version
        self.state.postmortem = body
        await self._event(
            "postmortem",
            req.actor.name,
            f"行动项 {len(action_items)} 个" + (f"；预案修订为 v{version}" if version else ""),
        )
        self.postmortem_done = True
        return self.state

    @postmortem.validator
    def _check_postmortem(self, req: PostmortemRequest) -> None:
        if self.state.stage is not IncidentStage.resolved or self.postmortem_done:
            raise reject("stage", f"the post-mortem follows resolution (now {self.state.stage.value})")
        if req.actor.name != self.state.commander and not set(req.actor.roles) & {
            Role.leadership,
            Role.risk_compliance,
        }:
            raise reject("actor", "the commander, leadership or risk_compliance writes the post-mortem")

    def _require_active(self) -> None:
        if self.state.stage not in ACTIVE or self.resolved:
            raise reject("stage", f"the incident is not active ({self.state.stage.value})")

    def _require_command(self, actor: Actor) -> None:
        if actor.name != self.state.commander and not set(actor.roles) & {Role.leadership, Role.ops_head}:
            raise reject("actor", "only the commander, ops_head or leadership directs the team")

    def _statement(self, statement_id: int) -> Statement:
        if not 1 <= statement_id <= len(self.state.statements):
            raise reject("statement_id", f"no statement #{statement_id}")
        return self.state.statements[statement_id - 1]

    # --- the process ---------------------------------------------------------------------------------

    @property
    def drill(self) -> bool:
        return self.inp.mode is Mode.drill

    @workflow.run
    async def run(self, inp: IncidentInput) -> IncidentState:
        workflow.upsert_search_attributes([SA_PROCESS.value_set("incident"), SA_MODE.value_set(inp.mode.value)])
        await self._persist(self.state.timeline[0], 1)
        await self._set_stage(IncidentStage.confirming)
        if inp.drill is not None:
            self.background.append(asyncio.create_task(self._drill_clock(inp.drill.duration)))
        try:
            await self._confirm_phase()
            if self.state.truth is Truth.false_alarm:
                await self._set_stage(IncidentStage.false_alarm)
                return await self._close(IncidentStage.false_alarm)
            await self._activate()
            await self._until(lambda: self.resolved)
            await self._set_stage(IncidentStage.resolved)
            self.state.resolved_at = workflow.now()
            await self._release_hold()
            await self._until(lambda: self.postmortem_done)
        except _DrillOver:
            await self._event("drill_ended", "system", "演练时间到，自动结束并评分")
            await self._release_hold()
        return await self._close(IncidentStage.closed)

    async def _until(self, cond: Callable[[], bool]) -> None:
        await workflow.wait_condition(lambda: cond() or self.drill_over)
        if self.drill_over and not cond():
            raise _DrillOver

    async def _drill_clock(self, duration: timedelta) -> None:
        await workflow.sleep(duration, summary="drill-duration")
        self.drill_over = True

    async def _close(self, stage: IncidentStage) -> IncidentState:
        self.resolved = True  # stops the background loops
        await self._set_stage(stage, figures=True)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state

    async def _confirm_phase(self) -> None:
        deadline = self.state.started_at + min(p.confirm_within for p in self.inp.plans.values())
        await self._notify(
            "page",
            f"新事件待确认：{self.inp.title}",
            self.inp.description,
            role=Role.risk_compliance.value,
            key="confirm-request",
        )
        try:
            await workflow.wait_condition(
                lambda: self.confirmation is not None or self.drill_over,
                timeout=deadline - workflow.now(),
                timeout_summary="confirm-deadline",
            )
        except TimeoutError:
            self.state.figures.deadlines["confirm"] = False
            await self._notify(
                "escalation",
                f"事件确认超时：{self.inp.title}",
                "风控合规组未在时限内确认，请督办",
                role=self.inp.escalate_confirm_to.value,
                key="confirm-escalation",
            )
            await self._event("confirmation_escalated", "system", f"升级至 {self.inp.escalate_confirm_to.value}")
        await self._until(lambda: self.confirmation is not None)
        self.state.figures.deadlines.setdefault("confirm", True)
        self.state.figures.time_to_confirm_s = (workflow.now() - self.state.started_at).total_seconds()

    def _level(self, impact: Impact, likelihood: Likelihood) -> RiskLevel:
        matrix = (
            RiskMatrix.model_validate({"cells": self.inp.matrix_cells})
            if self.inp.matrix_cells
            else default_matrix()
        )
        level = matrix.level(impact, likelihood)
        return RiskLevel.low if level is RiskLevel.none else level

    async def _activate(self) -> None:
        assert self.confirmation is not None
        level = self._level(self.confirmation.impact, self.confirmation.likelihood)
        self.activated_at = workflow.now()
        await self._switch_plan(level, self.confirmation.actor.name, first=True)
        await self._assemble()
        self.background += [
            asyncio.create_task(self._statement_deadlines()),
            asyncio.create_task(self._cadence()),
        ]

    async def _switch_plan(self, level: RiskLevel, actor: str, first: bool = False) -> None:
        before = self.state.level
        self.plan = self.inp.plans[level]
        self.state.level = level
        self.state.plan_version = self.inp.plan_versions.get(level)
        self.plan_epoch += 1
        workflow.upsert_search_attributes([SA_RISK_LEVEL.value_set(level.value)])
        if first:
            await self._event("plan_activated", actor, f"{self.plan.title}（v{self.state.plan_version}）")
            # Internal notification: every level on the escalation path hears of it at once.
            for role in dict.fromkeys(self.plan.escalation_path):
                await self._notify(
                    "alert",
                    f"应急预案已启动（{level.value}）：{self.inp.title}",
                    f"{self.plan.title}；范围：{self.state.scope}",
                    role=role.value,
                    key=f"activated-{role.value}",
                )
        else:
            await self._event(
                "relevelled", actor, f"{before.value if before else '-'} → {level.value}：{self.plan.title}"
            )
            await self._notify(
                "alert",
                f"事件级别调整为 {level.value}：{self.inp.title}",
                self.plan.title,
                role=Role.leadership.value,
                key=f"relevel-{self.plan_epoch}",
            )
        if self.plan.crisis_hold and not self.state.crisis_hold:
            await self._set_hold(True, actor)
        await self._project()

    async def _set_hold(self, active: bool, actor: str) -> None:
        self.state.crisis_hold = active
        if self.drill:  # a drill never stops real publishing
            await self._event(
                "crisis_hold_simulated", actor, "演练：模拟暂停排期内容" if active else "演练：模拟解除暂停"
            )
            return
        held = await workflow.execute_activity_method(
            EmergencyActivities.set_crisis_hold,
            HoldInput(
                active=active,
                reason=f"事件 #{self.inp.incident_id}：{self.inp.title}",
                incident_id=f"incident-{self.inp.incident_id}",
                actor=actor,
            ),
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RETRY,
        )
        await self._event(
            "crisis_hold_set" if active else "crisis_hold_released",
            actor,
            "排期内容暂停发布" if active else f"解除暂停；待运营负责人确认的内容：{held}",
        )

    async def _release_hold(self) -> None:
        if self.state.crisis_hold:
            await self._set_hold(False, self.state.commander or "system")

    async def _assemble(self) -> None:
        assert self.plan is not None
        roles = [self.plan.commander_role.value, *(r.value for r in self.plan.required_roles)]
        roster = await workflow.execute_activity_method(
            EmergencyActivities.roster,
            RosterInput(roles=roles),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )
        fallback = roster.get(Role.leadership.value, []) + roster.get(Role.ops_head.value, [])
        commanders = roster.get(self.plan.commander_role.value) or fallback
        if commanders:
            self.state.commander = commanders[0]
            workflow.upsert_search_attributes([SA_OWNER.value_set(commanders[0])])
            await self._page(commanders[0], self.plan.commander_role, "担任总指挥")
        else:
            await self._event("no_commander", "system", f"没有人担任 {self.plan.commander_role.value}")
        for role in self.plan.required_roles:
            people = [u for u in roster.get(role.value, []) if u != self.state.commander]
            if people:
                await self._page(people[0], role, "加入应急小组")
            elif self.state.commander not in roster.get(role.value, []):
                await self._event("role_unfilled", "system", f"没有可呼叫的 {role.value}")
        await self._set_stage(IncidentStage.assembling)  # everyone is paged
        self.background.append(asyncio.create_task(self._team_ready()))

    async def _page(self, user: str, role: Role, why: str) -> None:
        member = Member(user=user, role=role, paged_at=workflow.now())
        self.state.members.append(member)
        await self._event("paged", "system", f"{user}（{role.value}）：{why}")
        await self._notify(
            "page",
            f"应急呼叫：{self.inp.title}",
            f"{why}，请在系统中确认到岗",
            user=user,
            key=f"page-{user}-{len(self.state.members)}",
        )
        self.background.append(asyncio.create_task(self._watch_member(member)))

    async def _watch_member(self, m: Member) -> None:
        while m.acknowledged_at is None and not self.resolved:
            assert self.plan is not None
            epoch = self.plan_epoch
            deadline = m.paged_at + self.plan.acknowledge_within
            try:
                await workflow.wait_condition(
                    partial(self._ack_woken, m, epoch),
                    timeout=max(deadline - workflow.now(), timedelta(seconds=1)),
                    timeout_summary=f"ack-{m.user}",
                )
                continue
            except TimeoutError:
                pass
            self.state.figures.deadlines[f"ack:{m.user}"] = False
            if m.pages <= self.inp.repage_limit:
                m.pages += 1
                m.paged_at = workflow.now()
                await self._event("repaged", "system", f"{m.user} 未确认，第 {m.pages} 次呼叫")
                await self._notify(
                    "page",
                    f"再次呼叫：{self.inp.title}",
                    "请立即确认到岗",
                    user=m.user,
                    key=f"repage-{m.user}-{m.pages}",
                )
                continue
            m.escalated = True
            top = self.plan.escalation_path[-1].value if self.plan.escalation_path else Role.leadership.value
            await self._event("ack_escalated", "system", f"{m.user} 多次呼叫未确认，升级至 {top}")
            await self._notify(
                "escalation", f"应急成员未到岗：{m.user}", self.inp.title, role=top, key=f"ack-escalate-{m.user}"
            )
            if self.state.commander and self.state.commander != m.user:
                await self._notify(
                    "escalation",
                    f"应急成员未到岗：{m.user}",
                    self.inp.title,
                    user=self.state.commander,
                    key=f"ack-escalate-cmd-{m.user}",
                )
            return

    async def _team_ready(self) -> None:
        await workflow.wait_condition(
            lambda: self.resolved or all(m.acknowledged_at is not None or m.escalated for m in self.state.members)
        )
        if self.resolved:
            return
        self.state.figures.time_to_team_s = (workflow.now() - self.state.started_at).total_seconds()
        await self._set_stage(IncidentStage.responding)

    def _spoken(self) -> bool:
        """Something approved to say (a holding line counts)."""
        return any(s.status is not StatementStatus.draft for s in self.state.statements)

    def _full_published(self) -> bool:
        return any(
            s.kind is StatementKind.full and s.status is StatementStatus.published for s in self.state.statements
        )

    async def _statement_deadlines(self) -> None:
        """Silence is never the default: a holding statement by its deadline, a full statement by its own."""
        checks: list[tuple[str, Callable[[], bool], Callable[[IncidentPlan], timedelta]]] = [
            ("holding_statement", self._spoken, lambda p: p.holding_statement_within),
            ("full_statement", self._full_published, lambda p: p.full_statement_within),
        ]
        for name, done, within in checks:
            while not self.resolved:
                assert self.plan is not None and self.activated_at is not None
                epoch = self.plan_epoch
                deadline = self.activated_at + within(self.plan)
                try:
                    await workflow.wait_condition(
                        partial(self._deadline_woken, done, epoch),
                        timeout=max(deadline - workflow.now(), timedelta(seconds=1)),
                        timeout_summary=name,
                    )
                except TimeoutError:
                    self.state.figures.deadlines[name] = False
                    await self._missed_statement(name)
                    break
                if done():
                    self.state.figures.deadlines.setdefault(name, True)
                    break

    def _ack_woken(self, m: Member, epoch: int) -> bool:
        return m.acknowledged_at is not None or self.resolved or self.plan_epoch != epoch

    def _published_since(self, count: int, epoch: int | None) -> bool:
        return self.publish_count != count or self.resolved or (epoch is not None and self.plan_epoch != epoch)

    def _deadline_woken(self, done: Callable[[], bool], epoch: int) -> bool:
        return done() or self.resolved or self.plan_epoch != epoch

    async def _missed_statement(self, name: str) -> None:
        assert self.plan is not None
        if name == "holding_statement":
            offer = Statement(
                id=len(self.state.statements) + 1,
                kind=StatementKind.holding,
                text=self.plan.holding_statement,
                text_hash=text_hash(self.plan.holding_statement),
                template_key="plan:holding",
                channels=list(self.plan.channels),
                status=StatementStatus.draft,
                drafted_by="system:offer",
                drafted_at=workflow.now(),
            )
            self.state.statements.append(offer)
            await self._event("holding_statement_offered", "system", f"#{offer.id} 预案先发声明待一键批准")
            await self._notify(
                "alert",
                f"未在时限内发声：{self.inp.title}",
                f"预案先发声明已备好（声明 #{offer.id}），请一键批准：{offer.text}",
                role=Role.leadership.value,
                key="holding-missed",
            )
        else:
            await self._event("full_statement_overdue", "system", "正式声明逾期")
            await self._notify(
                "escalation",
                f"正式声明逾期：{self.inp.title}",
                "请尽快审批发布统一声明",
                role=Role.leadership.value,
                key="full-missed",
            )

    async def _cadence(self) -> None:
        """After the first statement, an update is due every ``follow_up_every``; missing it escalates."""
        while not self.resolved:
            await workflow.wait_condition(lambda: self.last_published is not None or self.resolved)
            if self.resolved:
                return
            assert self.plan is not None and self.last_published is not None
            count, epoch = self.publish_count, self.plan_epoch
            due = self.last_published + self.plan.follow_up_every
            self.state.next_update_due = due
            try:
                await workflow.wait_condition(
                    partial(self._published_since, count, epoch),
                    timeout=max(due - workflow.now(), timedelta(seconds=1)),
                    timeout_summary="update-due",
                )
            except TimeoutError:
                self.state.figures.updates_due += 1
                await self._notify(
                    "reminder",
                    f"进展更新到期：{self.inp.title}",
                    "请发布进展更新",
                    user=self.state.commander,
                    key=f"update-due-{count}",
                )
                await self._event("update_due", "system", "进展更新到期")
                try:
                    await workflow.wait_condition(
                        partial(self._published_since, count, None),
                        timeout=self.plan.follow_up_every / 2,
                        timeout_summary="update-missed",
                    )
                except TimeoutError:
                    await self._notify(
                        "escalation",
                        f"进展更新逾期：{self.inp.title}",
                        "持续沟通中断，请督办",
                        role=Role.leadership.value,
                        key=f"update-missed-{count}",
                    )
                    await self._event("update_missed", "system", "进展更新逾期，已升级")
                await workflow.wait_condition(partial(self._published_since, count, None))
                continue
            if self.publish_count != count:
                self.state.figures.updates_due += 1
                self.state.figures.updates_on_time += 1

    async def _start_task(
        self,
        number: int,
        kind: str,
        title: str,
        owner: str,
        due_in: timedelta,
        required: bool,
        abandon: bool = False,
    ) -> TaskRecord:
        wid = f"incident-{self.inp.incident_id}-task-{number}"
        due_at = workflow.now() + due_in
        handle = await workflow.start_child_workflow(
            IncidentTaskWorkflow.run,
            TaskInput(
                incident_id=self.inp.incident_id,
                number=number,
                kind=kind,
                title=title,
                owner=owner,
                due_at=due_at,
                mode=self.inp.mode,
                remind_before=min(due_in / 4, timedelta(hours=1)),
            ),
            id=wid,
            parent_close_policy=ParentClosePolicy.ABANDON if abandon else ParentClosePolicy.REQUEST_CANCEL,
        )
        record = TaskRecord(
            number=number, workflow_id=wid, kind=kind, title=title, owner=owner, due_at=due_at, required=required
        )
        self.state.tasks.append(record)
        self.children[number] = handle
        if not abandon:
            self.background.append(asyncio.create_task(self._watch_task(record, handle)))
        return record

    async def _watch_task(
        self, record: TaskRecord, handle: ChildWorkflowHandle[IncidentTaskWorkflow, TaskResult]
    ) -> None:
        try:
            result = await handle
        except (asyncio.CancelledError, Exception):  # cancelled by a waiver
            return
        if record.status == "open":
            record.status, record.note = result.status, result.note
            await self._event(f"task_{result.status}", result.by or "system", f"#{record.number} {record.title}")

    # --- helpers -------------------------------------------------------------------------------------

    def _figures(self) -> dict[str, object]:
        f = self.state.figures
        out: dict[str, object] = f.model_dump(mode="json")
        out["cadence_adherence"] = f.cadence_adherence
        out["deadlines_met"] = sum(1 for v in f.deadlines.values() if v)
        out["deadlines_missed"] = sum(1 for v in f.deadlines.values() if not v)
        return out

    async def _set_stage(self, stage: IncidentStage, figures: bool = False) -> None:
        self.state.stage = stage
        workflow.upsert_search_attributes([SA_STAGE.value_set(stage.value)])
        await self._project(figures)

    async def _project(self, figures: bool = False) -> None:
        await workflow.execute_activity_method(
            EmergencyActivities.project_incident,
            IncidentProjection(
                incident_id=self.inp.incident_id,
                stage=self.state.stage.value,
                level=self.state.level.value if self.state.level else "",
                commander=self.state.commander,
                figures=self._figures() if figures else None,
                resolved_at=self.state.resolved_at,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )

    async def _event(self, kind: str, actor: str, detail: str) -> None:
        entry = TimelineEntry(at=workflow.now(), kind=kind, actor=actor, detail=detail)
        self.state.timeline.append(entry)
        await self._persist(entry, len(self.state.timeline))

    async def _persist(self, entry: TimelineEntry, seq: int) -> None:
        await workflow.execute_activity_method(
            EmergencyActivities.record_event,
            EventInput(incident_id=self.inp.incident_id, seq=seq, **entry.model_dump()),
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
            ref=f"incident:{self.inp.incident_id}",
            drill=self.drill,
            dedupe_key=f"incident-{self.inp.incident_id}-{key}",
        )
