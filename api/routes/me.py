"""The caller: ``/me``, the plan's ``/roles``, and ``/tokens/revoke-mine`` (no common prefix: each is one route about the caller's own session)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import AnyUserDep, RequestIdDep, SessionDep
from api.errors import ApiError
from api.resources import user_record
from api.schemas.users import RolePublic, UserPublic
from db import audit
from db.models import ApiToken
from domain.roles import ROLE_LABELS_ZH, Role

router = APIRouter(tags=["me"])


@router.get("/me", response_model=UserPublic, summary="Who am I (any signed-in user)")
def me(principal: AnyUserDep, session: SessionDep) -> UserPublic:
    return UserPublic.of(session, user_record(principal.user_id, session))


@router.get("/roles", response_model=list[RolePublic], summary="The roles of the plan (R-3)")
def list_roles(_: AnyUserDep) -> list[RolePublic]:
    return [RolePublic(role=r, label_zh=ROLE_LABELS_ZH[r]) for r in Role]


@router.post("/tokens/revoke-mine", summary="Revoke the token used for this call")
def revoke_my_token(principal: AnyUserDep, session: SessionDep, rid: RequestIdDep) -> dict[str, bool]:
    row = session.get(ApiToken, principal.token_id) if principal.token_id else None
    if row is None:
        raise ApiError(400, "no_token", "this call was not made with a stored token")
    from db.models import utcnow

    row.revoked_at = utcnow()
    session.add(row)
    audit.record(session, principal, "token.revoke", f"token:{row.id}", rid)
    session.commit()
    return {"revoked": True}
