"""Storage of the crisis hold: one row per holder (an active incident or a person), and its reading."""

from __future__ import annotations

from sqlmodel import Session, col, select

from db.models import ContentItem, CrisisHold, CrisisHoldHolder, utcnow
from domain.content_io import HoldStatus

MANUAL = "manual"


def holders(session: Session) -> list[CrisisHoldHolder]:
    """Who holds the crisis hold, earliest first."""
    return list(session.exec(select(CrisisHoldHolder).order_by(col(CrisisHoldHolder.set_at))).all())


def status(session: Session) -> HoldStatus:
    rows = holders(session)
    if not rows:
        return HoldStatus(active=False)
    latest = rows[-1]
    return HoldStatus(
        active=True,
        reason=latest.reason,
        incident_id=latest.holder if latest.holder != MANUAL else "",
        holders=[h.holder for h in rows],
    )


def change(
    session: Session, *, holder: str, active: bool, reason: str, by: str, release_all: bool = False
) -> HoldStatus:
    """Add or remove ``holder`` (``release_all``: a person lifts every hold); part of the caller's transaction."""
    existing = session.get(CrisisHoldHolder, holder)
    if active:
        row = existing or CrisisHoldHolder(holder=holder)
        row.reason, row.set_by, row.set_at = reason, by, utcnow()
        session.add(row)
    elif release_all:
        for row in session.exec(select(CrisisHoldHolder)).all():
            session.delete(row)
    elif existing is not None:
        session.delete(existing)
    session.flush()
    now = status(session)
    mirror = session.get(CrisisHold, 1) or CrisisHold(id=1)
    # The summary describes the hold as it now stands: while any holder remains, the latest holder's
    # reason; once the last let go, the release.
    latest = holders(session)[-1] if now.active else None
    mirror.active = now.active
    mirror.reason = latest.reason if latest else reason
    mirror.set_by = latest.set_by if latest else by
    mirror.incident_id = now.incident_id if latest else (holder if holder != MANUAL else "")
    mirror.changed_at = utcnow()
    session.add(mirror)
    return now


def held_items(session: Session) -> list[ContentItem]:
    return list(session.exec(select(ContentItem).where(ContentItem.stage == "held")).all())


def awaiting_release(session: Session) -> list[ContentItem]:
    """Items the hold stopped that now wait for ops_head's confirmation."""
    return list(session.exec(select(ContentItem).where(ContentItem.stage == "awaiting_release")).all())
