"""The campaign API through the real app, against the time-skipping server and a real worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from connectors.sandbox import SandboxPlatform
from db.engine import Database
from domain.campaign import verify_draw
from tests.campaign_helpers import good_plan
from tests.campaign_workflow_helpers import SECRET_KEY, campaign_worker, seed_tokens
from tests.conftest import test_settings
from tests.waiting import until

pytestmark = pytest.mark.asyncio


class Api:
    def __init__(self, client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens

    async def call(self, who: str, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return await self.client.request(method, path, headers=headers, **kw)

    async def wait_stage(self, cid: int, *stages: str) -> dict[str, Any]:
        async def reached() -> dict[str, Any] | None:
            r = await self.call("ops", "GET", f"/campaigns/{cid}")
            assert r.status_code == 200, r.text
            return dict(r.json()) if r.json()["state"] and r.json()["state"]["stage"] in stages else None

        return dict(await until(reached, f"campaign {cid} in {stages}", timeout=20))


@pytest.fixture
async def api(time_skipping: WorkflowEnvironment, database: Database, tmp_path: Path) -> AsyncIterator[Api]:
    """The app on SQLite and on PostgreSQL."""
    tokens = seed_tokens(database)
    sandbox = SandboxPlatform(f"sqlite:///{tmp_path / 'sandbox.db'}")
    async with campaign_worker(time_skipping.client, database, sandbox) as worker:
        settings = test_settings(database, task_queue=worker.task_queue, secret_key=SECRET_KEY)
        app = create_app(settings, db=database, temporal_client=time_skipping.client)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            yield Api(client, tokens)
    sandbox.engine.dispose()


def body(now: datetime, **kw: Any) -> dict[str, Any]:
    return good_plan(now, **kw).model_dump(mode="json")


async def test_bad_input_names_the_field(api: Api, time_skipping: WorkflowEnvironment) -> None:
    now = await time_skipping.get_current_time()
    cases = [
        ({"close_at": "2026-12-05T10:00:00"}, "close_at"),  # no time zone
        ({"prizes": [{"name": "耳机", "quantity": -1}]}, "prizes.0.quantity"),
        ({"entry_methods": ["carrier_pigeon"]}, "entry_methods.0"),
        ({"accounts": [{"platform": "weibo", "account": "nobody"}]}, "accounts.0.account"),
    ]
    for change, field in cases:
        data = body(now)
        data.update(change)
        r = await api.call("owner", "POST", "/campaigns", json=data)
        assert r.status_code == 422, r.text
        assert r.json()["field"] == field, r.json()
    r = await api.call("agent", "POST", "/campaigns", json=body(now))
    assert r.status_code == 403 and "marketing" in r.json()["required_roles"]


async def test_checklist_preview_gives_reasons(api: Api, time_skipping: WorkflowEnvironment) -> None:
    now = await time_skipping.get_current_time()
    data = body(now)
    data["rules_text"] += "本活动最终解释权归本公司所有。"
    data["draw_at"] = None
    r = await api.call("owner", "POST", "/campaigns/checklist", json=data)
    assert r.status_code == 200, r.text
    found = {f["code"]: f for f in r.json()["findings"]}
    assert {"final_interpretation_clause", "no_draw_time"} <= set(found) and r.json()["blocking"]
    assert "解释权" in found["final_interpretation_clause"]["reason"]


async def test_submit_review_entries_and_public_proofs(api: Api, time_skipping: WorkflowEnvironment) -> None:
    env = time_skipping
    now = await env.get_current_time()
    data = body(now)
    data["rules_text"] += "最终解释权归主办方所有。"
    r = await api.call("owner", "POST", "/campaigns", json=data)
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    await api.wait_stage(cid, "draft")
    r = await api.call("owner", "POST", f"/campaigns/{cid}/submit")
    assert r.status_code == 422 and r.json()["error"] == "checklist_failed"
    assert r.json()["field"] == "rules_text" and r.json()["findings"]
    r = await api.call("owner", "PUT", f"/campaigns/{cid}/plan", json=body(now))
    assert r.status_code == 200, r.text
    assert (await api.call("owner", "POST", f"/campaigns/{cid}/submit")).status_code == 200
    detail = await api.wait_stage(cid, "review_compliance")
    plan_hash = detail["state"]["plan_hash"]
    review = {"stage": "review_compliance", "plan_hash": plan_hash, "decision": "approve"}
    r = await api.call("owner", "POST", f"/campaigns/{cid}/reviews", json=review)
    assert r.status_code == 403  # the owner also holds risk_compliance, but it is their own campaign
    r = await api.call("rc", "POST", f"/campaigns/{cid}/reviews", json={**review, "plan_hash": "0" * 64})
    assert r.status_code == 422 and r.json()["field"] == "plan_hash"
    assert (await api.call("rc", "POST", f"/campaigns/{cid}/reviews", json=review)).status_code == 200
    await api.wait_stage(cid, "approved")  # budget below the leadership threshold

    entry = {"platform": "weibo", "user": "fan1", "method": "comment", "external_id": "c1"}
    r = await api.call(
        "agent", "POST", f"/campaigns/{cid}/entries", json={"entries": [{**entry, "at": now.isoformat()}]}
    )
    assert r.status_code == 409  # not running yet
    await env.sleep(timedelta(hours=1, minutes=1))
    await api.wait_stage(cid, "running")
    t = await env.get_current_time()
    r = await api.call(
        "agent", "POST", f"/campaigns/{cid}/entries", json={"entries": [{**entry, "at": "2026-12-01T10:00"}]}
    )
    assert r.status_code == 422 and r.json()["field"] == "entries.0.at"
    batch = [{**entry, "user": f"fan{i}", "external_id": f"c{i}", "at": (t + timedelta(minutes=i)).isoformat(),
              "account_created_at": "2020-01-01T00:00:00+08:00"} for i in range(5)]  # fmt: skip
    r = await api.call("agent", "POST", f"/campaigns/{cid}/entries", json={"entries": batch})
    assert r.json() == {"stored": 5, "already_known": 0}
    r = await api.call("agent", "POST", f"/campaigns/{cid}/entries", json={"entries": batch[:2]})
    assert r.json() == {"stored": 0, "already_known": 2}
    r = await api.call("lead", "GET", f"/campaigns/{cid}/figures")
    assert r.json()["entries"] == 5 and r.json()["people"] == 5

    # public artefacts: no token needed
    r = await api.call("", "GET", "/campaigns/verify_draw.py")
    assert r.status_code == 200 and "def verify(" in r.text
    assert (await api.call("", "GET", f"/campaigns/{cid}/draw.json")).status_code == 409
    await env.sleep(timedelta(days=3))
    detail = await api.wait_stage(cid, "frozen")
    r = await api.call("", "GET", f"/campaigns/{cid}/proof", params={"entrant": "weibo:fan3"})
    assert r.status_code == 200, r.text
    p = r.json()
    assert p["root"] == detail["root"] and p["n"] == 5
    assert verify_draw.verify_inclusion(
        bytes.fromhex(p["leaf_hash"]), p["index"], p["n"], [bytes.fromhex(x) for x in p["proof"]],
        bytes.fromhex(p["root"]),
    )  # fmt: skip
    r = await api.call("", "GET", f"/campaigns/{cid}/proof", params={"entrant": "weibo:stranger"})
    assert r.status_code == 404 and r.json()["field"] == "entrant"
    r = await api.call(
        "rc", "POST", f"/campaigns/{cid}/beacon", json={"round": 1, "randomness": "zz", "evidence": "x"}
    )
    assert r.status_code == 422 and r.json()["field"] == "randomness"
