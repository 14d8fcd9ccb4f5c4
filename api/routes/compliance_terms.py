"""``/compliance/terms`` — the word lists the compliance scan uses (R-3.3)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import (
    RequestIdDep,
    SessionDep,
    require_roles,
)
from api.errors import conflict, not_found
from api.params import PathId
from api.schemas.compliance_terms import TermCreate, TermPublic
from db import audit, compliance
from db.accounts import Principal
from db.models import ComplianceTerm
from domain.compliance import TermCategory
from domain.roles import Role

router = APIRouter(prefix="/compliance/terms", tags=["compliance"])

ComplianceDep = Annotated[Principal, Depends(require_roles(Role.risk_compliance))]


@router.get("", response_model=list[TermPublic], summary="Word lists of the compliance scan")
def list_terms(
    _: Annotated[
        Principal,
        Depends(require_roles(Role.risk_compliance, Role.ops_head, Role.content_creator, Role.marketing)),
    ],
    session: SessionDep,
    category: TermCategory | None = None,
    include_inactive: bool = False,
) -> list[TermPublic]:
    return [
        TermPublic.model_validate(r, from_attributes=True)
        for r in compliance.terms(session, category, include_inactive)
    ]


@router.post("", response_model=TermPublic, status_code=201)
def add_term(body: TermCreate, principal: ComplianceDep, session: SessionDep, rid: RequestIdDep) -> TermPublic:
    row = compliance.find_term(session, body.term.strip(), body.category.value)
    if row is not None and row.active:
        raise conflict(f"{body.term!r} is already in {body.category.value}", field="term")
    row = row or ComplianceTerm(term=body.term.strip(), category=body.category.value)
    row.severity, row.note, row.active = body.severity.value, body.note, True
    session.add(row)
    session.flush()
    audit.record(session, principal, "compliance_term.add", f"term:{row.id}", rid, body.model_dump(mode="json"))
    session.commit()
    return TermPublic.model_validate(row, from_attributes=True)


@router.delete("/{term_id}", response_model=TermPublic, summary="Deactivate a term (kept for history)")
def remove_term(term_id: PathId, principal: ComplianceDep, session: SessionDep, rid: RequestIdDep) -> TermPublic:
    row = session.get(ComplianceTerm, term_id)
    if row is None:
        raise not_found("term", term_id)
    row.active = False
    session.add(row)
    audit.record(session, principal, "compliance_term.remove", f"term:{term_id}", rid, {"term": row.term})
    session.commit()
    return TermPublic.model_validate(row, from_attributes=True)
