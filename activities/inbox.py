"""Side effects of the engagement inbox: store and classify, assign by rota, reply, hide, feedback, FAQ."""

from __future__ import annotations

import asyncio
import threading

import structlog
from sqlmodel import col, func, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from connectors.base import PlatformConnector, PlatformError, PlatformTimeout
from connectors.registry import ConnectorRegistry
from db import outbox
from db.engine import Database
from db.inbox import store_items
from db.models import FaqRow, FeedbackRecord, Interaction, Shift
from domain.inbox import FaqEntry, faq_match
from domain.inbox_io import (
    AssignInput,
    FaqHit,
    FaqLookup,
    FeedbackClose,
    FeedbackOpen,
    InteractionInput,
    PollWindow,
    ProjectInput,
    ReplyInput,
    SaveFaq,
    VisibilityInput,
)
from domain.kernel import Platform

log = structlog.get_logger("socialops.inbox")


class InboxActivities:
    def __init__(self, db: Database, connectors: ConnectorRegistry) -> None:
        self.db = db
        self.connectors = connectors
        self._assign_lock = threading.Lock()  # one assignment at a time in this worker

    def _connector(self, platform: Platform, account: str) -> PlatformConnector:
        try:
            return self.connectors.for_account(platform, account)
        except PlatformError as exc:
            raise ApplicationError(str(exc), type="PlatformError", non_retryable=True) from exc

    @activity.defn
    async def poll_account(self, inp: PollWindow) -> list[InteractionInput]:
        """Fetch and store what is new in the window; the poll workflow starts their processes (children)."""
        connector = self._connector(inp.platform, inp.account)
        found = await asyncio.to_thread(
            connector.fetch_interactions, inp.platform, inp.account, inp.since, inp.until
        )
        items = [i.model_dump(mode="json") for i in found]
        return await asyncio.to_thread(store_items, self.db, inp.platform, inp.account, items)

    @activity.defn
    def mark_started(self, workflow_ids: list[str]) -> None:
        """The poll workflow started these as children: their outbox rows are done."""
        with self.db.session() as s:
            for row in outbox.pending(s, keys=workflow_ids):
                assert row.id is not None
                outbox.mark(s, row.id, dispatched=True)
            s.commit()

    @activity.defn
    def assign(self, inp: AssignInput) -> str:
        """The on-shift agent with the fewest open items; "" when nobody is on shift. The choice is written at
        once (under a lock), so items arriving together are spread over the rota instead of all landing on
        the agent who was least loaded before any of them was counted."""
        with self._assign_lock, self.db.session() as s:
            on_shift = s.exec(
                select(Shift.user).where(col(Shift.starts_at) <= inp.at, col(Shift.ends_at) > inp.at)
            ).all()
            if not on_shift:
                return ""
            row = s.get(Interaction, inp.interaction_id)
            if row is not None and row.assignee in set(on_shift):
                return row.assignee  # a retry of this activity: the same choice
            load = {u: 0 for u in sorted(set(on_shift))}
            for user, n in s.exec(
                select(Interaction.assignee, func.count())
                .where(col(Interaction.assignee).in_(list(load)), col(Interaction.resolved_at).is_(None))
                .group_by(col(Interaction.assignee))
            ).all():
                load[user] = int(n)
            chosen = min(load, key=lambda u: (load[u], u))
            if row is not None:
                row.assignee = chosen
                s.add(row)
                s.commit()
            return chosen

    @activity.defn
    def reply(self, inp: ReplyInput) -> str:
        """Posts once per key: a retry after a timeout finds the reply already on the platform."""
        c = self._connector(inp.platform, inp.account)
        try:
            existing = c.find_by_key(inp.platform, inp.account, inp.key)
            ref = existing or c.reply(inp.platform, inp.account, inp.external_id, inp.text, inp.key)
        except PlatformTimeout as exc:
            raise ApplicationError(f"outcome unknown: {exc}", type="PlatformTimeout") from exc
        except PlatformError as exc:
            raise ApplicationError(str(exc), type="PlatformError", non_retryable=not exc.retryable) from exc
        self._record_reply(inp, posted_now=existing is None)
        return str(ref.external_id)

    def _record_reply(self, inp: ReplyInput, *, posted_now: bool) -> None:
        """A person's reply is the item's first response; a bot's is counted apart (figures report both)."""
        with self.db.session() as s:
            row = s.get(Interaction, inp.interaction_id)
            if row is None:
                return
            if inp.by_person:
                row.first_response_at = row.first_response_at or inp.at
            else:
                row.first_bot_reply_at = row.first_bot_reply_at or inp.at
                row.bot_replies += 1 if posted_now else 0  # a retry that found its reply counts it once
            s.add(row)
            s.commit()

    @activity.defn
    def set_visibility(self, inp: VisibilityInput) -> None:
        c = self._connector(inp.platform, inp.account)
        (c.hide if inp.hide else c.unhide)(inp.platform, inp.account, inp.external_id)

    @activity.defn
    def project(self, inp: ProjectInput) -> None:
        with self.db.session() as s:
            row = s.get(Interaction, inp.interaction_id)
            if row is None:
                return
            row.status, row.assignee = inp.status, inp.assignee
            if inp.sla_due is not None:
                row.sla_due_at = inp.sla_due
            if inp.first_response_at is not None and row.first_response_at is None:
                row.first_response_at = inp.first_response_at
            if inp.resolved_at is not None:
                row.resolved_at = inp.resolved_at
            if inp.hidden is not None:
                row.hidden = inp.hidden
            if inp.intent:
                row.intent = inp.intent
            s.add(row)
            s.commit()

    @activity.defn
    def faq_lookup(self, inp: FaqLookup) -> FaqHit:
        with self.db.session() as s:
            rows = s.exec(select(FaqRow).where(FaqRow.active == True)).all()  # noqa: E712
        entries = [FaqEntry(id=r.id or 0, question=r.question, answer=r.answer, keywords=r.keywords) for r in rows]
        entry, score = faq_match(inp.text, entries)
        if entry is None:
            return FaqHit(entry_id=None)
        return FaqHit(entry_id=entry.id, question=entry.question, answer=entry.answer, score=score)

    @activity.defn
    def open_feedback(self, inp: FeedbackOpen) -> int:
        with self.db.session() as s:
            existing = s.exec(
                select(FeedbackRecord).where(
                    FeedbackRecord.interaction_id == inp.interaction_id, FeedbackRecord.status == "open"
                )
            ).first()
            if existing is not None:
                return existing.id or 0
            row = FeedbackRecord(
                interaction_id=inp.interaction_id,
                category=inp.category,
                department=inp.department,
                summary=inp.summary,
                due_at=inp.due_at,
            )
            s.add(row)
            s.commit()
            return row.id or 0

    @activity.defn
    def close_feedback(self, inp: FeedbackClose) -> None:
        with self.db.session() as s:
            row = s.get(FeedbackRecord, inp.feedback_id)
            if row is None:
                return
            row.status, row.outcome, row.resolved_by = "resolved", inp.outcome, inp.by
            row.resolved_at = row.resolved_at or inp.at
            if inp.user_told:
                row.user_told_at = inp.at
            s.add(row)
            s.commit()

    @activity.defn
    def save_faq(self, inp: SaveFaq) -> int:
        with self.db.session() as s:
            row = FaqRow(
                question=inp.question, answer=inp.answer, created_by=inp.by, from_interaction=inp.interaction_id
            )
            s.add(row)
            s.commit()
            return row.id or 0
