"""The incident API end to end (time-skipping), and drill schedules on the dev server."""

from __future__ import annotations

import asyncio
import concurrent.futures
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from connectors.sandbox import SandboxPlatform
from core.registry import Dependencies
from core.temporal import connect
from db.engine import Database
from db.models import Incident, Notification
from tests.conftest import DevServer, test_settings
from tests.content_helpers import content_worker
from tests.emergency_helpers import Team, seed_team
from tests.seeds import seed_accounts
from tests.waiting import until
from worker import build_worker

pytestmark = pytest.mark.asyncio


class Api:
    def __init__(self, client: httpx.AsyncClient, team: Team) -> None:
        self.client, self.team = client, team

    async def call(self, who: str, method: str, path: str, body: Any = None) -> httpx.Response:
        return await self.client.request(
            method, path, json=body, headers={"Authorization": f"Bearer {self.team.tokens[who]}"}
        )

    async def wait(self, iid: int, check: Any, what: str) -> dict[str, Any]:
        async def reached() -> dict[str, Any] | None:
            d = (await self.call("lead", "GET", f"/incidents/{iid}")).json()
            return dict(d) if d.get("state") and check(d) else None

        return dict(await until(reached, what, timeout=20))


@pytest.fixture
async def api(time_skipping: WorkflowEnvironment, database: Database, tmp_path: Path) -> AsyncIterator[Api]:
    seed_accounts(database)
    team = seed_team(database)
    sandbox = SandboxPlatform(f"sqlite:///{tmp_path / 'sandbox.db'}")
    async with content_worker(time_skipping.client, database, sandbox) as worker:
        settings = test_settings(database, task_queue=worker.task_queue)
        app = create_app(settings, db=database, temporal_client=time_skipping.client)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            yield Api(client, team)
    sandbox.engine.dispose()


async def test_incident_through_the_api(api: Api) -> None:
    r = await api.call(
        "reporter",
        "POST",
        "/incidents",
        {
            "title": "门店员工与顾客冲突视频传播",
            "description": "抖音热榜",
            "evidence": [{"url": "https://douyin.com/v/1", "note": "原视频"}],
        },
    )
    assert r.status_code == 201, r.text
    iid = r.json()["id"]
    r = await api.call(
        "ops",
        "POST",
        f"/incidents/{iid}/confirm",
        {"truth": "confirmed", "impact": "moderate", "likelihood": "likely", "scope": "一家门店"},
    )
    assert r.status_code == 403  # route: risk_compliance only
    r = await api.call(
        "rc",
        "POST",
        f"/incidents/{iid}/confirm",
        {"truth": "confirmed", "impact": "moderate", "likelihood": "likely", "scope": "一家门店"},
    )
    assert r.status_code == 200 and r.json()["truth"] == "confirmed"
    d = await api.wait(iid, lambda d: d["stage"] == "assembling", "assembling")
    assert d["state"]["level"] == "medium" and d["level"] == "medium" and d["commander"] == "ops"
    for m in d["state"]["members"]:
        assert (await api.call(m["user"], "POST", f"/incidents/{iid}/acknowledge")).status_code == 200
    assert (await api.call("agent", "POST", f"/incidents/{iid}/acknowledge")).status_code == 403  # not paged

    r = await api.call(
        "mkt",
        "POST",
        f"/incidents/{iid}/statements",
        {"kind": "full", "template_key": "clarification", "values": {"topic": "门店冲突"}},
    )
    assert r.status_code == 422 and r.json()["field"] == "values"
    r = await api.call("mkt", "POST", f"/incidents/{iid}/statements", {"kind": "full", "template_key": "nope"})
    assert r.status_code == 422 and r.json()["field"] == "template_key"
    r = await api.call(
        "mkt",
        "POST",
        f"/incidents/{iid}/statements",
        {
            "kind": "full",
            "template_key": "clarification",
            "channels": ["weibo", "customer_service"],
            "values": {"topic": "门店冲突", "facts": "当事员工已停职调查", "measures": "向顾客当面致歉并加强培训"},
        },
    )
    assert r.status_code == 201, r.text
    stmt = r.json()
    assert "当事员工已停职调查" in stmt["text"]
    r = await api.call(
        "lead", "POST", f"/incidents/{iid}/statements/{stmt['id']}/approve", {"text_hash": stmt["text_hash"]}
    )
    assert r.status_code == 403 and r.json()["field"] == "role"  # medium: ops_head approves
    body = r.json()  # a validator's 403 has the same shape as a route's
    assert body["required_roles"] == ["ops_head"] and "leadership" in body["your_roles"], body
    r = await api.call("ops", "POST", f"/incidents/{iid}/statements/{stmt['id']}/approve", {"text_hash": "0" * 64})
    assert r.status_code == 422 and r.json()["field"] == "text_hash"
    r = await api.call(
        "ops", "POST", f"/incidents/{iid}/statements/{stmt['id']}/approve", {"text_hash": stmt["text_hash"]}
    )
    assert r.status_code == 200 and r.json()["status"] == "approved"
    r = await api.call("ops", "POST", f"/incidents/{iid}/statements/{stmt['id']}/publish")
    assert r.status_code == 200 and r.json()["status"] == "published"

    r = await api.call(
        "ops",
        "POST",
        f"/incidents/{iid}/tasks",
        {"kind": "customer_service", "title": "回访当事顾客", "owner": "agent", "due_in_minutes": 120},
    )
    assert r.status_code == 201
    # a double click: two additions at once are both kept, with distinct numbers (was: one HTTP 500)
    twins = await asyncio.gather(
        *(
            api.call(
                "ops",
                "POST",
                f"/incidents/{iid}/tasks",
                {"kind": "legal", "title": f"法务核查{n}", "owner": "ops", "due_in_minutes": 60},
            )
            for n in (1, 2)
        )
    )
    assert [t.status_code for t in twins] == [201, 201], [t.text for t in twins]
    assert sorted(t.json()["number"] for t in twins) == [2, 3]
    keyed = await asyncio.gather(  # with an Idempotency-Key, a double click (or a retry) adds one task
        *(
            api.client.post(
                f"/incidents/{iid}/tasks",
                json={"kind": "pr", "title": "媒体口径", "owner": "ops", "due_in_minutes": 60, "required": False},
                headers={"Authorization": f"Bearer {api.team.tokens['ops']}", "Idempotency-Key": "task-pr-1"},
            )
            for _ in range(2)
        )
    )
    assert [t.status_code for t in keyed] == [201, 201] and len({t.json()["number"] for t in keyed}) == 1
    for n in (2, 3):
        assert (
            await api.call("ops", "POST", f"/incidents/{iid}/tasks/{n}/complete", {"note": "已核查"})
        ).status_code == 200
    r = await api.call("ops", "POST", f"/incidents/{iid}/resolve", {"summary": "已致歉"})
    assert r.status_code == 422 and r.json()["field"] == "waive_reason"
    r = await api.call("mkt", "POST", f"/incidents/{iid}/tasks/1/complete", {"note": "x"})
    assert r.status_code == 403  # not the owner
    r = await api.call("ops", "POST", f"/incidents/{iid}/tasks/1/complete", {"note": "代为完成"})
    assert r.status_code == 403 and "reassign" in r.json()["message"]  # was: supervisors completed for others
    r = await api.call("agent", "POST", f"/incidents/{iid}/tasks/1/reassign", {"owner": "ops"})
    assert r.status_code == 403  # only the commander, ops_head or leadership hands a task on
    r = await api.call("ops", "POST", f"/incidents/{iid}/tasks/1/reassign", {"owner": "nobody"})
    assert r.status_code == 422 and r.json()["field"] == "owner"
    r = await api.call(
        "ops", "POST", f"/incidents/{iid}/tasks/1/reassign", {"owner": "rc", "note": "改由风控回访"}
    )
    assert r.status_code == 200 and r.json()["owner"] == "rc", r.text
    r = await api.call("ops", "POST", f"/incidents/{iid}/tasks/1/reassign", {"owner": "agent"})
    assert r.status_code == 200 and r.json()["owner"] == "agent"  # and back
    d = await api.wait(iid, lambda d: d["state"]["tasks"][0]["owner"] == "agent", "the state shows the owner")
    assert [e["kind"] for e in d["timeline"]].count("task_reassigned") == 2

    async def told() -> Any:
        mine = (await api.call("rc", "GET", "/notifications")).json()
        return [n for n in mine if n["subject"].startswith("任务转交给你")]

    assert "改由风控回访" in (await until(told, "the new owner was told"))[0]["body"]
    assert (
        await api.call("agent", "POST", f"/incidents/{iid}/tasks/1/complete", {"note": "顾客已接受致歉"})
    ).status_code == 200
    await api.wait(iid, lambda d: d["state"]["tasks"][0]["status"] == "done", "task done")
    r = await api.call("agent", "POST", f"/incidents/{iid}/tasks/1/complete", {"note": "again"})
    assert r.status_code == 409 and r.json()["message"] == "task 1 is already done"
    r = await api.call("agent", "POST", f"/incidents/{iid}/tasks/99/complete", {"note": "x"})
    assert r.status_code == 404 and r.json()["message"] == f"incident {iid} has no task 99"
    r = await api.call(
        "ops",
        "POST",
        f"/incidents/{iid}/tasks",
        {"kind": "legal", "title": "法务核查", "owner": "nobody", "due_in_minutes": 30},
    )
    assert r.status_code == 422 and r.json()["field"] == "owner"
    assert (
        await api.call("ops", "POST", f"/incidents/{iid}/resolve", {"summary": "已致歉，舆情平息"})
    ).status_code == 200
    await api.wait(iid, lambda d: d["state"]["stage"] == "resolved", "resolved")
    r = await api.call(
        "ops",
        "POST",
        f"/incidents/{iid}/postmortem",
        {
            "causes": "x",
            "lessons": "y",
            "action_items": [{"title": "培训", "kind": "training", "owner": "nobody", "due_in_days": 30}],
        },
    )
    assert r.status_code == 422 and r.json()["field"] == "action_items.0.owner", r.text  # was: accepted
    r = await api.call("rc", "POST", f"/incidents/{iid}/postmortem", {"causes": "x", "lessons": "y"})
    assert r.status_code == 403 and "commander or leadership" in r.json()["message"]  # was: risk_compliance too
    r = await api.call(
        "ops",
        "POST",
        f"/incidents/{iid}/postmortem",
        {
            "causes": "门店服务培训不足",
            "lessons": "加强一线服务培训",
            "action_items": [{"title": "全员服务礼仪培训", "kind": "training", "owner": "ops", "due_in_days": 30}],
        },
    )
    assert r.status_code == 200, r.text
    d = await api.wait(iid, lambda d: d["stage"] == "closed", "closed")
    # An action item completed after the incident closed shows as done (was: frozen at "open").
    item = next(t for t in d["state"]["tasks"] if t["kind"] == "action:training")
    r = await api.call("ops", "POST", f"/incidents/{iid}/tasks/{item['number']}/complete", {"note": "已完成培训"})
    assert r.status_code == 200, r.text
    d = await api.wait(
        iid,
        lambda d: next(t for t in d["state"]["tasks"] if t["number"] == item["number"])["status"] == "done",
        "the closed incident shows the action item done",
    )
    kinds = [(e["kind"], e["actor"]) for e in d["timeline"]]
    assert (
        ("reported", "reporter") in kinds
        and ("confirmed", "rc") in kinds
        and ("statement_approved", "ops") in kinds
    )
    assert ("resolved", "ops") in kinds and ("postmortem", "ops") in kinds
    assert all(e["at"] for e in d["timeline"])
    assert (
        d["figures"]["deadlines"]["confirm"] is True
        and d["postmortem"]["action_items"][0]["kind"] == "action:training"
    )
    audit = (await api.call("rc", "GET", f"/audit?target=incident:{iid}")).json()
    assert {"incident.report", "incident.confirm", "incident.statement_approve", "incident.resolve"} <= {
        a["action"] for a in audit
    }


async def test_plans_templates_and_matrix(api: Api) -> None:
    plans = (await api.call("agent", "GET", "/incident-plans")).json()
    assert [p["level"] for p in plans] == ["low", "medium", "high"]
    assert plans[2]["plan"]["commander_role"] == "leadership" and plans[2]["plan"]["crisis_hold"] is True
    revised = dict(plans[0]["plan"], follow_up_every="PT12H")
    r = await api.call("ops", "POST", "/incident-plans/low", {"plan": revised, "note": "x"})
    assert r.status_code == 403
    r = await api.call("rc", "POST", "/incident-plans/medium", {"plan": revised})
    assert r.status_code == 422 and r.json()["field"] == "plan.level"
    r = await api.call("rc", "POST", "/incident-plans/low", {"plan": revised, "note": "缩短更新周期"})
    assert r.status_code == 201 and r.json()["version"] == 2

    r = await api.call(
        "mkt",
        "POST",
        "/statement-templates",
        {
            "key": "recall",
            "scenario": "产品召回",
            "level": "high",
            "title": "召回公告",
            "body": "我们决定召回{product}。",
        },
    )
    assert r.status_code == 201 and r.json()["status"] == "draft" and r.json()["placeholders"] == ["product"]
    iid = (await api.call("rc", "POST", "/incidents", {"title": "t"})).json()["id"]
    await api.call(
        "rc",
        "POST",
        f"/incidents/{iid}/confirm",
        {"truth": "confirmed", "impact": "minor", "likelihood": "possible"},
    )
    await api.wait(iid, lambda d: d["state"]["stage"] in ("assembling", "responding"), "active")
    r = await api.call(
        "ops",
        "POST",
        f"/incidents/{iid}/statements",
        {"kind": "full", "template_key": "recall", "values": {"product": "A"}},
    )
    assert r.status_code == 422 and "approved" in r.json()["message"]  # drafts cannot be used
    assert (await api.call("mkt", "POST", "/statement-templates/recall/versions/1/approve")).status_code == 403
    assert (await api.call("rc", "POST", "/statement-templates/recall/versions/1/approve")).status_code == 200
    r = await api.call(
        "ops",
        "POST",
        f"/incidents/{iid}/statements",
        {"kind": "full", "template_key": "recall", "values": {"product": "A"}},
    )
    assert r.status_code == 201 and r.json()["text"] == "我们决定召回A。"

    matrix = (await api.call("agent", "GET", "/risk-matrix")).json()
    assert matrix["cells"]["severe"]["possible"] == "high"
    matrix["cells"]["minor"]["certain"] = "medium"
    assert (await api.call("rc", "PUT", "/risk-matrix", matrix)).status_code == 200
    del matrix["cells"]["minor"]
    r = await api.call("rc", "PUT", "/risk-matrix", matrix)
    assert r.status_code == 422 and "minor" in r.json()["message"]


async def test_bad_incident_input_names_the_field(api: Api) -> None:
    iid = (await api.call("rc", "POST", "/incidents", {"title": "t"})).json()["id"]
    cases = [
        ("rc", "POST", "/incidents", {"title": ""}, "title"),
        ("rc", "POST", "/incidents", {"title": "x", "evidence": [{"url": ""}]}, "evidence.0.url"),
        (
            "rc",
            "POST",
            f"/incidents/{iid}/confirm",
            {"truth": "maybe", "impact": "minor", "likelihood": "likely"},
            "truth",
        ),
        (
            "rc",
            "POST",
            f"/incidents/{iid}/confirm",
            {"truth": "confirmed", "impact": "huge", "likelihood": "likely"},
            "impact",
        ),
        ("rc", "POST", f"/incidents/{iid}/statements", {"kind": "full"}, "text"),
        ("rc", "POST", f"/incidents/{iid}/statements", {"kind": "rumour", "text": "x"}, "kind"),
        (
            "rc",
            "POST",
            f"/incidents/{iid}/tasks",
            {"kind": "legal", "title": "x", "owner": "rc", "due_in_minutes": 0},
            "due_in_minutes",
        ),
        ("rc", "POST", f"/incidents/{iid}/assess", {"nature": "x", "impact": "major"}, "likelihood"),
        ("rc", "POST", f"/incidents/{iid}/resolve", {"summary": ""}, "summary"),
        ("rc", "POST", f"/incidents/{iid}/members", {"user": "x", "role": "boss"}, "role"),
        ("rc", "POST", f"/incidents/{iid}/members", {"user": "nobody", "role": "marketing"}, "user"),
        ("rc", "POST", f"/incidents/{iid}/members", {"user": "mkt", "role": "leadership"}, "user"),
        ("rc", "POST", f"/incidents/{iid}/hand-over", {"user": "nobody", "role": "ops_head"}, "user"),
        ("rc", "POST", "/drill-schedules", {"key": "Bad Key", "scenario": {"name": "x"}}, "key"),
        ("rc", "PUT", "/risk-matrix", {"cells": {}}, "cells"),
    ]
    for who, method, path, body, field in cases:
        r = await api.call(who, method, path, body)
        assert 400 <= r.status_code < 500, (path, body, r.text)
        assert r.json()["field"].startswith(field), (path, body, r.json())
    assert (await api.call("rc", "GET", "/incidents/9999")).status_code == 404


async def test_drill_schedule_triggered_on_the_dev_server(
    dev_server: DevServer, sqlite_database: Database, tmp_path: Path
) -> None:
    seed_team(sqlite_database)
    settings = test_settings(sqlite_database, temporal_address=dev_server.address)
    client = await connect(settings)
    sandbox = SandboxPlatform(f"sqlite:///{tmp_path / 'sandbox.db'}")
    key = f"q-{uuid.uuid4().hex[:6]}"
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        deps = Dependencies(db=sqlite_database, connectors={"sandbox": sandbox})
        async with build_worker(client, settings.task_queue, deps, ex):
            app = create_app(settings, db=sqlite_database, temporal_client=client)
            with sqlite_database.session() as s:
                from db.accounts import create_user
                from domain.roles import Role

                _, token = create_user(s, "drill-admin", [Role.risk_compliance])
                s.commit()
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://t", headers=headers
            ) as c:
                r = await c.post(
                    "/drill-schedules",
                    json={
                        "key": key,
                        "scenario": {"name": "季度危机演练：产品安全谣言", "duration": "PT3S"},
                        "calendar": {"months": [3, 6, 9, 12], "day_of_month": 15, "hour": 10},
                        "note": "季度演练",
                    },
                )
                assert r.status_code == 201, r.text
                assert r.json()["next_runs"] and not r.json()["paused"]
                assert (
                    await c.post("/drill-schedules", json={"key": key, "scenario": {"name": "x"}})
                ).status_code == 409
                assert (await c.post(f"/drill-schedules/{key}/pause", json={"note": "春节暂停"})).json()["paused"]
                assert not (await c.post(f"/drill-schedules/{key}/unpause", json={})).json()["paused"]
                assert (await c.post(f"/drill-schedules/{key}/trigger")).status_code == 200
                for _ in range(150):
                    drills = (await c.get("/drills")).json()
                    if drills and drills[0]["stage"] == "closed":
                        break
                    await asyncio.sleep(0.2)
                assert drills and drills[0]["stage"] == "closed", drills
                card = drills[0]["scorecard"]
                assert card is not None and "deadlines_met" in card and card["time_to_confirm_s"] is None
                assert drills[0]["title"].startswith("【演练】")
                listed = []
                for _ in range(50):
                    listed = [s["key"] for s in (await c.get("/drill-schedules")).json()]
                    if key in listed:
                        break
                    await asyncio.sleep(0.2)
                assert key in listed
                assert (await c.delete(f"/drill-schedules/{key}")).status_code == 204
                assert (await c.get(f"/drill-schedules/{key}")).status_code == 404
    with sqlite_database.session() as s:
        incident = s.exec(select(Incident).where(Incident.mode == "drill")).one()
        notes = s.exec(select(Notification).where(Notification.ref == f"incident:{incident.id}")).all()
    assert notes and all(n.drill and n.subject.startswith("【演练】") for n in notes)
    sandbox.engine.dispose()


async def test_an_incident_whose_process_has_not_started_says_so(api: Api, database: Database) -> None:
    """A drill's incident row exists a moment before its process: it is listed as starting, and a
    confirmation is a 409 saying so (was: listed as confirming, and "process closed")."""
    from db.emergency import open_incident
    from domain.emergency import DrillScenario, Mode

    with database.session() as s:
        row, _ = open_incident(
            s,
            title="【演练】产品安全谣言",
            description="",
            reported_by="drill-schedule",
            evidence=[],
            mode=Mode.drill,
            drill=DrillScenario(name="产品安全谣言"),
            record_start=False,
        )
        s.commit()
        iid = row.id
    listed = {i["id"]: i for i in (await api.call("rc", "GET", "/incidents")).json()}
    assert listed[iid]["stage"] == "starting"
    r = await api.call(
        "rc",
        "POST",
        f"/incidents/{iid}/confirm",
        {"truth": "confirmed", "impact": "moderate", "likelihood": "likely", "scope": "演练"},
    )
    assert r.status_code == 409 and r.json()["error"] == "process_starting", r.text
