"""Users, roles, tokens (admin) and ``/me`` (anyone signed in)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, field_validator
from sqlmodel import select

from api.deps import RequestIdDep, SessionDep, authenticated, require_roles
from api.errors import ApiError, bad_request, conflict, not_found
from db import accounts, audit
from db.accounts import AccountError, Principal
from db.models import ApiToken, User, UserRole
from domain.roles import ROLE_LABELS_ZH, Role

router = APIRouter(tags=["accounts"])
AdminDep = Annotated[Principal, Depends(require_roles(Role.admin))]
AnyUserDep = Annotated[Principal, Depends(authenticated())]


class UserCreate(BaseModel):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    display_name: str = Field(default="", max_length=128)
    roles: list[Role] = Field(min_length=1)


class RolesUpdate(BaseModel):
    roles: list[Role] = Field(min_length=1)

    @field_validator("roles")
    @classmethod
    def _dedupe(cls, v: list[Role]) -> list[Role]:
        return list(dict.fromkeys(v))


class TokenCreate(BaseModel):
    label: str = Field(default="", max_length=128)


class UserPublic(BaseModel):
    id: int
    name: str
    display_name: str
    active: bool
    roles: list[Role]
    created_at: datetime


class UserCreated(BaseModel):
    user: UserPublic
    token: str = Field(description="Shown once; only its hash is stored.")


class TokenCreated(BaseModel):
    token: str
    prefix: str


class RolePublic(BaseModel):
    role: Role
    label_zh: str


def _public(session: SessionDep, user: User) -> UserPublic:
    assert user.id is not None
    return UserPublic(
        id=user.id,
        name=user.name,
        display_name=user.display_name,
        active=user.active,
        roles=accounts.roles_of(session, user.id),
        created_at=user.created_at,
    )


def _user_or_404(session: SessionDep, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise not_found("user", user_id)
    return user


def _active_admin_ids(session: SessionDep) -> set[int]:
    stmt = (
        select(User.id)
        .join(UserRole, UserRole.user_id == User.id)  # type: ignore[arg-type]
        .where(UserRole.role == Role.admin.value, User.active == True)  # noqa: E712
    )
    return {i for i in session.exec(stmt).all() if i is not None}


@router.get("/me", response_model=UserPublic, summary="Who am I (any signed-in user)")
def me(principal: AnyUserDep, session: SessionDep) -> UserPublic:
    return _public(session, _user_or_404(session, principal.user_id))


@router.get("/roles", response_model=list[RolePublic], summary="The roles of the plan (R-3)")
def list_roles(_: AnyUserDep) -> list[RolePublic]:
    return [RolePublic(role=r, label_zh=ROLE_LABELS_ZH[r]) for r in Role]


@router.get("/users", response_model=list[UserPublic])
def list_users(_: AdminDep, session: SessionDep) -> list[UserPublic]:
    return [_public(session, u) for u in session.exec(select(User).order_by(User.id)).all()]  # type: ignore[arg-type]


@router.post("/users", response_model=UserCreated, status_code=201)
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
    return UserCreated(user=_public(session, user), token=token)


@router.get("/users/{user_id}", response_model=UserPublic)
def get_user(user_id: int, _: AdminDep, session: SessionDep) -> UserPublic:
    return _public(session, _user_or_404(session, user_id))


@router.put("/users/{user_id}/roles", response_model=UserPublic)
def set_roles(
    user_id: int, body: RolesUpdate, principal: AdminDep, session: SessionDep, rid: RequestIdDep
) -> UserPublic:
    user = _user_or_404(session, user_id)
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
    return _public(session, user)


@router.post("/users/{user_id}/tokens", response_model=TokenCreated, status_code=201)
def issue_token(
    user_id: int, body: TokenCreate, principal: AdminDep, session: SessionDep, rid: RequestIdDep
) -> TokenCreated:
    user = _user_or_404(session, user_id)
    if not user.active:
        raise conflict(f"user {user_id} is deactivated; reactivate before issuing a token")
    token = accounts.issue_token(session, user_id, body.label)
    audit.record(session, principal, "token.issue", f"user:{user_id}", rid, {"label": body.label})
    session.commit()
    return TokenCreated(token=token, prefix=token[:10])


@router.post("/users/{user_id}/deactivate", response_model=UserPublic)
def deactivate(user_id: int, principal: AdminDep, session: SessionDep, rid: RequestIdDep) -> UserPublic:
    user = _user_or_404(session, user_id)
    if user_id == principal.user_id:
        raise conflict("you cannot deactivate yourself")
    if not user.active:
        return _public(session, user)
    user.active = False
    session.add(user)
    revoked = accounts.revoke_tokens(session, user_id)
    audit.record(session, principal, "user.deactivate", f"user:{user_id}", rid, {"tokens_revoked": revoked})
    session.commit()
    return _public(session, user)


@router.post("/users/{user_id}/activate", response_model=UserPublic)
def activate(user_id: int, principal: AdminDep, session: SessionDep, rid: RequestIdDep) -> UserPublic:
    user = _user_or_404(session, user_id)
    if user.active:
        return _public(session, user)
    user.active = True
    session.add(user)
    audit.record(session, principal, "user.activate", f"user:{user_id}", rid)
    session.commit()
    return _public(session, user)


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
