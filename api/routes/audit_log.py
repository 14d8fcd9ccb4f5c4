"""``/audit`` — the append-only audit log of every accepted change."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import SessionDep, require_roles
from api.params import QueryId
from api.schemas.audit_log import AuditPublic
from db import audit
from db.accounts import Principal
from domain.roles import Role

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=list[AuditPublic])
def list_audit(
    _: Annotated[Principal, Depends(require_roles(Role.admin, Role.risk_compliance, Role.leadership))],
    session: SessionDep,
    action: str | None = None,
    target: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    before_id: QueryId = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditPublic]:
    rows = audit.query(
        session, action=action, target=target, actor=actor, since=since, limit=limit, before_id=before_id
    )
    return [AuditPublic.model_validate(r, from_attributes=True) for r in rows]
