"""What a real connector needs to reach an account: its credentials, and a place to put refreshed tokens.

This is the contract between the connectors (``connectors/<platform>.py``) and the store that keeps
credentials sealed in the database (``db/platform_accounts``). A connector never reads the database and
never logs a secret; it asks the store for an account's ``Credentials`` per call, saves what a token
endpoint returned with ``save_tokens``, and calls ``mark_reauthorize`` when the platform says the grant is
gone for good (Weibo's expired token, Douyin's expired refresh token, a revoked authorization). Publishing
to such an account then fails fast with ``PlatformError(code="reauthorize_needed", retryable=False)``.

Connectors are built by a factory from a ``ConnectorContext``; installed connectors are found through the
``socialops.connectors`` entry-point group, whose entries point at such a factory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from threading import Lock
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, Field, SecretStr

from connectors.base import PlatformConnector, PlatformError
from domain.kernel import Platform

REAUTHORIZE_NEEDED = "reauthorize_needed"


class Credentials(BaseModel):
    """One account's app credentials and current tokens. Every secret is a ``SecretStr``."""

    app_id: str = ""  # Weibo client_id, WeChat appid, Douyin client_key, Kuaishou app_id, WordPress user
    app_secret: SecretStr = SecretStr("")  # client secret / app secret / WordPress application password
    access_token: SecretStr = SecretStr("")
    expires_at: datetime | None = None
    refresh_token: SecretStr = SecretStr("")
    refresh_expires_at: datetime | None = None
    open_id: str = ""  # the platform's id for the authorized user (Weibo uid, Douyin/Kuaishou open_id)
    api_base: str = ""  # empty: the platform's documented host; tests point this at a stub server
    options: dict[str, str] = Field(default_factory=dict)  # per-account knobs (safe domain, site URL …)
    reauthorize_reason: str = ""  # set once the platform refused the grant for good


class TokenGrant(BaseModel):
    """What a token endpoint returned, ready to be stored."""

    access_token: SecretStr
    expires_at: datetime | None = None
    refresh_token: SecretStr | None = None  # None: keep the stored one
    refresh_expires_at: datetime | None = None  # None: keep the stored one (Douyin/Kuaishou inherit it)
    open_id: str = ""


class CredentialStore(Protocol):
    def get(self, platform: Platform, account: str) -> Credentials: ...

    def save_tokens(self, platform: Platform, account: str, grant: TokenGrant) -> Credentials: ...

    def mark_reauthorize(self, platform: Platform, account: str, reason: str) -> None: ...


class MemoryCredentialStore:
    """A process-local store (tests, stub demos). Thread-safe; the real one lives in the database."""

    def __init__(self, initial: Mapping[tuple[Platform, str], Credentials] | None = None) -> None:
        self._rows: dict[tuple[Platform, str], Credentials] = dict(initial or {})
        self._lock = Lock()
        self.reauthorize: dict[tuple[Platform, str], str] = {}

    def put(self, platform: Platform, account: str, creds: Credentials) -> None:
        with self._lock:
            self._rows[(platform, account)] = creds

    def get(self, platform: Platform, account: str) -> Credentials:
        with self._lock:
            creds = self._rows.get((platform, account))
        if creds is None:
            raise PlatformError(f"no credentials for {platform.value} account {account!r}", retryable=False)
        return creds

    def save_tokens(self, platform: Platform, account: str, grant: TokenGrant) -> Credentials:
        with self._lock:
            current = self._rows[(platform, account)]
            updated = apply_grant(current, grant)
            self._rows[(platform, account)] = updated
            return updated

    def mark_reauthorize(self, platform: Platform, account: str, reason: str) -> None:
        with self._lock:
            self.reauthorize[(platform, account)] = reason
            current = self._rows.get((platform, account))
            if current is not None:
                self._rows[(platform, account)] = current.model_copy(update={"reauthorize_reason": reason})


def apply_grant(current: Credentials, grant: TokenGrant) -> Credentials:
    """``current`` with a token endpoint's answer applied (a missing refresh token keeps the stored one)."""
    update: dict[str, object] = {"access_token": grant.access_token, "expires_at": grant.expires_at}
    if grant.refresh_token is not None:
        update["refresh_token"] = grant.refresh_token
    if grant.refresh_expires_at is not None:
        update["refresh_expires_at"] = grant.refresh_expires_at
    if grant.open_id:
        update["open_id"] = grant.open_id
    update["reauthorize_reason"] = ""
    return current.model_copy(update=update)


@dataclass(frozen=True)
class ConnectorContext:
    """What a connector factory receives: the credential store and connector-wide options."""

    credentials: CredentialStore
    options: Mapping[str, str] = field(default_factory=dict)  # from settings, e.g. timeouts, rate budgets


ConnectorFactory = Callable[[ConnectorContext], PlatformConnector]


@runtime_checkable
class OAuthConnector(Protocol):
    """A connector whose platform authorizes accounts with an OAuth authorization-code flow (optional)."""

    def authorize_url(self, account: str, redirect_uri: str, state: str) -> str: ...

    def exchange_code(self, account: str, code: str, redirect_uri: str) -> TokenGrant: ...


@runtime_checkable
class RefreshingConnector(Protocol):
    """A connector that can renew an account's access token without the user (optional).

    ``refresh`` returns the new grant (the caller stores it) or raises ``PlatformError`` with
    ``code=REAUTHORIZE_NEEDED`` when the platform says only the user can grant access again."""

    def refresh(self, account: str) -> TokenGrant: ...


def supports_oauth(connector: object) -> bool:
    return callable(getattr(connector, "authorize_url", None)) and callable(
        getattr(connector, "exchange_code", None)
    )


def supports_refresh(connector: object) -> bool:
    return callable(getattr(connector, "refresh", None))
