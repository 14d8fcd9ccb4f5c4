"""Side effects of the engagement inbox: store and classify, assign by rota, reply, hide, feedback, FAQ."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select
from temporalio import activity
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError

from connectors.base import PlatformConnector, PlatformError, PlatformTimeout
from connectors.registry import ConnectorRegistry
from db.engine import Database
from db.models import FaqRow, FeedbackRecord, InboxPolicyRow, Interaction, Shift
from domain.inbox import AuthorContext, FaqEntry, InboxPolicy, Kind, classify, faq_match
from domain.inbox_io import (
    AssignInput,
    FaqHit,
    FaqLookup,
    FeedbackClose,
    FeedbackOpen,
    InteractionInput,
    ProjectInput,
    ReplyInput,
    SaveFaq,
    VisibilityInput,
)
from domain.kernel import Platform
from domain.sentiment import default_model

log = structlog.get_logger("socialops.inbox")


def load_policy(db: Database) -> InboxPolicy:
    with db.session() as s:
        row = s.get(InboxPolicyRow, 1)
    return InboxPolicy.model_validate(row.policy) if row else InboxPolicy()


def store_items(
    db: Database, platform: Platform, account: str, items: list[dict[str, Any]]
) -> list[InteractionInput]:
    """Classify and store new items (deduplicated by platform and external id); returns the workflow inputs."""
    policy = load_policy(db)
    out: list[InteractionInput] = []
    with db.session() as s:
        known = set(
            s.exec(
                select(Interaction.external_id).where(
                    Interaction.platform == platform.value,
                    col(Interaction.external_id).in_([str(i["external_id"]) for i in items]),
                )
            ).all()
        )
        fresh = [i for i in items if str(i["external_id"]) not in known]
        hour_ago = datetime.now(UTC) - timedelta(hours=1)
        contexts = []
        for i in fresh:
            author, text = str(i.get("author", "")), str(i["text"])
            recent = (
                s.exec(
                    select(func.count())
                    .select_from(Interaction)
                    .where(Interaction.author == author, col(Interaction.received_at) >= hour_ago)
                ).one()
                if author
                else 0
            )
            same = s.exec(select(func.count()).select_from(Interaction).where(Interaction.text == text)).one()
            contexts.append(
                AuthorContext(
                    followers=int(i.get("author_followers", 0) or 0),
                    recent_items=int(recent),
                    same_text_seen=int(same),
                )
            )
        labels = classify([str(i["text"]) for i in fresh], contexts, default_model())
        for raw, c in zip(fresh, labels, strict=True):
            received = raw.get("received_at")
            received_at = datetime.fromisoformat(received) if isinstance(received, str) else datetime.now(UTC)
            row = Interaction(
                platform=platform.value,
                account=account,
                external_id=str(raw["external_id"]),
                kind=str(raw.get("kind", "comment")),
                author=str(raw.get("author", "")),
                author_followers=int(raw.get("author_followers", 0) or 0),
                text=str(raw["text"]),
                intent=c.intent.value,
                sentiment=c.sentiment.value,
                priority=c.priority.value,
                reasons=c.reasons,
                received_at=received_at,
            )
            try:
                with s.begin_nested():
                    s.add(row)
            except IntegrityError:
                continue
            s.flush()
            assert row.id is not None
            row.workflow_id = f"interaction-{platform.value}-{row.external_id}"
            out.append(
                InteractionInput(
                    interaction_id=row.id,
                    platform=platform,
                    account=account,
                    external_id=row.external_id,
                    kind=Kind(row.kind),
                    author=row.author,
                    text=row.text,
                    received_at=received_at,
                    classification=c,
                    policy=policy,
                )
            )
        s.commit()
    return out


async def start_interactions(client: Any, task_queue: str, inputs: list[InteractionInput]) -> None:
    from workflows.interaction import InteractionWorkflow

    for inp in inputs:
        await client.start_workflow(
            InteractionWorkflow.run,
            inp,
            id=f"interaction-{inp.platform.value}-{inp.external_id}",
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )


class InboxActivities:
    def __init__(self, db: Database, connectors: ConnectorRegistry) -> None:
        self.db = db
        self.connectors = connectors

    def _connector(self, platform: Platform, account: str) -> PlatformConnector:
        try:
            return self.connectors.for_account(platform, account)
        except PlatformError as exc:
            raise ApplicationError(str(exc), type="PlatformError", non_retryable=True) from exc

    @activity.defn
    async def poll_account(self, platform: Platform, account: str, since: datetime, until: datetime) -> int:
        import asyncio

        connector = self._connector(platform, account)
        found = await asyncio.to_thread(connector.fetch_interactions, platform, account, since, until)
        items = [i.model_dump(mode="json") for i in found]
        inputs = await asyncio.to_thread(store_items, self.db, platform, account, items)
        await start_interactions(activity.client(), activity.info().task_queue, inputs)
        return len(inputs)

    @activity.defn
    def assign(self, inp: AssignInput) -> str:
        """The on-shift agent with the fewest open items; "" when nobody is on shift."""
        with self.db.session() as s:
            on_shift = s.exec(
                select(Shift.user).where(col(Shift.starts_at) <= inp.at, col(Shift.ends_at) > inp.at)
            ).all()
            if not on_shift:
                return ""
            load = {u: 0 for u in sorted(set(on_shift))}
            for user, n in s.exec(
                select(Interaction.assignee, func.count())
                .where(col(Interaction.assignee).in_(list(load)), col(Interaction.resolved_at).is_(None))
                .group_by(col(Interaction.assignee))
            ).all():
                load[user] = int(n)
            return min(load, key=lambda u: (load[u], u))

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
        with self.db.session() as s:
            row = s.get(Interaction, inp.interaction_id)
            if row is not None and row.first_response_at is None:
                row.first_response_at = inp.at
                s.add(row)
                s.commit()
        return str(ref.external_id)

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
