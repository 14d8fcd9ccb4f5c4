"""``interaction-{platform}-{external_id}`` — InteractionWorkflow (R-4.2.1, R-4.2.2, R-4.2.4, R-2.2, R-3.3).

Route by intent: spam is hidden (reversibly); praise gets a thank-you; an inquiry that matches the FAQ
above the threshold gets the answer, otherwise the agent gets a suggestion; sales leads go to marketing;
items that may spread go to risk_compliance for one official line. Everything that needs a person waits
under an SLA measured on the business calendar: the on-shift agent is assigned (off hours, an
acknowledgement goes out), a reminder at 75 %, the group lead at breach, ops_head at 1.5×. Feedback is
routed to its department and, once resolved, the user is told the outcome.

Over 400 lines because the handlers and their validators belong to the one class (STYLE 12); the
routing, SLA and feedback loops below them are each short.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from functools import partial

from temporalio import workflow

from workflows.common import REPLY_RETRY, RETRY, notify
from workflows.timers import at, wait_until

with workflow.unsafe.imports_passed_through():
    from activities.inbox import InboxActivities
    from core.temporal import SA_OWNER, SA_PLATFORMS, SA_PROCESS, SA_STAGE
    from domain.errors import conflict, forbidden, invalid
    from domain.inbox import DEFAULT_TEMPLATES, Intent, Priority, faq_applies
    from domain.inbox_io import (
        AssignInput,
        AssignRequest,
        FaqLookup,
        FeedbackClose,
        FeedbackOpen,
        FeedbackOutcome,
        FeedbackRequest,
        HistoryEntry,
        InteractionInput,
        InteractionState,
        NoteRequest,
        ProjectInput,
        ReplyInput,
        ReplyRequest,
        SaveFaq,
        SnoozeRequest,
        SpamFlag,
        VisibilityInput,
    )
    from domain.kernel import Actor
    from domain.roles import Role
    from domain.workcalendar import WorkCalendar, hours_text

AGENTS = frozenset({Role.interaction_agent, Role.ops_head})
OPEN = ("new", "assigned", "waiting", "snoozed", "feedback_open")


@workflow.defn
class InteractionWorkflow:
    @workflow.init
    def __init__(self, inp: InteractionInput) -> None:
        c = inp.classification
        self.inp = inp
        self.state = InteractionState(
            interaction_id=inp.interaction_id, status="new", intent=c.intent.value, priority=c.priority.value
        )
        self.replies: dict[str, str] = {}  # request key -> reply id: retries post once
        self.replied = False
        self.resolved = False
        self.unhidden = False
        self.feedback_outcome: FeedbackOutcome | None = None
        self.escalated_by_hand = False
        self.opening_feedback = False  # reserved before the activity runs: a second request is refused
        self.feedback_department = ""
        self.outcome_told = False
        self.posting = 0  # agent replies in flight
        self.flagged_spam = False  # a later batch showed this item to be spam (flag_spam)
        self.sla_steps_done: set[str] = set()
        self.held_for = timedelta(0)  # time hidden as spam after the fact: the SLA is extended by it
        self.lock = asyncio.Lock()  # handlers that await and change the item's visibility or routing

    @workflow.query
    def current(self) -> InteractionState:
        return self.state

    @workflow.query
    def has_reply(self, request_key: str) -> bool:
        """Whether a reply with this idempotency key was taken (answerable after the process has closed)."""
        return request_key in self.replies

    @workflow.signal
    async def flag_spam(self, flag: SpamFlag) -> None:
        """A later batch showed this item to be spam (its text repeated, its author flooding): hidden, reversibly,
        unless a person has already answered or hidden it. Its SLA stops while it is hidden as spam."""
        async with self.lock:
            if self.flagged_spam or self.replied or self.resolved or self.state.hidden:
                return
            if self.state.status not in OPEN or self.inp.classification.intent is Intent.spam:
                return
            self.flagged_spam = True
            self.unhidden = False
            self.state.intent = Intent.spam.value
            self._log("spam_revealed", "system", flag.reason)
            await self._visibility(True, "system")

    # --- agent actions ---------------------------------------------------------------------------------

    @workflow.update
    async def reply(self, req: ReplyRequest) -> InteractionState:
        if req.request_key in self.replies:
            return self.state  # the same request again: already posted
        self.replies[req.request_key] = ""
        self.posting += 1  # reserved before the first await: a second click meanwhile is refused
        try:
            self.replies[req.request_key] = await self._post(req.text, f"agent-{req.request_key}", by_person=True)
        finally:
            self.posting -= 1
        self._log("replied", req.actor.name, req.text)
        if req.save_as_faq:
            await workflow.execute_activity_method(
                InboxActivities.save_faq,
                SaveFaq(
                    question=req.save_as_faq,
                    answer=req.text,
                    by=req.actor.name,
                    interaction_id=self.inp.interaction_id,
                ),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RETRY,
            )
            self._log("faq_saved", req.actor.name, req.save_as_faq)
        self.replied = True
        return self.state

    @reply.validator
    def _check_reply(self, req: ReplyRequest) -> None:
        self._require_agent(req.actor)
        if req.request_key not in self.replies and self.posting:
            raise conflict("stage", "a reply is being posted right now; reload before replying again")
        if req.request_key not in self.replies and self.state.status not in OPEN:
            raise conflict("stage", f"the item is {self.state.status}")

    @workflow.update
    async def assign(self, req: AssignRequest) -> InteractionState:
        async with self.lock:  # two assignments at once: the projection shows the last one applied
            self.state.assignee = req.user
            self._log("assigned", req.actor.name, req.user)
            if self.state.status == "new":
                self.state.status = "assigned"
            await self._project()
            return self.state

    @assign.validator
    def _check_assign(self, req: AssignRequest) -> None:
        self._require_agent(req.actor)
        self._require_open()

    @workflow.update
    async def snooze(self, req: SnoozeRequest) -> InteractionState:
        self.state.snoozed_until = req.until
        self._log("snoozed", req.actor.name, req.until.isoformat())
        return self.state

    @snooze.validator
    def _check_snooze(self, req: SnoozeRequest) -> None:
        self._require_agent(req.actor)
        self._require_open()
        if req.until <= workflow.now():
            raise invalid("until", "must be in the future")

    @workflow.update
    async def resolve(self, req: NoteRequest) -> InteractionState:
        self._log("resolved_without_reply", req.actor.name, req.note)
        self.resolved = True
        return self.state

    @resolve.validator
    def _check_resolve(self, req: NoteRequest) -> None:
        self._require_agent(req.actor)
        self._require_open()

    @workflow.update
    async def set_hidden(self, req: NoteRequest) -> InteractionState:
        async with self.lock:  # hide and unhide at once: applied one after the other, in arrival order
            hide = req.note != "unhide"
            was_hidden = self.state.status == "hidden"
            await self._visibility(hide, req.actor.name)
            if not hide and was_hidden:
                self.unhidden = True
            return self.state

    @set_hidden.validator
    def _check_hidden(self, req: NoteRequest) -> None:
        self._require_agent(req.actor)

    @workflow.update
    async def escalate(self, req: NoteRequest) -> InteractionState:
        async with self.lock:
            await self._escalate(f"人工升级：{req.note}", Role.ops_head.value, "manual")
        self._log("escalated", req.actor.name, req.note)
        return self.state

    @escalate.validator
    def _check_escalate(self, req: NoteRequest) -> None:
        self._require_agent(req.actor)
        self._require_open()

    @workflow.update
    async def open_feedback(self, req: FeedbackRequest) -> InteractionState:
        self.opening_feedback = True
        self.feedback_department = req.department
        due = WorkCalendar(self.inp.policy.calendar).add(
            workflow.now(), timedelta(hours=9 * self.inp.policy.feedback_days)
        )
        self.state.feedback_id = await workflow.execute_activity_method(
            InboxActivities.open_feedback,
            FeedbackOpen(
                interaction_id=self.inp.interaction_id,
                category=req.category,
                department=req.department,
                summary=req.summary or self.inp.text,
                due_at=due,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )
        self.state.status = "feedback_open"
        self._log("feedback_opened", req.actor.name, f"{req.department}/{req.category}")
        await self._notify(
            "info",
            f"用户反馈待处理（{req.category}）",
            self.inp.text,
            role="",
            user="",
            key="feedback",
            department=req.department,
        )
        await self._project()
        return self.state

    @open_feedback.validator
    def _check_feedback(self, req: FeedbackRequest) -> None:
        self._require_agent(req.actor)
        if self.state.feedback_id is not None or self.opening_feedback:
            raise conflict("stage", "feedback is already open for this item")
        if self.state.status in ("closed", "hidden"):
            raise conflict("stage", f"the item is {self.state.status}")

    @workflow.update
    async def resolve_feedback(self, req: FeedbackOutcome) -> InteractionState:
        self.feedback_outcome = req  # reserved before the first await: a second resolution is refused
        self._log("feedback_resolved", req.actor.name, req.outcome)
        if workflow.patched("feedback-told-at-once"):
            # The user hears the outcome now, whether or not the item itself is still open.
            async with self.lock:
                await self._tell_outcome(req)
        return self.state

    @resolve_feedback.validator
    def _check_feedback_outcome(self, req: FeedbackOutcome) -> None:
        if self.state.feedback_id is None or self.feedback_outcome is not None:
            raise conflict("stage", "no open feedback on this item")
        department = self.feedback_department
        if department and not self.inp.policy.may_resolve(department, list(req.actor.roles)):
            allowed = {Role.ops_head, *self.inp.policy.departments.get(department, [])}
            raise forbidden(
                "actor",
                f"feedback for {department} is resolved by that department or ops_head",
                req.actor,
                allowed,
            )

    def _require_agent(self, actor: Actor) -> None:
        if not set(actor.roles) & AGENTS:
            raise forbidden("role", "interaction_agent or ops_head handles the inbox", actor, AGENTS)

    def _require_open(self) -> None:
        if self.state.status not in OPEN:
            raise conflict("stage", f"the item is {self.state.status}")

    # --- the process -------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: InteractionInput) -> InteractionState:
        c = inp.classification
        workflow.upsert_search_attributes(
            [
                SA_PROCESS.value_set("interaction"),
                SA_PLATFORMS.value_set([inp.platform.value]),
                SA_STAGE.value_set("new"),
            ]
        )
        self._log(
            "received",
            inp.author,
            f"{c.intent.value}/{c.sentiment.value}/{c.priority.value}：" + "；".join(c.reasons),
        )
        if c.intent is Intent.spam:
            await self._visibility(True, "system")
            try:
                await workflow.wait_condition(lambda: self.unhidden, timeout=timedelta(days=30))
            except TimeoutError:
                return await self._close("closed")
            self.state.intent = Intent.other.value  # a person said it is not spam
        if c.intent is Intent.praise and self.inp.policy.thank_praise:
            await self._post(DEFAULT_TEMPLATES.thanks, "thanks")
            self._log("thanked", "system", DEFAULT_TEMPLATES.thanks)
            return await self._close("closed")
        wider = workflow.patched("faq-after-sales-and-min-score")  # histories before: inquiries only
        if c.intent is Intent.inquiry or (wider and faq_applies(c.intent, inp.text)):
            hit = await workflow.execute_activity_method(
                InboxActivities.faq_lookup,
                FaqLookup(text=inp.text),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RETRY,
            )
            auto = c.intent is Intent.inquiry  # a complaint gets a person, with the FAQ as a suggestion
            if auto and hit.entry_id is not None and hit.score >= self.inp.policy.faq_threshold:
                await self._post(hit.answer, f"faq-{hit.entry_id}")
                self._log("faq_auto_reply", "system", f"FAQ #{hit.entry_id}（{hit.score:.2f}）")
                return await self._close("closed")
            if hit.entry_id is not None and (not wider or hit.score >= self.inp.policy.faq_min_score):
                self.state.faq_suggestion = hit.model_dump()
                why = "低于阈值" if hit.score < self.inp.policy.faq_threshold else "由客服确认后回复"
                self._log("faq_suggested", "system", f"FAQ #{hit.entry_id}（{hit.score:.2f}，{why}）")
        if c.intent is Intent.sales_lead:
            await self._notify(
                "info",
                f"销售线索（{inp.platform.value}）",
                f"{inp.author}：{inp.text}",
                role=Role.marketing.value,
                key="lead",
            )
            self._log("lead_forwarded", "system", "已转市场部/销售")
        if c.may_spread:
            await self._notify(
                "alert",
                "负面内容可能扩散，请统一口径",
                f"{inp.author}：{inp.text}",
                role=Role.risk_compliance.value,
                key="spread",
            )
            self._log("flagged_for_official_line", "system", "已转风控合规组")
        await self._handle()
        return await self._close("closed")

    async def _handle(self) -> None:
        cal = WorkCalendar(self.inp.policy.calendar)
        received = self.inp.received_at
        sla = self.inp.policy.sla_for(self.inp.classification.intent, Priority(self.state.priority))
        self.state.sla_due = cal.add(received, sla)
        assignee = await workflow.execute_activity_method(
            InboxActivities.assign,
            AssignInput(interaction_id=self.inp.interaction_id, at=workflow.now()),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )
        hidden = self.state.hidden  # shown to be spam meanwhile (flag_spam): it stays hidden
        if assignee:
            self.state.assignee = assignee
            self.state.status = "hidden" if hidden else "assigned"
            workflow.upsert_search_attributes([SA_OWNER.value_set(assignee)])
            self._log("assigned", "rota", assignee)
        elif hidden:
            pass
        else:
            self.state.status = "waiting"
            if not cal.is_working_time(workflow.now()):
                ack = DEFAULT_TEMPLATES.acknowledge.format(hours=hours_text(self.inp.policy.calendar))
                await self._post(ack, "ack")
                self._log("off_hours_ack", "system", ack)
        workflow.upsert_search_attributes([SA_STAGE.value_set(self.state.status)])
        await self._project()
        steps = [
            (cal.add(received, sla * self.inp.policy.reminder_at), "reminder"),
            (self.state.sla_due, "breach"),
            (cal.add(received, sla * 1.5), "ops_head"),
        ]
        while True:
            for when, step in steps:
                if step in self.sla_steps_done:
                    continue
                if await wait_until(self._settled, partial(self._sla_deadline, when, step), summary=f"sla-{step}"):
                    break
                self.sla_steps_done.add(step)
                await self._sla_step(step)
            await workflow.wait_condition(self._settled)
            if self._answered():
                break
            if not await self._held_as_spam():  # shown to be spam later; nobody unhid it
                return
        self.state.status = "replied" if self.replied else "resolved"
        await self._project()
        if self.state.feedback_id is not None:
            await self._feedback_loop()

    def _answered(self) -> bool:
        return self.replied or self.resolved

    def _settled(self) -> bool:
        """Nothing more is owed for now: answered, or hidden as spam after the fact (flag_spam)."""
        return self._answered() or (self.flagged_spam and self.state.hidden and not self.lock.locked())

    async def _held_as_spam(self) -> bool:
        """Wait (up to 30 days) for a person to unhide an item shown to be spam later; True when unhidden —
        it is handled again with its own intent, its SLA extended by the time it was hidden."""
        since = workflow.now()
        try:
            await workflow.wait_condition(lambda: self.unhidden, timeout=timedelta(days=30))
        except TimeoutError:
            return False
        self.held_for += workflow.now() - since
        if self.state.sla_due is not None:
            self.state.sla_due += workflow.now() - since
        self.flagged_spam = False
        self.state.intent = self.inp.classification.intent.value
        await self._project()
        return True

    def _sla_deadline(self, when: datetime, step: str) -> datetime:
        """A snooze postpones the reminder, never the breach."""
        when += self.held_for
        snooze = self.state.snoozed_until
        return max(when, snooze) if snooze and step == "reminder" else when

    async def _sla_step(self, step: str) -> None:
        who = self.state.assignee
        if step == "reminder":
            await self._notify(
                "reminder",
                "回复时限将到（已过 75%）",
                self.inp.text,
                user=who,
                role="" if who else Role.interaction_agent.value,
                key="sla-reminder",
            )
            self._log("sla_reminder", "system", who or Role.interaction_agent.value)
        elif step == "breach":
            lead = self.inp.policy.group_lead
            await self._escalate("回复超时（SLA 违约）", "" if lead else Role.ops_head.value, "breach", user=lead)
        else:
            await self._escalate("回复严重超时，升级至运营负责人", Role.ops_head.value, "ops_head")

    async def _escalate(self, subject: str, role: str, key: str, user: str = "") -> None:
        self.state.escalations.append(key)
        await self._notify(
            "escalation", subject, f"{self.inp.author}：{self.inp.text}", role=role, user=user, key=f"esc-{key}"
        )
        self._log("escalated", "system", f"{key} → {user or role}")

    async def _feedback_loop(self) -> None:
        self.state.status = "feedback_open"
        await self._project()
        while not await wait_until(
            lambda: self.feedback_outcome is not None,
            at(workflow.now() + timedelta(days=1)),
            summary="feedback-reminder",
        ):
            await self._notify(
                "reminder",
                "用户反馈待处理",
                self.inp.text,
                role=Role.ops_head.value,
                key=f"feedback-remind-{workflow.now().date().isoformat()}",
            )
        outcome = self.feedback_outcome
        assert outcome is not None
        await workflow.wait_condition(lambda: not self.lock.locked())
        if not self.outcome_told:
            await self._tell_outcome(outcome)

    async def _tell_outcome(self, outcome: FeedbackOutcome) -> None:
        self.outcome_told = True
        text = DEFAULT_TEMPLATES.feedback_closed.format(outcome=outcome.outcome)
        await self._post(text, "feedback-closed")
        await workflow.execute_activity_method(
            InboxActivities.close_feedback,
            FeedbackClose(
                feedback_id=self.state.feedback_id or 0,
                outcome=outcome.outcome,
                by=outcome.actor.name,
                at=workflow.now(),
                user_told=True,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )
        self._log("user_told_outcome", "system", text)

    async def _close(self, status: str) -> InteractionState:
        self.state.status = status
        workflow.upsert_search_attributes([SA_STAGE.value_set(status)])
        await workflow.execute_activity_method(
            InboxActivities.project,
            ProjectInput(
                interaction_id=self.inp.interaction_id,
                status=status,
                assignee=self.state.assignee,
                resolved_at=workflow.now(),
                first_response_at=self.state.first_response_at,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state

    # --- helpers -----------------------------------------------------------------------------------------

    async def _post(self, text: str, key: str, *, by_person: bool = False) -> str:
        """Reply on the platform. Only a person's reply is a first response: an off-hours acknowledgement,
        a thank-you or an FAQ answer keeps the item's SLA running (bot replies are logged as such)."""
        ref = await workflow.execute_activity_method(
            InboxActivities.reply,
            ReplyInput(
                interaction_id=self.inp.interaction_id,
                platform=self.inp.platform,
                account=self.inp.account,
                external_id=self.inp.external_id,
                text=text,
                key=f"interaction-{self.inp.platform.value}-{self.inp.external_id}-{key}",
                at=workflow.now(),
                by_person=by_person,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=REPLY_RETRY,
        )
        if by_person and self.state.first_response_at is None:
            self.state.first_response_at = workflow.now()
        return ref

    async def _visibility(self, hide: bool, actor: str) -> None:
        await workflow.execute_activity_method(
            InboxActivities.set_visibility,
            VisibilityInput(
                interaction_id=self.inp.interaction_id,
                platform=self.inp.platform,
                account=self.inp.account,
                external_id=self.inp.external_id,
                hide=hide,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )
        self.state.hidden = hide
        if hide:
            self.state.status = "hidden"
        elif self.state.status == "hidden":
            self.state.status = "assigned" if self.state.assignee else "new"
        self._log("hidden" if hide else "unhidden", actor, "")
        await self._project()

    async def _project(self) -> None:
        await workflow.execute_activity_method(
            InboxActivities.project,
            ProjectInput(
                interaction_id=self.inp.interaction_id,
                status=self.state.status,
                assignee=self.state.assignee,
                sla_due=self.state.sla_due,
                first_response_at=self.state.first_response_at,
                hidden=self.state.hidden,
                intent=self.state.intent,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )

    async def _notify(
        self, kind: str, subject: str, body: str, *, key: str, role: str = "", user: str = "", department: str = ""
    ) -> None:
        if department:
            subject = f"[{department}] {subject}"
            role = role or Role.ops_head.value
        await notify(
            kind,
            subject,
            body,
            role=role,
            user=user,
            ref=f"interaction:{self.inp.interaction_id}",
            dedupe_key=f"interaction-{self.inp.interaction_id}-{key}",
        )

    def _log(self, kind: str, actor: str, detail: str) -> None:
        self.state.history.append(HistoryEntry(at=workflow.now(), kind=kind, actor=actor, detail=detail))
