"""Which connector serves an account: looked up from ``platform_accounts.connector``."""

from __future__ import annotations

from sqlmodel import select

from connectors.base import PlatformConnector, PlatformError
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
