"""Campaign tables and query functions (R-4.2.3).

Own module so the campaign work does not collide with other changes to ``db/models.py``; ``db/__init__``
imports it, so the tables are on the metadata wherever ``db.models`` is (Alembic, tests, the app).
The draw secret and winners' addresses are stored sealed (``core/sealing.py``) in tables of their own,
never in the rows that lists read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, func, select

from db.models import UTCDateTime, _ts, _ts_optional
from domain.campaign.entries import EntryRecord
from domain.campaign.models import CampaignPlan, EntryMethod
from domain.kernel import Platform


class Campaign(SQLModel, table=True):
    """Projection of a campaign workflow (written by activities) plus its published draw artefacts."""

    __tablename__ = "campaigns"

    id: int | None = Field(default=None, primary_key=True)
    workflow_id: str = Field(default="", max_length=100)
    title: str = Field(max_length=200)
    owner_id: int = Field(index=True)
    owner_name: str = Field(max_length=64)
    stage: str = Field(default="draft", max_length=32, index=True)
    plan: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    plan_hash: str = Field(default="", max_length=64)
    commitment: str = Field(default="", max_length=64)
    beacon_round: int | None = Field(default=None)
    post_ref: str = Field(default="", max_length=200)
    n: int | None = Field(default=None)
    root: str = Field(default="", max_length=64)
    draw: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    results_text: str = Field(default="", max_length=20000)
    report: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class CampaignSecret(SQLModel, table=True):
    """The 32-byte draw secret, sealed; revealed only inside draw.json after the draw."""

    __tablename__ = "campaign_secrets"

    campaign_id: int = Field(primary_key=True, foreign_key="campaigns.id")
    sealed: str = Field(max_length=200)
    commitment: str = Field(max_length=64)
    created_at: datetime = _ts()


class CampaignEntry(SQLModel, table=True):
    """Every entry as it arrived (duplicates too); the freeze marks each one eligible or excluded with why."""

    __tablename__ = "campaign_entries"
    __table_args__ = (
        UniqueConstraint("campaign_id", "platform", "external_id", name="uq_campaign_entries_external"),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaigns.id", index=True)
    platform: str = Field(max_length=32)
    user: str = Field(max_length=200)
    method: str = Field(max_length=16)
    external_id: str = Field(max_length=200)
    text: str = Field(default="", max_length=2000)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    account_created_at: datetime | None = _ts_optional()
    follows: bool | None = Field(default=None)
    region: str = Field(default="", max_length=64)
    spam: bool = Field(default=False)
    source: str = Field(default="api", max_length=16)  # api | inbox
    status: str = Field(default="received", max_length=16, index=True)  # received | eligible | excluded
    exclusion_code: str = Field(default="", max_length=32)
    exclusion_reason: str = Field(default="", max_length=200)
    leaf_index: int | None = Field(default=None)
    received_at: datetime = _ts()


class CampaignAddress(SQLModel, table=True):
    """A winner's shipping address, sealed; bound to the entry it belongs to."""

    __tablename__ = "campaign_addresses"

    entry_id: int = Field(primary_key=True, foreign_key="campaign_entries.id")
    campaign_id: int = Field(foreign_key="campaigns.id", index=True)
    sealed: str = Field(max_length=8000)
    created_at: datetime = _ts()


# --- queries ----------------------------------------------------------------------------------------


def create(session: Session, plan: CampaignPlan, owner_id: int, owner_name: str) -> Campaign:
    """Insert the campaign row (flushed, not committed) with its deterministic workflow id."""
    from domain import ids

    row = Campaign(title=plan.title, owner_id=owner_id, owner_name=owner_name, plan=plan.model_dump(mode="json"))
    session.add(row)
    session.flush()
    assert row.id is not None
    row.workflow_id = ids.campaign(row.id)
    session.add(row)
    session.flush()
    return row


class NewEntry(EntryRecord):
    """An entry before it has a row: the id is assigned by the database."""

    id: int = 0
    external_id: str
    source: str = "api"


def add_entries(session: Session, campaign_id: int, entries: list[NewEntry]) -> tuple[int, int]:
    """Store entries idempotently per (platform, external id): (stored, already known). Commits.

    One look-up and one insert for the batch; if a concurrent delivery of the same items wins the race,
    the batch is retried row by row so each item is counted exactly once.
    """
    keys = {(e.platform.value, e.external_id) for e in entries}
    known_keys = {
        (p, x)
        for p, x in session.exec(
            select(CampaignEntry.platform, CampaignEntry.external_id).where(
                CampaignEntry.campaign_id == campaign_id,
                col(CampaignEntry.external_id).in_([x for _, x in keys]),
            )
        ).all()
    }
    fresh: dict[tuple[str, str], NewEntry] = {}
    for e in entries:
        key = (e.platform.value, e.external_id)
        if key not in known_keys:
            fresh.setdefault(key, e)
    rows = [_row(campaign_id, e) for e in fresh.values()]
    session.add_all(rows)
    try:
        session.commit()
        return len(rows), len(entries) - len(rows)
    except IntegrityError:
        session.rollback()
    stored = 0
    for e in fresh.values():
        session.add(_row(campaign_id, e))
        try:
            session.commit()
            stored += 1
        except IntegrityError:
            session.rollback()
    return stored, len(entries) - stored


def _row(campaign_id: int, e: NewEntry) -> CampaignEntry:
    return CampaignEntry(
        campaign_id=campaign_id, platform=e.platform.value, user=e.user, method=e.method.value,
        external_id=e.external_id, text=e.text, at=e.at, account_created_at=e.account_created_at,
        follows=e.follows, region=e.region, spam=e.spam, source=e.source,
    )  # fmt: skip


def entries(session: Session, campaign_id: int) -> list[EntryRecord]:
    rows = session.exec(select(CampaignEntry).where(CampaignEntry.campaign_id == campaign_id)).all()
    return [
        EntryRecord(
            id=r.id or 0, platform=Platform(r.platform), user=r.user, method=EntryMethod(r.method), text=r.text,
            at=r.at, account_created_at=r.account_created_at, follows=r.follows, region=r.region, spam=r.spam,
        )
        for r in rows
    ]  # fmt: skip


def figures(session: Session, campaign_id: int) -> dict[str, Any]:
    """Participation so far: entries, distinct people, by method and platform, and after the freeze the split."""
    base = select(CampaignEntry).where(CampaignEntry.campaign_id == campaign_id)
    total = session.exec(select(func.count()).select_from(base.subquery())).one()
    people = session.exec(
        select(func.count()).select_from(
            select(CampaignEntry.platform, CampaignEntry.user)
            .where(CampaignEntry.campaign_id == campaign_id)
            .distinct()
            .subquery()
        )
    ).one()
    by_method: dict[str, int] = {}
    by_status: dict[str, int] = {}
    excluded: dict[str, int] = {}
    for method, status, code, count in session.exec(
        select(CampaignEntry.method, CampaignEntry.status, CampaignEntry.exclusion_code, func.count())
        .where(CampaignEntry.campaign_id == campaign_id)
        .group_by(CampaignEntry.method, CampaignEntry.status, CampaignEntry.exclusion_code)
    ).all():
        by_method[method] = by_method.get(method, 0) + count
        by_status[status] = by_status.get(status, 0) + count
        if code:
            excluded[code] = excluded.get(code, 0) + count
    return {
        "entries": total,
        "people": people,
        "by_method": by_method,
        "by_status": by_status,
        "excluded": excluded,
    }


def frozen_leaves(session: Session, campaign_id: int) -> list[tuple[int, str]]:
    """(entry id, leaf) in leaf order."""
    rows = session.exec(
        select(CampaignEntry)
        .where(CampaignEntry.campaign_id == campaign_id, CampaignEntry.status == "eligible")
        .order_by(col(CampaignEntry.leaf_index))
    ).all()
    return [(r.id or 0, f"{r.platform}:{r.user}") for r in rows]


INBOX_METHODS = {"comment": EntryMethod.comment, "reply": EntryMethod.comment, "dm": EntryMethod.dm,
                 "mention": EntryMethod.repost}  # fmt: skip


def import_inbox(session: Session, campaign_id: int, plan: CampaignPlan, since: datetime, until: datetime) -> int:
    """Entries from the engagement inbox: interactions on the campaign's accounts received in [since, until).

    Comments (and replies) are comment entries — keyword entries when the plan asks for a keyword —,
    DMs are DM entries, mentions are reposts. Spam the inbox hid comes in flagged, so the freeze excludes
    it with a reason instead of it silently missing. Idempotent (external ids). Returns how many were new.
    """
    from db.models import Interaction

    found: list[NewEntry] = []
    for acc in plan.accounts:
        rows = session.exec(
            select(Interaction).where(
                Interaction.platform == acc.platform.value,
                Interaction.account == acc.account,
                Interaction.received_at >= since,
                Interaction.received_at < until,
            )
        ).all()
        for r in rows:
            method = INBOX_METHODS.get(r.kind)
            if method is None or not r.author:
                continue
            if (
                method is EntryMethod.comment
                and EntryMethod.keyword in plan.entry_methods
                and plan.keyword in r.text
            ):
                method = EntryMethod.keyword
            found.append(
                NewEntry(
                    platform=acc.platform, user=r.author, method=method, text=r.text[:2000], at=r.received_at,
                    external_id=f"inbox-{r.external_id}", spam=r.hidden or r.intent == "spam", source="inbox",
                )
            )  # fmt: skip
    return add_entries(session, campaign_id, found)[0] if found else 0


def campaigns(session: Session, stage: str | None) -> list[Campaign]:
    """Campaigns (at ``stage``), newest first."""
    stmt = select(Campaign).order_by(col(Campaign.id).desc())
    if stage:
        stmt = stmt.where(Campaign.stage == stage)
    return list(session.exec(stmt).all())


def excluded_entries(session: Session, campaign_id: int) -> list[CampaignEntry]:
    """The campaign's entries the freeze excluded."""
    return list(
        session.exec(
            select(CampaignEntry).where(
                CampaignEntry.campaign_id == campaign_id, CampaignEntry.status == "excluded"
            )
        ).all()
    )
