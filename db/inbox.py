"""Storage of the engagement inbox: classified interactions (written with their process start), the policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from db import outbox
from db.engine import Database
from db.models import FaqRow, FeedbackRecord, InboxPolicyRow, Interaction, ReplyTemplate, Shift
from domain import ids
from domain.inbox import AuthorContext, InboxPolicy, Intent, Kind, classify
from domain.inbox_io import InteractionInput, PollInput
from domain.kernel import Platform
from domain.sentiment import default_model


def load_policy(db: Database) -> InboxPolicy:
    with db.session() as s:
        row = s.get(InboxPolicyRow, 1)
    return InboxPolicy.model_validate(row.policy) if row else InboxPolicy()


def store_items(
    db: Database, platform: Platform, account: str, items: list[dict[str, Any]]
) -> list[InteractionInput]:
    """Classify and store new items (deduplicated by platform and external id); returns the workflow inputs.

    Each new row and its process start are written in one transaction (db/outbox.py): an item whose
    start is lost after the commit is started by the reconciler, never forgotten.
    """
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
                    author=author,  # one author flooding within this batch counts too
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
        s.commit()
    return out


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
