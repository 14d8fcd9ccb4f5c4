"""A drill says 【演练】 exactly once — in notifications, in the chat message and on the posted statement —
and its posts follow the platform rules (a Weibo status has no title)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from temporalio.testing import ActivityEnvironment

from activities.emergency import EmergencyActivities
from activities.notify import NotificationActivities
from connectors.notifiers import Message
from connectors.registry import ConnectorRegistry
from connectors.sandbox import SandboxPlatform
from db.engine import Database
from domain.emergency import drill_mark
from domain.emergency_io import StatementPublishInput
from domain.kernel import Platform
from domain.notify_io import NotifyInput
from tests.content_helpers import notifications
from tests.seeds import seed_accounts


def test_the_mark_stands_once_at_the_front() -> None:
    assert drill_mark("应急呼叫：【演练】产品安全谣言") == "【演练】应急呼叫：产品安全谣言"
    assert drill_mark(drill_mark("x")) == "【演练】x"
    assert Message(subject="【演练】季度演练", drill=True).text() == "【演练】季度演练"


def test_a_drill_notification_is_marked_once(sqlite_database: Database) -> None:
    acts = NotificationActivities(sqlite_database, [])
    inp = NotifyInput(
        kind="page",
        subject="应急呼叫：【演练】产品安全谣言",
        dedupe_key="drill-1",
        recipient_role="ops_head",
        drill=True,
    )
    ActivityEnvironment().run(acts.notify, inp)
    (row,) = notifications(sqlite_database, "page")
    assert row.subject.count("【演练】") == 1 and row.subject.startswith("【演练】")


def test_a_drill_statement_on_weibo_has_no_title_and_one_mark(sqlite_database: Database, tmp_path: Path) -> None:
    seed_accounts(sqlite_database)
    sandbox = SandboxPlatform(f"sqlite:///{tmp_path / 'sandbox.db'}")
    acts = EmergencyActivities(sqlite_database, ConnectorRegistry(sqlite_database, {"sandbox": sandbox}))
    inp = StatementPublishInput(
        incident_id=7,
        statement_id=1,
        title="【演练】产品安全谣言",
        text="我们已关注到相关情况，正在核实。",
        channels=["weibo", "wechat_oa"],
        drill=True,
        at=datetime.now(UTC),
    )
    results = ActivityEnvironment().run(acts.publish_statement, inp)
    assert all(r.ok for r in results), results
    (weibo,) = sandbox.all_posts(Platform.weibo)
    assert weibo.title == "" and weibo.text.count("【演练】") == 1
    (wechat,) = sandbox.all_posts(Platform.wechat_oa)
    assert wechat.title.count("【演练】") == 1 and wechat.text.startswith("【演练】")
    sandbox.engine.dispose()


def test_the_hold_summary_describes_the_hold_as_it_stands(sqlite_database: Database) -> None:
    """Was: after a person's release, the summary said active with the release's reason and no incident."""
    from db import crisis_hold
    from db.models import CrisisHold

    with sqlite_database.session() as s:
        crisis_hold.change(s, holder="incident-2", active=True, reason="事件 #2：产品起火", by="lead")
        crisis_hold.change(s, holder=crisis_hold.MANUAL, active=True, reason="人工暂停", by="ops")
        crisis_hold.change(s, holder=crisis_hold.MANUAL, active=False, reason="检查完成", by="ops")
        s.commit()
        mirror = s.get(CrisisHold, 1)
        assert mirror is not None
        assert mirror.active and mirror.reason == "事件 #2：产品起火" and mirror.incident_id == "incident-2"
