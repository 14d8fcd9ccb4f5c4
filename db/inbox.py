"""Storage of the engagement inbox: classified interactions (written with their process start), the policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, or_, select

from db import outbox
from db.engine import Database
from db.models import FaqRow, FeedbackRecord, InboxPolicyRow, Interaction, ProcessStart, ReplyTemplate, Shift
from domain import ids
from domain.inbox import (
    AuthorContext,
    HideEarlier,
    InboxPolicy,
    Intent,
    Kind,
    classify,
    earlier_to_hide,
    repeat_key,
)
from domain.inbox_io import InteractionInput, PollInput, SpamFlag
from domain.kernel import Platform
from domain.sentiment import default_model


def load_policy(db: Database) -> InboxPolicy:
    with db.session() as s:
        return policy(s)


def policy(session: Session) -> InboxPolicy:
    row = session.get(InboxPolicyRow, 1)
    return InboxPolicy.model_validate(row.policy) if row else InboxPolicy()


def store_items(
    db: Database, platform: Platform, account: str, items: list[dict[str, Any]]
) -> list[InteractionInput]:
    """Classify and store new items (deduplicated by platform and external id); returns the workflow inputs."""
    return store_batch(db, platform, account, items).inputs


class StoredBatch:
    def __init__(self) -> None:
        self.inputs: list[InteractionInput] = []
        self.start_keys: list[str] = []
        self.flag_keys: list[str] = []  # outbox rows that tell earlier items they were spam after all

    @property
    def outbox_keys(self) -> list[str]:
        return self.start_keys + self.flag_keys


def store_batch(db: Database, platform: Platform, account: str, items: list[dict[str, Any]]) -> StoredBatch:
    """Classify and store new items (deduplicated by platform and external id).

    Each new row and its process start are written in one transaction (db/outbox.py): an item whose
    start is lost after the commit is started by the reconciler, never forgotten. When the batch reveals
    a flood or a repeated text, the earlier items it makes spam get a ``flag_spam`` signal in the same
    transaction (their processes hide them, reversibly).
    """
    policy = load_policy(db)
    batch = StoredBatch()
    out = batch.inputs
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
                    author=author,  # one author flooding within this batch counts too
                )
            )
        texts = [str(i["text"]) for i in fresh]
        labels = classify(texts, contexts, default_model())
        reveal = earlier_to_hide(texts, contexts)
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
            row.workflow_id = ids.interaction(platform, row.external_id)
            inp = InteractionInput(
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
            outbox.add_start(s, row.workflow_id, "InteractionWorkflow", inp)
            out.append(inp)
            batch.start_keys.append(row.workflow_id)
        if reveal:
            batch.flag_keys = _flag_earlier(s, reveal, texts, hour_ago, {i.interaction_id for i in out})
        s.commit()
    return batch


def _flag_earlier(
    s: Session, reveal: HideEarlier, texts: list[str], since: datetime, batch_ids: set[int]
) -> list[str]:
    """Record a ``flag_spam`` signal for each stored, visible, non-spam item the batch revealed as spam."""
    same_text = [t for t in dict.fromkeys(texts) if repeat_key(t) in reveal.texts]
    conditions: list[ColumnElement[bool]] = []
    if same_text:
        conditions.append(col(Interaction.text).in_(same_text))
    if reveal.authors:
        conditions.append((col(Interaction.author).in_(reveal.authors)) & (col(Interaction.received_at) >= since))
    rows = s.exec(
        select(Interaction).where(
            or_(*conditions),
            Interaction.hidden == False,  # noqa: E712 — SQL comparison
            Interaction.intent != Intent.spam.value,
            col(Interaction.workflow_id) != "",
        )
    ).all()
    keys = []
    for row in rows:
        if row.id in batch_ids or not reveal.matches(row.text, row.author):
            continue
        start = s.exec(select(ProcessStart).where(ProcessStart.key == row.workflow_id)).first()
        if start is None:
            continue
        why = "同一内容重复出现" if repeat_key(row.text) in reveal.texts else f"作者 {row.author} 刷屏"
        key = f"{row.workflow_id}:flag-spam"
        outbox.add_signal(
            s,
            key,
            row.workflow_id,
            "InteractionWorkflow",
            InteractionInput.model_validate(start.input),
            "flag_spam",
            SpamFlag(reason=f"后续内容显示为垃圾信息：{why}"),
            restart_finished=False,  # a closed item's process is not run again
        )
        keys.append(key)
    return keys


def record_polling(session: Session, platform: Platform, account: str, every: timedelta) -> str:
    """Record (in the caller's transaction) that the account's poller must run; returns its workflow id."""
    wid = ids.inbox_poll(platform, account)
    outbox.add_start(
        session,
        wid,
        "AccountPollWorkflow",
        PollInput(platform=platform, account=account, every=every),
        summary=f"收件箱轮询：{platform.value}/{account}",
        long_lived=True,
    )
    return wid


def queue(
    session: Session,
    *,
    assignee: str | None,
    unassigned: bool,
    breaching_within_minutes: int | None,
    intent: Intent | None,
    platform: Platform | None,
    status: str | None,
    include_closed: bool,
    limit: int,
) -> list[Interaction]:
    """The inbox queue: interactions matching every given filter, soonest SLA first (none last), then id.

    Closed and hidden interactions are left out unless ``include_closed`` or a ``status`` is given;
    ``breaching_within_minutes``: unanswered ones whose SLA falls due within that many minutes from now.
    """
    stmt = select(Interaction)
    if not include_closed and status is None:
        stmt = stmt.where(col(Interaction.status).not_in(["closed", "hidden"]))
    if status:
        stmt = stmt.where(Interaction.status == status)
    if assignee is not None:
        stmt = stmt.where(Interaction.assignee == assignee)
    if unassigned:
        stmt = stmt.where(Interaction.assignee == "")
    if breaching_within_minutes:
        stmt = stmt.where(
            col(Interaction.sla_due_at) <= datetime.now(UTC) + timedelta(minutes=breaching_within_minutes),
            col(Interaction.first_response_at).is_(None),
        )
    if intent:
        stmt = stmt.where(Interaction.intent == intent.value)
    if platform:
        stmt = stmt.where(Interaction.platform == platform.value)
    order = (col(Interaction.sla_due_at).is_(None), col(Interaction.sla_due_at), col(Interaction.id))
    return list(session.exec(stmt.order_by(*order).limit(limit)).all())


def received_since(session: Session, since: datetime | None) -> list[Interaction]:
    """Every interaction received from ``since`` (all of them without it)."""
    stmt = select(Interaction)
    if since:
        stmt = stmt.where(col(Interaction.received_at) >= since)
    return list(session.exec(stmt).all())


def reply_template(session: Session, key: str) -> ReplyTemplate | None:
    return session.exec(select(ReplyTemplate).where(ReplyTemplate.key == key)).first()


def reply_templates(session: Session) -> list[ReplyTemplate]:
    """Every reply template, by key."""
    return list(session.exec(select(ReplyTemplate).order_by(col(ReplyTemplate.key))).all())


def active_faq(session: Session) -> list[FaqRow]:
    """The FAQ entries in use, in the order they were added."""
    return list(session.exec(select(FaqRow).where(FaqRow.active == True).order_by(col(FaqRow.id))).all())  # noqa: E712


def feedback_records(
    session: Session, department: str | None, status: str | None, limit: int
) -> list[FeedbackRecord]:
    """Feedback records (of ``department``, at ``status``), soonest due first."""
    stmt = select(FeedbackRecord)
    if department:
        stmt = stmt.where(FeedbackRecord.department == department)
    if status:
        stmt = stmt.where(FeedbackRecord.status == status)
    return list(session.exec(stmt.order_by(col(FeedbackRecord.due_at)).limit(limit)).all())


def shifts(session: Session, at: datetime | None) -> list[Shift]:
    """The rota (only the shifts covering ``at``), by start."""
    stmt = select(Shift)
    if at:
        stmt = stmt.where(col(Shift.starts_at) <= at, col(Shift.ends_at) > at)
    return list(session.exec(stmt.order_by(col(Shift.starts_at))))
