"""``/risk-matrix`` — impact × likelihood → risk level (R-5.1.5)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import AnyUserDep, PlannersDep, RequestIdDep, SessionDep
from db import audit
from db import emergency as q
from db.models import RiskMatrixRow, utcnow
from domain.risk import RiskMatrix

router = APIRouter(prefix="/risk-matrix", tags=["risk matrix"])


@router.get("", response_model=RiskMatrix, summary="Impact × likelihood → level (R-5.1.5)")
def get_matrix(_: AnyUserDep, session: SessionDep) -> RiskMatrix:
    return q.matrix(session)


@router.put("", response_model=RiskMatrix)
def set_matrix(body: RiskMatrix, principal: PlannersDep, session: SessionDep, rid: RequestIdDep) -> RiskMatrix:
    row = session.get(RiskMatrixRow, 1) or RiskMatrixRow(id=1, cells={}, priority={})
    data = body.model_dump(mode="json")
    row.cells, row.priority, row.updated_by, row.updated_at = (
        data["cells"],
        data["priority"],
        principal.name,
        utcnow(),
    )
    session.add(row)
    audit.record(session, principal, "risk_matrix.update", "risk_matrix", rid, data)
    session.commit()
    return body


# --- drills ------------------------------------------------------------------------------------------
