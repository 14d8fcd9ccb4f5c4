"""Which connector serves an account: looked up from ``platform_accounts.connector``."""

from __future__ import annotations

from sqlmodel import select

from connectors.base import PlatformConnector, PlatformError
from connectors.credentials import REAUTHORIZE_NEEDED
from db.engine import Database
from db.models import PlatformAccount
from domain.kernel import Platform


class ConnectorRegistry:
    def __init__(self, db: Database, connectors: dict[str, PlatformConnector]) -> None:
        self.db = db
        self.connectors = connectors

    def for_account(self, platform: Platform, account: str) -> PlatformConnector:
        with self.db.session() as session:
            row = session.exec(
                select(PlatformAccount).where(
                    PlatformAccount.platform == platform.value, PlatformAccount.handle == account
                )
            ).first()
        if row is None or not row.active:
            raise PlatformError(f"no active {platform.value} account {account!r} is configured", retryable=False)
        if row.status == REAUTHORIZE_NEEDED:
            # Fail fast: nothing reaches the platform until platform_admin authorizes the account again.
            raise PlatformError(
                f"账号 {platform.value}/{account} 需要重新授权（{row.status_reason or '授权已失效'}）",
                retryable=False,
                code=REAUTHORIZE_NEEDED,
            )
        return self.connector_of(row)

    def connector_of(self, row: PlatformAccount) -> PlatformConnector:
        """The connector serving ``row``, whatever its status (the token keeper needs it)."""
        connector = self.connectors.get(row.connector)
        if connector is None:
            raise PlatformError(f"connector {row.connector!r} is not installed on this worker", retryable=False)
        return connector

    def by_kind(self, kind: str) -> PlatformConnector:
        """A connector by its kind (``sandbox``, ``weibo`` …), for work not tied to one account: drills, search."""
        connector = self.connectors.get(kind)
        if connector is None:
            raise PlatformError(f"connector {kind!r} is not installed on this worker", retryable=False)
        return connector
