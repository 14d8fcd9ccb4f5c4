"""SQLModel tables. Schema changes go through Alembic (db/migrations), never ``create_all`` in production."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every backend (SQLite hands back naive datetimes otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a timezone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, **kw))


def _ts_optional() -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True, index=True)
    display_name: str = Field(default="", max_length=128)
    active: bool = Field(default=True)
    created_at: datetime = _ts()


class UserRole(SQLModel, table=True):
    __tablename__ = "user_roles"
    __table_args__ = (UniqueConstraint("user_id", "role", name="uq_user_roles_user_role"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    role: str = Field(max_length=32)


class ApiToken(SQLModel, table=True):
    """Bearer tokens, stored only as SHA-256 hashes; ``prefix`` lets people tell tokens apart."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    token_hash: str = Field(max_length=64, unique=True, index=True)
    prefix: str = Field(max_length=16)
    label: str = Field(default="", max_length=128)
    created_at: datetime = _ts()
    last_used_at: datetime | None = _ts_optional()
    revoked_at: datetime | None = _ts_optional()


class AuditLog(SQLModel, table=True):
    """Append-only: a database trigger refuses UPDATE and DELETE (see the first migration)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_target", "target"), Index("ix_audit_log_at", "at"))

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts()
    actor_id: int | None = Field(default=None)
    actor_name: str = Field(max_length=64)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    action: str = Field(max_length=64, index=True)
    target: str = Field(max_length=128)
    request_id: str = Field(default="", max_length=64)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
