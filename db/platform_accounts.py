"""Query functions for the connected platform accounts."""

from __future__ import annotations

from sqlmodel import Session, col, select

from db.models import PlatformAccount


def by_handle(session: Session, platform: str, handle: str) -> PlatformAccount | None:
    """The account ``handle`` on ``platform`` (a ``Platform`` value), active or not."""
    return session.exec(
        select(PlatformAccount).where(PlatformAccount.platform == platform, PlatformAccount.handle == handle)
    ).first()


def all_accounts(session: Session) -> list[PlatformAccount]:
    """Every account, in creation order."""
    return list(session.exec(select(PlatformAccount).order_by(col(PlatformAccount.id))).all())
