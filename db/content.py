"""Query functions for content items, their versions and publications."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from db.models import ContentItem, ContentPublication, ContentVersion
from domain.content import Stage
from domain.kernel import Platform


def schedule(
    session: Session,
    start: datetime | None,
    end: datetime | None,
    platform: Platform | None,
    owner: str | None,
    stage: Stage | None,
    limit: int,
) -> list[ContentItem]:
    """Items publishing in [start, end), on ``platform``, by ``owner``, at ``stage``; earliest first."""
    stmt = select(ContentItem)
    if start:
        stmt = stmt.where(col(ContentItem.publish_at) >= start)
    if end:
        stmt = stmt.where(col(ContentItem.publish_at) < end)
    if platform:
        stmt = stmt.where(col(ContentItem.platforms).contains(f",{platform.value},"))
    if owner:
        stmt = stmt.where(ContentItem.owner_name == owner)
    if stage:
        stmt = stmt.where(ContentItem.stage == stage.value)
    return list(session.exec(stmt.order_by(col(ContentItem.publish_at)).limit(limit)).all())


def versions(session: Session, content_id: int) -> list[ContentVersion]:
    """The item's versions, oldest first."""
    return list(
        session.exec(
            select(ContentVersion)
            .where(ContentVersion.content_id == content_id)
            .order_by(col(ContentVersion.number))
        ).all()
    )


def version(session: Session, content_id: int, number: int) -> ContentVersion | None:
    return session.exec(
        select(ContentVersion).where(ContentVersion.content_id == content_id, ContentVersion.number == number)
    ).first()


def correction_ids(session: Session, content_id: int) -> list[int | None]:
    """Ids of the items that correct ``content_id``."""
    return list(session.exec(select(ContentItem.id).where(ContentItem.corrects_id == content_id)).all())


def first_publication(session: Session, content_id: int) -> ContentPublication | None:
    """A publication of the item that reached its platform (has an external id), if any."""
    return session.exec(
        select(ContentPublication).where(
            ContentPublication.content_id == content_id, ContentPublication.external_id != ""
        )
    ).first()


def awaiting_review(session: Session, stages: list[str], exclude_owner: int) -> list[ContentItem]:
    """Items at one of ``stages`` not owned by ``exclude_owner``, earliest publishing first."""
    return list(
        session.exec(
            select(ContentItem)
            .where(col(ContentItem.stage).in_(stages), ContentItem.owner_id != exclude_owner)
            .order_by(col(ContentItem.publish_at))
        ).all()
    )
