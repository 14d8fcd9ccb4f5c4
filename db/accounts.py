"""Users, roles and API tokens: query functions shared by the API and the CLI."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from db.models import ApiToken, User, UserRole, utcnow
from domain.roles import Role

TOKEN_PREFIX = "sop_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, as the API and the workflow validators see it."""

    user_id: int
    name: str
    roles: frozenset[Role]
    token_id: int | None = None

    def has_any(self, roles: frozenset[Role] | set[Role]) -> bool:
        return bool(self.roles & roles)

    @property
    def role_names(self) -> list[str]:
        return sorted(r.value for r in self.roles)


class AccountError(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def roles_of(session: Session, user_id: int) -> list[Role]:
    rows = session.exec(select(UserRole.role).where(UserRole.user_id == user_id)).all()
    return sorted((Role(r) for r in rows if r in Role.__members__), key=lambda r: r.value)


def get_user_by_name(session: Session, name: str) -> User | None:
    return session.exec(select(User).where(User.name == name)).first()


def create_user(
    session: Session, name: str, roles: list[Role], display_name: str = "", token_label: str = "initial"
) -> tuple[User, str]:
    """Create a user with roles and a first token. Returns the plaintext token (shown once). No commit."""
    name = name.strip()
    if not name:
        raise AccountError("name", "must not be empty")
    if not roles:
        raise AccountError("roles", "at least one role is required")
    if get_user_by_name(session, name) is not None:
        raise AccountError("name", f"a user named {name!r} already exists")
    user = User(name=name, display_name=display_name or name)
    session.add(user)
    session.flush()
    assert user.id is not None
    for role in roles:
        session.add(UserRole(user_id=user.id, role=role.value))
    token = issue_token(session, user.id, token_label)
    return user, token


def issue_token(session: Session, user_id: int, label: str = "") -> str:
    token = new_token()
    session.add(
        ApiToken(user_id=user_id, token_hash=hash_token(token), prefix=token[: len(TOKEN_PREFIX) + 6], label=label)
    )
    session.flush()
    return token


def set_roles(session: Session, user_id: int, roles: list[Role]) -> None:
    if not roles:
        raise AccountError("roles", "at least one role is required")
    for row in session.exec(select(UserRole).where(UserRole.user_id == user_id)).all():
        session.delete(row)
    session.flush()
    for role in roles:
        session.add(UserRole(user_id=user_id, role=role.value))
    session.flush()


def tokens_of(session: Session, user_id: int) -> list[ApiToken]:
    return list(session.exec(select(ApiToken).where(ApiToken.user_id == user_id).order_by(col(ApiToken.id))).all())


def revoke_tokens(session: Session, user_id: int) -> int:
    rows = session.exec(
        select(ApiToken).where(ApiToken.user_id == user_id, col(ApiToken.revoked_at).is_(None))
    ).all()
    now = utcnow()
    for row in rows:
        row.revoked_at = now
        session.add(row)
    session.flush()
    return len(rows)


FEED_PURPOSE = "calendar-feed-key"


def feed_key(session: Session, user: User, secret_key: str, *, rotate: bool = False) -> str:
    """The user's calendar feed key: random, sealed at rest; made on first use (or ``rotate``), so a
    deactivated user's key, once revoked, never comes back (a reactivated user gets a new one)."""
    from core.sealing import Sealer

    sealer = Sealer(secret_key, FEED_PURPOSE)
    if user.feed_key_sealed and not rotate:
        return sealer.open(user.feed_key_sealed, f"user:{user.id}").decode()
    key = secrets.token_urlsafe(24)
    user.feed_key_sealed = sealer.seal(key.encode(), f"user:{user.id}")
    session.add(user)
    session.flush()
    return key


def feed_key_matches(user: User, key: str, secret_key: str) -> bool:
    from core.sealing import Sealer, SealError

    if not user.active or not user.feed_key_sealed:
        return False
    try:
        expected = Sealer(secret_key, FEED_PURPOSE).open(user.feed_key_sealed, f"user:{user.id}")
    except SealError:
        return False
    return secrets.compare_digest(key.encode(), expected)


def revoke_feed_key(session: Session, user: User) -> bool:
    had = bool(user.feed_key_sealed)
    user.feed_key_sealed = ""
    session.add(user)
    return had


LAST_USED_GRANULARITY = timedelta(minutes=1)


def authenticate(session: Session, token: str) -> Principal | None:
    """Resolve a bearer token to an active user's principal, or ``None``."""
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).first()
    if row is None or row.revoked_at is not None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active or user.id is None:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_GRANULARITY:
        row.last_used_at = now  # at most one write a minute per token, not one per request
        session.add(row)
        try:
            session.commit()
        except OperationalError:  # a busy database must not refuse a valid token
            session.rollback()
    return Principal(user_id=user.id, name=user.name, roles=frozenset(roles_of(session, user.id)), token_id=row.id)


def authenticate_token_id(session: Session, token_id: int) -> tuple[Principal, str] | None:
    """The principal behind a stored token (by id) and the token's hash, or ``None`` once it is revoked or
    its user deactivated — for credentials derived from a token, such as the codec sign-in cookie."""
    row = session.get(ApiToken, token_id)
    if row is None or row.revoked_at is not None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active or user.id is None:
        return None
    principal = Principal(
        user_id=user.id, name=user.name, roles=frozenset(roles_of(session, user.id)), token_id=row.id
    )
    return principal, row.token_hash


def count_users(session: Session) -> int:
    return len(session.exec(select(User.id)).all())


def active_admin_ids(session: Session) -> set[int]:
    """Ids of the active users holding the admin role."""
    stmt = (
        select(User.id)
        .join(UserRole, UserRole.user_id == User.id)  # type: ignore[arg-type]
        .where(UserRole.role == Role.admin.value, User.active == True)  # noqa: E712
    )
    return {i for i in session.exec(stmt).all() if i is not None}


def all_users(session: Session) -> list[User]:
    """Every user, by id."""
    return list(session.exec(select(User).order_by(User.id)).all())  # type: ignore[arg-type]
