"""Query functions for the connected platform accounts, and the database-backed ``CredentialStore``.

An account's app credentials and tokens are one JSON document sealed with ``credentials_sealer`` and
bound to ``platform-account:{id}`` (a ciphertext copied to another row does not open). The token's
expiry and the account's status (``active`` / ``reauthorize_needed`` + reason + since) are plain columns:
lists and the token-keeper read them without opening anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import SecretStr
from sqlmodel import Session, col, select

from connectors.base import PlatformError
from connectors.credentials import REAUTHORIZE_NEEDED, Credentials, TokenGrant, apply_grant
from core.sealing import Sealer, SealError, credentials_sealer
from db import outbox
from db.engine import Database
from db.models import PlatformAccount, utcnow
from domain import ids
from domain.account_io import TokenKeeperInput, WakeSignal
from domain.kernel import Platform

SECRET_FIELDS = ("app_secret", "access_token", "refresh_token")


class AccountStatus(StrEnum):
    active = "active"
    reauthorize_needed = REAUTHORIZE_NEEDED


def by_handle(session: Session, platform: str, handle: str) -> PlatformAccount | None:
    """The account ``handle`` on ``platform`` (a ``Platform`` value), active or not."""
    return session.exec(
        select(PlatformAccount).where(PlatformAccount.platform == platform, PlatformAccount.handle == handle)
    ).first()


def all_accounts(session: Session) -> list[PlatformAccount]:
    """Every account, in creation order."""
    return list(session.exec(select(PlatformAccount).order_by(col(PlatformAccount.id))).all())


def bound_to(row: PlatformAccount) -> str:
    return f"platform-account:{row.id}"


def _dump(creds: Credentials) -> bytes:
    doc: dict[str, Any] = creds.model_dump(mode="json")
    for name in SECRET_FIELDS:
        doc[name] = getattr(creds, name).get_secret_value()
    return json.dumps(doc, ensure_ascii=False).encode()


def open_credentials(sealer: Sealer, row: PlatformAccount) -> Credentials:
    """The row's credentials (empty ones when none were set); ``SealError`` when they do not open."""
    if not row.credentials_sealed:
        creds = Credentials()
    else:
        creds = Credentials.model_validate(json.loads(sealer.open(row.credentials_sealed, bound_to(row))))
    if row.status == AccountStatus.reauthorize_needed:
        creds = creds.model_copy(update={"reauthorize_reason": row.status_reason})
    return creds


def seal_credentials(sealer: Sealer, row: PlatformAccount, creds: Credentials) -> None:
    """Seal ``creds`` into the row (the caller commits) and copy the token's expiry to its column."""
    assert row.id is not None, "flush the row first: its id binds the ciphertext"
    row.credentials_sealed = sealer.seal(_dump(creds.model_copy(update={"reauthorize_reason": ""})), bound_to(row))
    row.token_expires_at = creds.expires_at


def set_status(row: PlatformAccount, status: AccountStatus, reason: str = "") -> bool:
    """Set the row's status; returns whether it changed (``since`` moves only on a change)."""
    changed = row.status != status.value or row.status_reason != reason
    if changed:
        row.status, row.status_reason = status.value, reason[:500]
        row.status_since = utcnow()
    return changed


def record_token_keeper(session: Session, row: PlatformAccount) -> str:
    """Record (in the caller's transaction) that the account's token keeper must run; its workflow id."""
    assert row.id is not None
    wid = ids.account_tokens(row.platform, row.id)
    inp = TokenKeeperInput(account_id=row.id, platform=Platform(row.platform), handle=row.handle)
    outbox.add_start(
        session,
        wid,
        "AccountTokenWorkflow",
        inp,
        summary=f"令牌维护：{row.platform}/{row.handle}",
        long_lived=True,
    )
    return wid


def record_wake(session: Session, row: PlatformAccount, reason: str) -> None:
    """Wake the token keeper at once (it notifies platform_admin of a grant the platform refused)."""
    assert row.id is not None
    wid = ids.account_tokens(row.platform, row.id)
    inp = TokenKeeperInput(account_id=row.id, platform=Platform(row.platform), handle=row.handle)
    since = row.status_since.isoformat() if row.status_since else ""
    outbox.add_signal(
        session, f"{wid}-wake-{since}", wid, "AccountTokenWorkflow", inp, "wake", WakeSignal(reason=reason[:200])
    )


@dataclass(frozen=True)
class CredentialSummary:
    """What the API may show: whether each secret is set, never the secret."""

    app_id: str
    app_secret_set: bool
    access_token_set: bool
    refresh_token_set: bool
    token_expires_at: datetime | None
    refresh_expires_at: datetime | None
    api_base: str
    options: dict[str, str]
    readable: bool  # False: sealed with another key (run `socialops accounts rotate-key`)


def summary(sealer: Sealer, row: PlatformAccount) -> CredentialSummary:
    try:
        c = open_credentials(sealer, row)
    except SealError:
        return CredentialSummary("", False, False, False, row.token_expires_at, None, "", {}, False)
    return CredentialSummary(
        app_id=c.app_id,
        app_secret_set=bool(c.app_secret.get_secret_value()),
        access_token_set=bool(c.access_token.get_secret_value()),
        refresh_token_set=bool(c.refresh_token.get_secret_value()),
        token_expires_at=c.expires_at,
        refresh_expires_at=c.refresh_expires_at,
        api_base=c.api_base,
        options=dict(c.options),
        readable=True,
    )


class DbCredentialStore:
    """The ``CredentialStore`` connectors use on the worker and in the API: sealed rows in the database."""

    def __init__(self, db: Database, secret_key: SecretStr | str) -> None:
        self.db = db
        self.sealer = credentials_sealer(secret_key)

    def _row(self, session: Session, platform: Platform, account: str) -> PlatformAccount:
        row = by_handle(session, platform.value, account)
        if row is None:
            raise PlatformError(f"no {platform.value} account {account!r} is configured", retryable=False)
        return row

    def get(self, platform: Platform, account: str) -> Credentials:
        with self.db.session() as session:
            row = self._row(session, platform, account)
            try:
                return open_credentials(self.sealer, row)
            except SealError as exc:
                raise PlatformError(
                    f"the credentials of {platform.value} account {account!r} do not open with the current "
                    "SOCIALOPS_SECRET_KEY (run `socialops accounts rotate-key`)",
                    retryable=False,
                    code="credentials_unreadable",
                ) from exc

    def save_tokens(self, platform: Platform, account: str, grant: TokenGrant) -> Credentials:
        with self.db.session() as session:
            row = self._row(session, platform, account)
            updated = apply_grant(open_credentials(self.sealer, row), grant)
            seal_credentials(self.sealer, row, updated)
            set_status(row, AccountStatus.active)
            session.add(row)
            session.commit()
            return updated

    def mark_reauthorize(self, platform: Platform, account: str, reason: str) -> None:
        with self.db.session() as session:
            row = self._row(session, platform, account)
            if set_status(row, AccountStatus.reauthorize_needed, reason or "授权已失效，需要重新授权"):
                session.add(row)
                record_wake(session, row, reason)  # the keeper notifies platform_admin
                session.commit()

    def status(self, platform: Platform, account: str) -> tuple[str, str]:
        with self.db.session() as session:
            row = self._row(session, platform, account)
            return row.status, row.status_reason


@dataclass
class RotationResult:
    resealed: int = 0
    already_current: int = 0
    empty: int = 0
    unreadable: list[int] | None = None


def rotate_key(session: Session, old_key: SecretStr | str, new_key: SecretStr | str) -> RotationResult:
    """Re-seal every account's credentials from ``old_key`` to ``new_key`` (the caller commits).

    Idempotent: a row that already opens with the new key is left as it is, so a second run (or a run
    interrupted half-way and repeated) changes nothing more. Rows that open with neither key are listed.
    """
    old, new = credentials_sealer(old_key), credentials_sealer(new_key)
    result = RotationResult(unreadable=[])
    for row in all_accounts(session):
        if not row.credentials_sealed:
            result.empty += 1
            continue
        try:
            new.open(row.credentials_sealed, bound_to(row))
            result.already_current += 1
            continue
        except SealError:
            pass
        try:
            plain = old.open(row.credentials_sealed, bound_to(row))
        except SealError:
            assert result.unreadable is not None
            result.unreadable.append(row.id or 0)
            continue
        row.credentials_sealed = new.seal(plain, bound_to(row))
        session.add(row)
        result.resealed += 1
    return result
