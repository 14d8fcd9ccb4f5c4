"""``/statement-templates`` — the library of unified statements, versioned and approved (R-5.2.5)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import AnyUserDep, RequestIdDep, SessionDep, require_roles
from api.errors import conflict, not_found
from api.params import PathNumber
from api.schemas.statement_templates import TemplatePublic
from db import audit
from db import emergency as q
from db.accounts import Principal
from db.models import StatementTemplateRow, utcnow
from domain.emergency import StatementTemplate, placeholders
from domain.risk import RiskLevel
from domain.roles import Role

router = APIRouter(prefix="/statement-templates", tags=["statement templates"])

WritersDep = Annotated[Principal, Depends(require_roles(Role.risk_compliance, Role.ops_head, Role.marketing))]
ComplianceDep = Annotated[Principal, Depends(require_roles(Role.risk_compliance))]


def _template_out(row: StatementTemplateRow) -> TemplatePublic:
    return TemplatePublic(
        key=row.key,
        scenario=row.scenario,
        level=RiskLevel(row.level),
        title=row.title,
        body=row.body,
        version=row.version,
        status=row.status,
        placeholders=placeholders(row.body),
        created_by=row.created_by,
        approved_by=row.approved_by,
        approved_at=row.approved_at,
    )


@router.get("", response_model=list[TemplatePublic], summary="The statement library, all versions")
def list_templates(
    _: AnyUserDep, session: SessionDep, key: str | None = None, approved_only: bool = False
) -> list[TemplatePublic]:
    rows = q.templates(session, key, approved_only)
    return [_template_out(r) for r in rows]


@router.post(
    "",
    response_model=TemplatePublic,
    status_code=201,
    summary="A new template, or a new version of one (a draft until risk_compliance approves)",
)
def add_template(
    body: StatementTemplate, principal: WritersDep, session: SessionDep, rid: RequestIdDep
) -> TemplatePublic:
    row = StatementTemplateRow(
        key=body.key,
        version=q.next_template_version(session, body.key),
        scenario=body.scenario,
        level=body.level.value,
        title=body.title,
        body=body.body,
        created_by=principal.name,
    )
    session.add(row)
    audit.record(session, principal, "template.draft", f"template:{body.key}", rid, {"version": row.version})
    session.commit()
    return _template_out(row)


@router.post("/{key}/versions/{version}/approve", response_model=TemplatePublic)
def approve_template(
    key: str, version: PathNumber, principal: ComplianceDep, session: SessionDep, rid: RequestIdDep
) -> TemplatePublic:
    row = q.template_version(session, key, version)
    if row is None:
        raise not_found(f"template {key} version", version)
    if row.status == "approved":
        raise conflict(f"template {key} v{version} is already approved")
    row.status, row.approved_by, row.approved_at = "approved", principal.name, utcnow()
    session.add(row)
    audit.record(session, principal, "template.approve", f"template:{key}", rid, {"version": version})
    session.commit()
    return _template_out(row)
