"""The content API through the real app, against the time-skipping server and a real worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from connectors.sandbox import SandboxPlatform
from db.accounts import create_user
from db.engine import Database
from domain.roles import Role
from tests.conftest import test_settings
from tests.content_helpers import People, content_worker, seed_people
from tests.seeds import seed_accounts
from tests.waiting import until

pytestmark = pytest.mark.asyncio


class Api:
    def __init__(self, client: httpx.AsyncClient, people: People, db: Database) -> None:
        self.client = client
        self.people = people
        self.db = db

    async def call(self, who: str, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.people.tokens[who]}"} if who else {}
        return await self.client.request(method, path, headers=headers, **kw)

    async def stage(self, cid: int) -> str:
        r = await self.call("ops", "GET", f"/content/{cid}")
        assert r.status_code == 200, r.text
        return str(r.json()["state"]["stage"])

    async def wait_stage(self, cid: int, *stages: str) -> dict[str, Any]:
        async def reached() -> dict[str, Any] | None:
            d = (await self.call("ops", "GET", f"/content/{cid}")).json()
            return dict(d) if d["state"] and d["state"]["stage"] in stages else None

        return dict(await until(reached, f"content {cid} in {stages}", timeout=20))


def new_item(publish_at: datetime, **kw: Any) -> dict[str, Any]:
    body = {
        "goal": "launch",
        "format": "image_text",
        "title": "秋季新品发布",
        "body": "新品首发价 299 元，欢迎体验（详见官网）",
        "media": [
            {
                "kind": "image",
                "uri": "s3://a/cover.jpg",
                "licence": "自有版权",
                "source": "设计部",
                "is_cover": True,
            }
        ],
        "targets": [
            {"platform": "weibo", "account": "brand_weibo"},
            {"platform": "wechat_oa", "account": "brand_wechat"},
        ],
        "publish_at": publish_at.isoformat(),
        "kpi": {"views": 1000},
    }
    body.update(kw)
    return body


@pytest.fixture
async def api(time_skipping: WorkflowEnvironment, database: Database, tmp_path: Path) -> AsyncIterator[Api]:
    """The app on SQLite and on PostgreSQL."""
    sqlite_database = database
    seed_accounts(sqlite_database)
    people = seed_people(sqlite_database)
    sandbox = SandboxPlatform(f"sqlite:///{tmp_path / 'sandbox.db'}")
    async with content_worker(time_skipping.client, sqlite_database, sandbox) as worker:
        settings = test_settings(
            sqlite_database,
            task_queue=worker.task_queue,
            content_sla_business_hours=False,
            sandbox_database_url=f"sqlite:///{tmp_path / 'sandbox.db'}",
        )
        app = create_app(settings, db=sqlite_database, temporal_client=time_skipping.client)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            yield Api(client, people, sqlite_database)
    sandbox.engine.dispose()


async def approve_all(api: Api, cid: int) -> None:
    reviewers = {
        "review_compliance": "rc",
        "review_brand": "brand",
        "review_accuracy": "biz",
        "review_final": "ops",
    }
    decided = ""
    while True:
        detail = await api.wait_stage(cid, *(s for s in reviewers if s != decided), "scheduled")
        stage = detail["state"]["stage"]
        if stage == "scheduled":
            return
        r = await api.call(
            reviewers[stage],
            "POST",
            f"/content/{cid}/reviews",
            json={"stage": stage, "version_hash": detail["version_hash"], "decision": "approve"},
        )
        if r.status_code == 409 and "just taken" in r.json()["message"]:
            decided = stage  # decided by an earlier call; the stage moves once the workflow applies it
            continue
        assert r.status_code == 200, r.text
        decided = stage  # accepted; the stage moves once the workflow has applied it


async def test_review_through_the_api(api: Api, time_skipping: WorkflowEnvironment) -> None:
    now = await time_skipping.get_current_time()
    r = await api.call("creator", "POST", "/content", json=new_item(now + timedelta(days=1)))
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    detail = await api.wait_stage(cid, "draft")
    assert detail["versions"][0]["number"] == 1 and detail["state"]["review_stages"][0] == "review_compliance"

    r = await api.call("creator", "POST", f"/content/{cid}/submit", json={})
    assert r.status_code == 200 and r.json()["submitted"]
    detail = await api.wait_stage(cid, "review_compliance")

    # Awaiting my review: by role, never one's own item.
    async def mine(who: str) -> list[int]:
        return [i["id"] for i in (await api.call(who, "GET", "/reviews/mine")).json()]

    assert await until(lambda: mine("rc"), "the queue follows the process") == [cid]  # it trails a moment
    assert (await api.call("brand", "GET", "/reviews/mine")).json() == []
    assert (await api.call("creator", "GET", "/reviews/mine")).json() == []

    review = {"stage": "review_compliance", "version_hash": detail["version_hash"], "decision": "approve"}
    r = await api.call("creator", "POST", f"/content/{cid}/reviews", json=review)
    assert r.status_code == 403 and r.json()["field"] == "actor"  # holds risk_compliance, but it is theirs
    r = await api.call("brand", "POST", f"/content/{cid}/reviews", json=review)
    assert r.status_code == 403 and r.json()["field"] == "role"
    r = await api.call("rc", "POST", f"/content/{cid}/reviews", json={**review, "stage": "review_final"})
    assert r.status_code == 409 and r.json()["field"] == "stage"
    r = await api.call("rc", "POST", f"/content/{cid}/reviews", json={**review, "version_hash": "0" * 64})
    assert r.status_code == 422 and r.json()["field"] == "version_hash"
    r = await api.call("rc", "POST", f"/content/{cid}/reviews", json=review)
    assert r.status_code == 200 and r.json()["decision"] == "approve"
    await approve_all(api, cid)

    audit = (await api.call("lead", "GET", f"/audit?target=content:{cid}")).json()
    actions = [a["action"] for a in audit]
    assert actions.count("content.review") == 4 and "content.create" in actions and "content.submit" in actions

    ics = await api.call("ops", "GET", "/content/calendar.ics")
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    assert f"UID:content-{cid}@socialops" in ics.text and "BEGIN:VCALENDAR" in ics.text
    assert (await api.call("", "GET", "/content/calendar.ics")).status_code == 401
    feed = (await api.call("brand", "GET", "/content/calendar-feed")).json()["url"].removeprefix(PUBLIC)
    assert (await api.client.get(feed)).status_code == 200
    assert (await api.client.get(feed[:-4] + "abcd")).status_code == 401

    listed = (
        await api.call("brand", "GET", "/content", params={"platform": "weibo", "stage": "scheduled"})
    ).json()
    assert [i["id"] for i in listed] == [cid]
    assert (await api.call("brand", "GET", "/content", params={"platform": "douyin"})).json() == []


async def test_self_check_and_correction_flow(api: Api, time_skipping: WorkflowEnvironment) -> None:
    now = await time_skipping.get_current_time()
    r = await api.call(
        "creator", "POST", "/content", json=new_item(now + timedelta(hours=2), body="太棒了！！！" + "好" * 200)
    )
    cid = r.json()["id"]
    await api.wait_stage(cid, "draft")
    r = await api.call("creator", "POST", f"/content/{cid}/submit", json={})
    assert r.status_code == 422 and r.json()["error"] == "self_check_failed"
    assert any(f["code"] == "text_too_long" for f in r.json()["findings"])
    audit = (await api.call("lead", "GET", f"/audit?target=content:{cid}")).json()
    assert "content.submit" not in [a["action"] for a in audit]  # a refused submission changed nothing

    r = await api.call(
        "creator",
        "POST",
        f"/content/{cid}/versions",
        json={"title": "秋季新品", "body": "新品首发价 299 元", "media": new_item(now)["media"], "note": "缩短"},
    )
    assert r.status_code == 201 and r.json()["number"] == 2
    r = await api.call(
        "creator",
        "POST",
        f"/content/{cid}/corrections",
        json={"body": "x", "reason": "y", "publish_at": (now + timedelta(days=1)).isoformat()},
    )
    assert r.status_code == 409  # nothing published yet to correct
    assert (await api.call("creator", "POST", f"/content/{cid}/submit", json={})).status_code == 200
    await approve_all(api, cid)
    await time_skipping.sleep(timedelta(hours=2, minutes=1))
    await api.wait_stage(cid, "tracking")
    with api.db.session() as ses:
        _, admin = create_user(ses, "sandbox-admin", [Role.platform_admin])
        ses.commit()
    api.people.tokens["pa"] = admin
    r = await api.call("pa", "GET", "/sandbox/posts", params={"platform": "weibo"})
    assert r.status_code == 200, r.text
    weibo = [p for p in r.json() if p["account"] == "brand_weibo"]
    assert len(weibo) == 1 and weibo[0]["status"] == "live" and weibo[0]["title"] == ""  # Weibo has no title
    assert (await api.call("creator", "GET", "/sandbox/posts")).status_code == 403

    later = datetime.now(UTC) + timedelta(days=2)
    r = await api.call(
        "creator",
        "POST",
        f"/content/{cid}/corrections",
        json={
            "title": "更正",
            "body": "更正：首发价为 399 元",
            "reason": "价格写错",
            "publish_at": later.isoformat(),
            "media": new_item(now)["media"],
        },
    )
    assert r.status_code == 201, r.text
    fix = r.json()
    assert fix["corrects_id"] == cid and fix["expedited"]
    detail = await api.wait_stage(fix["id"], "draft")
    assert detail["state"]["review_stages"] == ["review_compliance", "review_final"]
    original = (await api.call("ops", "GET", f"/content/{cid}")).json()
    assert original["corrections"] == [fix["id"]]

    r = await api.call("brand", "POST", f"/content/{cid}/retract", json={"reason": "价格错误"})
    assert r.status_code == 403
    r = await api.call("rc", "POST", f"/content/{cid}/retract", json={"reason": "价格错误"})
    assert r.status_code == 200
    await api.wait_stage(cid, "retracted")


async def test_crisis_hold_api_wakes_held_items(api: Api, time_skipping: WorkflowEnvironment) -> None:
    r = await api.call("rc", "PUT", "/crisis-hold", json={"active": True, "reason": "舆情处置中"})
    assert r.status_code == 200 and r.json()["active"]
    now = await time_skipping.get_current_time()
    cid = (await api.call("creator", "POST", "/content", json=new_item(now + timedelta(hours=1)))).json()["id"]
    await api.wait_stage(cid, "draft")
    await api.call("creator", "POST", f"/content/{cid}/submit", json={})
    await approve_all(api, cid)
    await time_skipping.sleep(timedelta(hours=1, minutes=1))
    await api.wait_stage(cid, "held")
    assert (await api.call("ops", "GET", "/crisis-hold")).json()["held_items"] == [cid]
    r = await api.call("rc", "PUT", "/crisis-hold", json={"active": False, "reason": "事件已平息"})
    assert r.json()["held_items"] == [cid]
    await api.wait_stage(cid, "awaiting_release")
    assert (await api.call("rc", "POST", f"/content/{cid}/release", json={})).status_code == 403
    assert (await api.call("ops", "POST", f"/content/{cid}/release", json={"reason": "确认"})).status_code == 200
    await api.wait_stage(cid, "tracking", "completed")


BAD_INPUTS: list[tuple[str, str, str, Any, str]] = [
    ("creator", "POST", "/content", {**new_item(datetime.now(UTC) + timedelta(days=1)), "goal": "fame"}, "goal"),
    ("creator", "POST", "/content", new_item(datetime.now(UTC) - timedelta(days=1)), "publish_at"),
    ("creator", "POST", "/content", new_item(datetime(2030, 1, 1)), "publish_at"),  # no timezone
    ("creator", "POST", "/content", {**new_item(datetime.now(UTC) + timedelta(days=1)), "targets": []}, "targets"),
    (
        "creator",
        "POST",
        "/content",
        {
            **new_item(datetime.now(UTC) + timedelta(days=1)),
            "targets": [{"platform": "weibo", "account": "nobody"}],
        },
        "targets.0.account",
    ),
    ("creator", "POST", "/content", {**new_item(datetime.now(UTC) + timedelta(days=1)), "body": ""}, "body"),
    (
        "creator",
        "POST",
        "/content",
        {
            **new_item(datetime.now(UTC) + timedelta(days=1)),
            "targets": [{"platform": "weibo", "account": "brand_weibo"}] * 2,
        },
        "targets",
    ),
    (
        "creator",
        "POST",
        "/content",
        {**new_item(datetime.now(UTC) + timedelta(days=1)), "media": [{"kind": "hologram", "uri": "x"}]},
        "media.0.kind",
    ),
    ("creator", "POST", "/content/{cid}/versions", {"body": ""}, "body"),
    ("creator", "POST", "/content/{cid}/submit", {"version_hash": "short"}, "version_hash"),
    (
        "rc",
        "POST",
        "/content/{cid}/reviews",
        {"stage": "review_compliance", "version_hash": "0" * 64, "decision": "maybe"},
        "decision",
    ),
    (
        "rc",
        "POST",
        "/content/{cid}/reviews",
        {"stage": "lunch", "version_hash": "0" * 64, "decision": "approve"},
        "stage",
    ),
    ("rc", "POST", "/content/{cid}/compliance-override", {"version_hash": "0" * 64, "reason": ""}, "reason"),
    ("creator", "POST", "/content/{cid}/reschedule", {"publish_at": "tomorrow"}, "publish_at"),
    ("creator", "POST", "/content/{cid}/reschedule", {"publish_at": "2020-01-01T00:00:00+08:00"}, "publish_at"),
    ("creator", "POST", "/content/{cid}/cancel", {"reason": "x" * 3000}, "reason"),
    ("ops", "POST", "/content/{cid}/retract", {"reason": ""}, "reason"),
    ("creator", "POST", "/content/{cid}/corrections", {"body": "x", "reason": "y"}, "publish_at"),
    ("ops", "GET", "/content?start=yesterday", None, "start"),
    ("ops", "GET", "/content?limit=0", None, "limit"),
    ("ops", "GET", "/content?platform=myspace", None, "platform"),
    ("rc", "PUT", "/crisis-hold", {"active": True}, "reason"),
    ("rc", "POST", "/compliance/terms", {"term": "", "category": "ad_absolute"}, "term"),
    ("rc", "POST", "/compliance/terms", {"term": "最棒", "category": "bad"}, "category"),
]


async def test_bad_input_to_every_endpoint_names_the_field(api: Api, time_skipping: WorkflowEnvironment) -> None:
    now = await time_skipping.get_current_time()
    cid = (await api.call("creator", "POST", "/content", json=new_item(now + timedelta(days=1)))).json()["id"]
    await api.wait_stage(cid, "draft")
    for who, method, path, body, field in BAD_INPUTS:
        r = await api.call(who, method, path.format(cid=cid), json=body)
        assert 400 <= r.status_code < 500, (path, body, r.text)
        assert r.json()["field"] == field, (path, body, r.json())
    r = await api.call("ops", "GET", "/content/99999")
    assert r.status_code == 404
    r = await api.call("creator", "POST", "/content/99999/submit", json={})
    assert r.status_code == 404


PUBLIC = "http://127.0.0.1:8000"  # test settings: no SOCIALOPS_PUBLIC_URL, so http://api_host:api_port


async def test_calendar_feed_keys_are_random_rotatable_and_die_with_the_account(api: Api) -> None:
    """Was: the key was derived from the server secret and the user id (never rotatable, revived with the
    account) and the URL took the request's Host header."""
    from tests.conftest import make_user

    admin = make_user(api.db, "feed-admin", Role.admin)
    spoofed = {"Authorization": f"Bearer {api.people.tokens['brand']}", "Host": "evil.example"}
    first = (await api.client.get("/content/calendar-feed", headers=spoofed)).json()["url"]
    assert first.startswith(f"{PUBLIC}/content/calendar.ics?user=") and "evil" not in first
    assert (await api.call("brand", "GET", "/content/calendar-feed")).json()["url"] == first  # stable
    other = (await api.call("ops", "GET", "/content/calendar-feed")).json()["url"]
    assert other.split("key=")[1] != first.split("key=")[1]
    with api.db.session() as s:
        from sqlmodel import select

        from db.models import User

        row = s.exec(select(User).where(User.name == "brand")).one()
        assert row.feed_key_sealed and first.split("key=")[1] not in row.feed_key_sealed  # sealed at rest
    rotated = (await api.call("brand", "POST", "/content/calendar-feed/rotate")).json()["url"]
    assert rotated != first
    assert (await api.client.get(first.removeprefix(PUBLIC))).status_code == 401
    assert (await api.client.get(rotated.removeprefix(PUBLIC))).status_code == 200

    uid = rotated.split("user=")[1].split("&")[0]
    auth = {"Authorization": f"Bearer {admin}"}
    assert (await api.client.post(f"/users/{uid}/deactivate", headers=auth)).status_code == 200
    assert (await api.client.get(rotated.removeprefix(PUBLIC))).status_code == 401
    assert (await api.client.post(f"/users/{uid}/activate", headers=auth)).status_code == 200
    assert (await api.client.get(rotated.removeprefix(PUBLIC))).status_code == 401  # not revived
