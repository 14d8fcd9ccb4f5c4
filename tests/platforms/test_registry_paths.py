"""Everything reaches a real account through the registry (issue 14.7): monitoring's platform search
of a connected account, and a reauthorize_needed account refused there too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from activities.monitoring import MonitoringActivities
from connectors.base import PlatformError, SearchHit
from connectors.credentials import REAUTHORIZE_NEEDED
from connectors.registry import ConnectorRegistry
from db.engine import Database
from db.models import MonitorSource, PlatformAccount
from domain.kernel import Platform


class Searching:
    kind = "searching"

    def __init__(self) -> None:
        self.calls: list[tuple[Platform, list[str]]] = []

    def search(self, platform: Platform, terms: list[str], since: datetime, until: datetime) -> list[SearchHit]:
        self.calls.append((platform, terms))
        return [SearchHit(external_id="h1", text="恒星新品不错")]


def test_monitoring_searches_a_connected_account_through_the_registry(sqlite_database: Database) -> None:
    db = sqlite_database
    with db.session() as s:
        s.add(PlatformAccount(platform="weibo", handle="brand", connector="searching"))
        s.commit()
    conn = Searching()
    acts = MonitoringActivities(db, ConnectorRegistry(db, {"searching": conn}))  # type: ignore[dict-item]
    source = MonitorSource(key="wb", kind="platform", url="account://weibo/brand", name="微博")
    now = datetime.now(UTC)
    items = acts._fetch(source, ["恒星"], now - timedelta(hours=1), now)
    assert [i.text for i in items] == ["恒星新品不错"] and conn.calls == [(Platform.weibo, ["恒星"])]
    with db.session() as s:
        row = s.get(PlatformAccount, 1)
        assert row is not None
        row.status, row.status_reason = REAUTHORIZE_NEEDED, "21327 expired_token"
        s.add(row)
        s.commit()
    with pytest.raises(PlatformError) as exc:
        acts._fetch(source, ["恒星"], now - timedelta(hours=1), now)
    assert exc.value.code == REAUTHORIZE_NEEDED and len(conn.calls) == 1
