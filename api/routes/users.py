"""``/users`` — people, their roles and API tokens (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import RequestIdDep, SessionDep, require_roles
from api.errors import bad_request, conflict
from api.params import PathId
from api.resources import user_record
from api.schemas.users import (
    RolesUpdate,
    TokenCreate,
    TokenCreated,
    TokenPublic,
    UserCreate,
    UserCreated,
    UserPublic,
)
from db import accounts, audit
from db.accounts import AccountError, Principal
from domain.roles import Role

router = APIRouter(prefix="/users", tags=["users"])

AdminDep = Annotated[Principal, Depends(require_roles(Role.admin))]


def _active_admin_ids(session: SessionDep) -> set[int]:
    return accounts.active_admin_ids(session)


@router.get("", response_model=list[UserPublic])
def list_users(_: AdminDep, session: SessionDep) -> list[UserPublic]:
    return [UserPublic.of(session, u) for u in accounts.all_users(session)]


@router.post("", response_model=UserCreated, status_code=201)
def create_user(body: UserCreate, principal: AdminDep, session: SessionDep, rid: RequestIdDep) -> UserCreated:
    try:
        user, token = accounts.create_user(session, body.name, list(dict.fromkeys(body.roles)), body.display_name)
    except AccountError as exc:
        if "already exists" in exc.reason:
            raise conflict(str(exc), field=exc.field) from None
        raise bad_request(exc.field, exc.reason) from None
    audit.record(
        session,
        principal,
        "user.create",
        f"user:{user.id}",
        rid,
        {"name": user.name, "roles": [r.value for r in body.roles]},
    )
    session.commit()
    return UserCreated(user=UserPublic.of(session, user), token=token)


@router.get("/{user_id}", response_model=UserPublic)
def get_user(user_id: PathId, _: AdminDep, session: SessionDep) -> UserPublic:
    return UserPublic.of(session, user_record(user_id, session))


@router.put("/{user_id}/roles", response_model=UserPublic)
def set_roles(
    user_id: PathId, body: RolesUpdate, principal: AdminDep, session: SessionDep, rid: RequestIdDep
) -> UserPublic:
    user = user_record(user_id, session)
    before = accounts.roles_of(session, user_id)
    if Role.admin in before and Role.admin not in body.roles and _active_admin_ids(session) == {user_id}:
        raise conflict("this is the last active admin; give another user the admin role first", field="roles")
    accounts.set_roles(session, user_id, body.roles)
    audit.record(
        session,
        principal,
        "user.set_roles",
        f"user:{user_id}",
        rid,
        {"before": [r.value for r in before], "after": [r.value for r in body.roles]},
    )
    session.commit()
    return UserPublic.of(session, user)


@router.get("/{user_id}/tokens", response_model=list[TokenPublic], summary="The user's tokens, with last use")
def list_tokens(user_id: int, _: AdminDep, session: SessionDep) -> list[TokenPublic]:
    user_record(user_id, session)
    return [TokenPublic.model_validate(t, from_attributes=True) for t in accounts.tokens_of(session, user_id)]


@router.post("/{user_id}/tokens", response_model=TokenCreated, status_code=201)
def issue_token(
    user_id: PathId, body: TokenCreate, principal: AdminDep, session: SessionDep, rid: RequestIdDep
) -> TokenCreated:
    user = user_record(user_id, session)
    if not user.active:
        raise conflict(f"user {user_id} is deactivated; reactivate before issuing a token")
    token = accounts.issue_token(session, user_id, body.label)
    audit.record(session, principal, "token.issue", f"user:{user_id}", rid, {"label": body.label})
    session.commit()
    return TokenCreated(token=token, prefix=token[:10])


@router.post("/{user_id}/deactivate", response_model=UserPublic)
def deactivate(user_id: PathId, principal: AdminDep, session: SessionDep, rid: RequestIdDep) -> UserPublic:
    user = user_record(user_id, session)
    if user_id == principal.user_id:
        raise conflict("you cannot deactivate yourself")
    if not user.active:
        return UserPublic.of(session, user)
    user.active = False
    session.add(user)
    revoked = accounts.revoke_tokens(session, user_id)
    feed = accounts.revoke_feed_key(session, user)
    audit.record(
        session,
        principal,
        "user.deactivate",
        f"user:{user_id}",
        rid,
        {"tokens_revoked": revoked, "calendar_feed_revoked": feed},
    )
    session.commit()
    return UserPublic.of(session, user)


@router.post("/{user_id}/activate", response_model=UserPublic)
def activate(user_id: PathId, principal: AdminDep, session: SessionDep, rid: RequestIdDep) -> UserPublic:
    user = user_record(user_id, session)
    if user.active:
        return UserPublic.of(session, user)
    user.active = True
    session.add(user)
    audit.record(session, principal, "user.activate", f"user:{user_id}", rid)
    session.commit()
    return UserPublic.of(session, user)
