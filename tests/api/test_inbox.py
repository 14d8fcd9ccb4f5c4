"""The inbox API end to end on the time-skipping server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from connectors.sandbox import SandboxPlatform
from db.accounts import create_user
from db.engine import Database
from domain.kernel import Platform
from domain.roles import Role
from tests.conftest import test_settings
from tests.content_helpers import content_worker
from tests.seeds import seed_accounts
from tests.waiting import until

pytestmark = pytest.mark.asyncio


class Api:
    def __init__(self, client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
        self.client, self.tokens = client, tokens

    async def call(self, who: str, method: str, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}", **kw.pop("headers", {})}
        return await self.client.request(method, path, json=body, headers=headers, **kw)


@pytest.fixture
async def api(
    time_skipping: WorkflowEnvironment, database: Database, tmp_path: Path
) -> AsyncIterator[tuple[Api, SandboxPlatform]]:
    seed_accounts(database)
    tokens = {}
    with database.session() as s:
        for name, roles in {
            "agent": [Role.interaction_agent],
            "lead": [Role.ops_head],
            "pa": [Role.platform_admin],
            "pm": [Role.business_reviewer],
            "mkt": [Role.marketing],
        }.items():
            _, tokens[name] = create_user(s, name, roles)
        s.commit()
    sandbox = SandboxPlatform(f"sqlite:///{tmp_path / 'sandbox.db'}")
    async with content_worker(time_skipping.client, database, sandbox) as worker:
        settings = test_settings(database, task_queue=worker.task_queue)
        app = create_app(settings, db=database, temporal_client=time_skipping.client)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            yield Api(client, tokens), sandbox
    sandbox.engine.dispose()


async def wait(api: Api, item_id: int, check: Any) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        d = (await api.call("agent", "GET", f"/inbox/{item_id}")).json()
        return dict(d) if d.get("state") and check(d) else None

    return dict(await until(reached, f"inbox item {item_id}", timeout=15))


async def _hidden(a: Api) -> list[dict[str, Any]]:
    return list((await a.call("agent", "GET", "/inbox?status=hidden")).json())


async def test_inbox_through_the_api(api: tuple[Api, SandboxPlatform], time_skipping: WorkflowEnvironment) -> None:
    a, sandbox = api
    now = await time_skipping.get_current_time()
    policy = (await a.call("agent", "GET", "/inbox/policy")).json()
    assert policy["sla_hours"]["default"] == 2.0 and "2026-10-01" in policy["calendar"]["holidays"]
    policy["calendar"] = {"start_hour": 0, "end_hour": 24, "workdays": [0, 1, 2, 3, 4, 5, 6]}
    assert (await a.call("agent", "PUT", "/inbox/policy", policy)).status_code == 403
    assert (await a.call("lead", "PUT", "/inbox/policy", policy)).status_code == 200
    r = await a.call(
        "lead",
        "POST",
        "/shifts",
        {
            "user": "agent",
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(days=1)).isoformat(),
        },
    )
    assert r.status_code == 201
    items = {
        "items": [
            {"external_id": "w-1", "kind": "dm", "text": "收到的暖手宝坏了，我要投诉退款", "author": "张三"},
            {"external_id": "w-2", "kind": "comment", "text": "建议出一个粉色款，希望能考虑", "author": "李四"},
            {"external_id": "w-3", "kind": "comment", "text": "加V：hx888888 兼职日赚500", "author": "广告"},
        ]
    }
    assert (await a.call("agent", "POST", "/inbox/ingest/weibo/brand_weibo", items)).status_code == 403
    r = await a.call("pa", "POST", "/inbox/ingest/weibo/brand_weibo", items)
    assert r.status_code == 200 and r.json() == {"received": 3, "new": 3, "starting": 0, "earlier_flagged_spam": 0}
    assert (await a.call("pa", "POST", "/inbox/ingest/weibo/brand_weibo", items)).json()["new"] == 0  # redelivery

    async def mine_with_sla() -> list[dict[str, Any]] | None:
        mine = (await a.call("agent", "GET", "/inbox?mine=true")).json()
        return mine if len(mine) == 2 and all(i["sla_due_at"] for i in mine) else None

    mine = await until(mine_with_sla, "both items assigned to me with their SLA")
    assert {i["intent"] for i in mine} == {"complaint", "suggestion"}
    spam = await until(lambda: _hidden(a), "the spam item hidden by its process")
    assert [i["external_id"] for i in spam] == ["w-3"]
    complaint = next(i for i in mine if i["intent"] == "complaint")
    detail = await wait(a, complaint["id"], lambda d: d["state"]["status"] == "assigned")
    assert detail["reasons"] and detail["state"]["history"][0]["kind"] == "received"

    body = {"text": "非常抱歉，已为您办理退款。"}
    r1 = await a.call("agent", "POST", f"/inbox/{complaint['id']}/reply", body, headers={"Idempotency-Key": "k-1"})
    r2 = await a.call("agent", "POST", f"/inbox/{complaint['id']}/reply", body, headers={"Idempotency-Key": "k-1"})
    assert r1.status_code == 200 and r2.status_code == 200
    assert [p.text for p in sandbox.replies_to(Platform.weibo, "w-1")] == ["非常抱歉，已为您办理退款。"]
    assert (await a.call("mkt", "POST", f"/inbox/{complaint['id']}/reply", body)).status_code == 403
    # Once the reply has closed the item and its process has finished, a retry of the same request still
    # answers with the outcome; a new reply is refused.
    for _ in range(100):
        r = await a.call("agent", "POST", f"/inbox/{complaint['id']}/reply", {"text": "再次回复"})
        if r.status_code == 409 and r.json()["error"] == "process_closed":
            break
        await asyncio.sleep(0.1)
    assert r.status_code == 409 and r.json()["error"] == "process_closed", r.text
    r3 = await a.call("agent", "POST", f"/inbox/{complaint['id']}/reply", body, headers={"Idempotency-Key": "k-1"})
    assert r3.status_code == 200 and r3.json()["status"] == "closed", r3.text
    assert [p.text for p in sandbox.replies_to(Platform.weibo, "w-1")] == ["非常抱歉，已为您办理退款。"]

    suggestion = next(i for i in mine if i["intent"] == "suggestion")
    for who, reason in (
        ("nobody", "no active user 'nobody'"),
        ("mkt", "does not hold the role interaction_agent or ops_head"),
    ):
        r = await a.call("agent", "POST", f"/inbox/{suggestion['id']}/assign", {"user": who})
        assert r.status_code == 422 and r.json()["field"] == "user" and reason in r.json()["message"], r.text
    r = await a.call(
        "agent", "POST", f"/inbox/{suggestion['id']}/feedback", {"category": "功能建议", "department": "product"}
    )
    assert r.status_code == 200
    r = await a.call(
        "agent", "POST", f"/inbox/{suggestion['id']}/feedback", {"category": "x", "department": "product"}
    )
    assert r.status_code == 409
    r = await a.call("agent", "POST", f"/inbox/{suggestion['id']}/reply", {"template": "thanks"})
    assert r.status_code == 200
    fb = (await a.call("pm", "GET", "/feedback?department=product")).json()
    assert len(fb) == 1 and fb[0]["status"] == "open"
    assert (
        await a.call("pm", "POST", f"/feedback/{fb[0]['id']}/resolve", {"outcome": "下季度上线粉色款"})
    ).status_code == 200
    for _ in range(100):
        fb = (await a.call("pm", "GET", "/feedback?department=product")).json()
        if fb[0]["user_told_at"]:
            break
        await asyncio.sleep(0.1)
    assert fb[0]["status"] == "resolved" and fb[0]["user_told_at"]
    replies = [p.text for p in sandbox.replies_to(Platform.weibo, "w-2")]
    assert replies[0].startswith("感谢您的支持") and "下季度上线粉色款" in replies[-1]

    figures = (await a.call("mkt", "GET", "/inbox/figures")).json()
    assert figures["items"] == 3 and figures["by_intent"]["spam"] == 1 and figures["sla_compliance"] == 1.0

    for method, path, body, field in [
        ("agent", f"/inbox/{complaint['id']}/snooze", {"until": "soon"}, "until"),
        ("agent", f"/inbox/{suggestion['id']}/feedback", {"category": "", "department": "product"}, "category"),
        ("lead", "/shifts", {"user": "a", "starts_at": now.isoformat(), "ends_at": now.isoformat()}, "ends_at"),
        ("agent", "/faq", {"question": "", "answer": "x"}, "question"),
        ("agent", f"/inbox/{complaint['id']}/reply", {"text": ""}, "text"),
        ("agent", f"/inbox/{complaint['id']}/reply", {"template": "nope"}, "template"),
        ("lead", "/inbox/policy", {**policy, "sla_hours": {"urgent": 1}}, "sla_hours"),
        ("pa", "/inbox/ingest/weibo/brand_weibo", {"items": [{"external_id": "x", "text": ""}]}, "items.0.text"),
    ]:
        verb = "PUT" if path == "/inbox/policy" else "POST"
        r = await a.call(method, verb, path, body)
        assert 400 <= r.status_code < 500 and r.json()["field"] == field, (path, r.text)
    assert (await a.call("pa", "POST", "/inbox/ingest/weibo/nobody", items)).status_code == 404


async def test_new_account_is_polled(api: tuple[Api, SandboxPlatform], time_skipping: WorkflowEnvironment) -> None:
    from temporalio.client import WorkflowExecutionStatus

    a, _ = api
    r = await a.call("pa", "POST", "/platform-accounts", {"platform": "douyin", "handle": "brand_douyin"})
    assert r.status_code == 201 and r.json()["polling"] == "inbox-poll-douyin-brand_douyin"
    desc = await time_skipping.client.get_workflow_handle(r.json()["polling"]).describe()
    assert desc.status == WorkflowExecutionStatus.RUNNING
    await time_skipping.sleep(timedelta(minutes=16))  # three polls: the sandbox posts every 15 minutes
    for _ in range(100):
        items = (await a.call("agent", "GET", "/inbox?platform=douyin&include_closed=true")).json()
        if items:
            break
        await asyncio.sleep(0.1)
    assert items and all(i["account"] == "brand_douyin" for i in items)


async def test_sla_compliance_counts_breached_unanswered_items(
    api: tuple[Api, SandboxPlatform], database: Database
) -> None:
    """Was: only answered items counted, so an unanswered item past its SLA left compliance at 100 %."""
    from datetime import UTC, datetime, timedelta

    from db.models import Interaction

    a, _ = api
    now = datetime.now(UTC)

    def item(n: int, due: datetime, answered: datetime | None) -> Interaction:
        return Interaction(
            platform="weibo", account="brand_weibo", external_id=f"sla-{n}", kind="comment", text="物流太慢了",
            intent="complaint", sentiment="negative", priority="high", received_at=now - timedelta(hours=5),
            sla_due_at=due, first_response_at=answered,
        )  # fmt: skip

    with database.session() as s:
        s.add(item(1, now - timedelta(hours=3), now - timedelta(hours=4)))  # answered in time
        s.add(item(2, now - timedelta(hours=1), None))  # breached, still unanswered
        s.add(item(3, now + timedelta(hours=1), None))  # not yet due: not decided
        bot = item(4, now + timedelta(hours=1), None)  # acknowledged by the bot off hours: not answered
        bot.first_bot_reply_at, bot.bot_replies = now - timedelta(hours=4, minutes=59), 1
        s.add(bot)
        s.commit()
    figures = (await a.call("mkt", "GET", "/inbox/figures")).json()
    assert figures["sla_compliance"] == 0.5, figures
    assert figures["first_response_median_s"] == 3600.0  # the person's reply only
    assert figures["bot_replies"] == 1 and figures["bot_first_reply_median_s"] == 60.0, figures


async def push_dm(a: Api, external_id: str, text: str, author: str) -> int:
    """Push one DM as platform_admin; its inbox id once it is listed."""
    items = {"items": [{"external_id": external_id, "kind": "dm", "text": text, "author": author}]}
    assert (await a.call("pa", "POST", "/inbox/ingest/weibo/brand_weibo", items)).status_code == 200

    async def listed() -> int | None:
        rows = (await a.call("agent", "GET", "/inbox")).json()
        return next((i["id"] for i in rows if i["external_id"] == external_id), None)

    return int(await until(listed, "the item listed"))


async def test_a_double_click_on_reply_posts_once(api: tuple[Api, SandboxPlatform], database: Database) -> None:
    """Was: two replies sent at once without an Idempotency-Key both went out to the customer."""
    a, sandbox = api
    item_id = await push_dm(a, "dbl-1", "表带断了，能换吗？", "王五")
    await wait(a, item_id, lambda d: d["state"]["status"] in ("assigned", "waiting", "new"))
    body = {"text": "非常抱歉，已为您安排免费更换表带"}
    both = await asyncio.gather(*(a.call("agent", "POST", f"/inbox/{item_id}/reply", body) for _ in range(2)))
    assert sorted(r.status_code for r in both) == [200, 409], [r.text for r in both]
    assert [p.text for p in sandbox.replies_to(Platform.weibo, "dbl-1")].count(body["text"]) == 1
    r = next(r for r in both if r.status_code == 409)
    assert set(r.json()) >= {"error", "message", "field"}  # one error shape


async def test_policy_checks_name_the_end_of_the_holiday_data(api: tuple[Api, SandboxPlatform]) -> None:
    a, _ = api
    checks = (await a.call("agent", "GET", "/inbox/policy/checks")).json()
    assert checks["holidays_cover_until"] == "2026-12-31"  # the shipped 2026 dates
    assert checks["working_hours"] == "周一至周五 9:00–18:00（法定节假日除外）"
    assert checks["calendar_warning"] and "2027" in checks["calendar_warning"]  # within 30 days, or past
    policy = (await a.call("lead", "GET", "/inbox/policy")).json()
    policy["calendar"]["holidays_cover_until"] = "2027-13-01"
    r = await a.call("lead", "PUT", "/inbox/policy", policy)
    assert r.status_code == 422 and r.json()["field"] == "calendar.holidays_cover_until", r.text
    policy["calendar"] |= {"holidays": ["2027-01-01"], "holidays_cover_until": "2099-12-31", "start_hour": 8}
    assert (await a.call("lead", "PUT", "/inbox/policy", policy)).status_code == 200
    checks = (await a.call("agent", "GET", "/inbox/policy/checks")).json()
    assert checks["calendar_warning"] is None and checks["working_hours"].startswith("周一至周五 8:00–18:00")


async def test_an_applied_change_whose_audit_row_fails_says_so(
    api: tuple[Api, SandboxPlatform], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Was: the update was applied, the audit commit failed, and the caller got a bare 500 (or was told
    nothing changed) with no audit row. Now the audit is retried, and if it still fails the answer says the
    change stands."""
    from sqlalchemy.exc import OperationalError

    import api.workflows as door

    a, _ = api
    item_id = await push_dm(a, "aud-1", "发票怎么开？", "赵六")
    await wait(a, item_id, lambda d: d["state"] is not None)
    calls = []

    def locked(*args: Any, **kw: Any) -> None:
        calls.append(args)
        raise OperationalError("INSERT INTO audit_log", {}, Exception("database is locked"))

    monkeypatch.setattr(door, "AUDIT_RETRIES", (0.01, 0.01))
    monkeypatch.setattr(door.audit, "record", locked)
    r = await a.call("agent", "POST", f"/inbox/{item_id}/snooze", {"until": "2099-01-01T00:00:00+08:00"})
    assert r.status_code == 503 and r.json()["error"] == "audit_unavailable", r.text
    assert "was applied" in r.json()["message"] and len(calls) == 3  # tried, and retried twice
    monkeypatch.undo()
    d = await wait(a, item_id, lambda d: d["state"]["snoozed_until"] is not None)
    assert d["state"]["snoozed_until"].startswith("2099-01-01T00:00")  # the change stands, as it said


async def test_an_unknown_status_filter_is_refused(api: tuple[Api, SandboxPlatform]) -> None:
    a, _ = api
    r = await a.call("agent", "GET", "/inbox?status=all")  # was: 200 [] — looked like an empty inbox
    assert r.status_code == 422 and r.json()["field"] == "status" and "hidden" in r.text
    assert (await a.call("agent", "GET", "/inbox?status=hidden")).status_code == 200
