"""Request and response bodies of the ``users`` routes: *Create / *Update for what comes in, *Public for what goes out."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, field_validator
from sqlmodel import Session

from db import accounts
from db.models import User
from domain.roles import Role


class UserPublic(BaseModel):
    id: int
    name: str
    display_name: str
    active: bool
    roles: list[Role]
    created_at: datetime

    @classmethod
    def of(cls, session: Session, user: User) -> UserPublic:
        assert user.id is not None
        return cls(
            id=user.id,
            name=user.name,
            display_name=user.display_name,
            active=user.active,
            roles=accounts.roles_of(session, user.id),
            created_at=user.created_at,
        )


class RolePublic(BaseModel):
    role: Role
    label_zh: str


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


class UserCreated(BaseModel):
    user: UserPublic
    token: str = Field(description="Shown once; only its hash is stored.")


class TokenCreated(BaseModel):
    token: str
    prefix: str


class TokenPublic(BaseModel):
    """A token as people may see it: never the token itself."""

    id: int
    prefix: str
    label: str
    created_at: datetime
    last_used_at: datetime | None  # to the minute
    revoked_at: datetime | None
