"""Query functions for the compliance scan's word lists."""

from __future__ import annotations

from sqlmodel import Session, col, select

from db.models import ComplianceTerm
from domain.compliance import TermCategory


def terms(session: Session, category: TermCategory | None, include_inactive: bool) -> list[ComplianceTerm]:
    """The terms (of ``category``; inactive ones too if asked), in the order they were added."""
    stmt = select(ComplianceTerm)
    if category:
        stmt = stmt.where(ComplianceTerm.category == category.value)
    if not include_inactive:
        stmt = stmt.where(ComplianceTerm.active == True)  # noqa: E712
    return list(session.exec(stmt.order_by(col(ComplianceTerm.id))))


def find_term(session: Session, term: str, category: str) -> ComplianceTerm | None:
    """The row of ``term`` in ``category`` (a ``TermCategory`` value), active or not."""
    return session.exec(
        select(ComplianceTerm).where(ComplianceTerm.term == term, ComplianceTerm.category == category)
    ).first()
