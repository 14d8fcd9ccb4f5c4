"""Record and process never disagree: a start lost after the commit is made good by the reconciler, once.

Runs on the dev server (Schedules and visibility): the immediate start after each commit is killed, the
API still answers 201 and says the process is starting, and the reconciler Schedule starts every item —
and starting it again (a reconciler that crashed after the start, before marking it) finds the same run.
"""

from __future__ import annotations

import concurrent.futures
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, select
from temporalio.client import Client

from api.app import create_app
from connectors.sandbox import SandboxPlatform
from core import dispatch
from core.registry import Dependencies
from core.temporal import connect, ensure_search_attributes
from db.accounts import create_user
from db.engine import Database
from db.models import ProcessStart
from domain import ids
from domain.ids import RECONCILER_SCHEDULE
from domain.roles import Role
from tests.api.test_content import new_item
from tests.conftest import ISOLATED_NAMESPACE, DevServer, test_settings
from tests.emergency_helpers import seed_team
from tests.seeds import seed_accounts
from tests.waiting import until
from worker import build_worker

pytestmark = pytest.mark.asyncio


def _backdate_pending(db: Database, *, rearm: list[str] | None = None) -> None:
    """Make pending rows older than the reconciler's grace; ``rearm``: forget these were dispatched."""
    with db.session() as s:
        for row in s.exec(select(ProcessStart)).all():
            if rearm is not None and row.key in rearm:
                row.dispatched_at = None
            if row.dispatched_at is None:
                row.created_at = datetime.now(UTC) - timedelta(minutes=2)
                s.add(row)
        s.commit()


def _pending(db: Database) -> list[str]:
    with db.session() as s:
        return list(s.exec(select(ProcessStart.key).where(col(ProcessStart.dispatched_at).is_(None))).all())


async def _runs(client: Client, workflow_id: str) -> list[str]:
    return [w.run_id async for w in client.list_workflows(f'WorkflowId = "{workflow_id}"')]


async def test_a_start_lost_after_the_commit_is_made_good_exactly_once(
    dev_server: DevServer, sqlite_database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = sqlite_database
    seed_accounts(db)
    team = seed_team(db)
    with db.session() as s:
        _, creator = create_user(s, "creator", [Role.content_creator])
        _, admin = create_user(s, "pa", [Role.platform_admin])
        s.commit()
    tokens = {**team.tokens, "creator": creator, "pa": admin}
    settings = test_settings(db, temporal_address=dev_server.address, temporal_namespace=ISOLATED_NAMESPACE)
    client = await connect(settings)
    await ensure_search_attributes(client, ISOLATED_NAMESPACE)
    sandbox = SandboxPlatform(f"sqlite:///{tmp_path / 'sandbox.db'}")

    async def crash(_client: Any, _tq: str, _row: ProcessStart) -> str:
        return "simulated crash between the commit and the start"

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        deps = Dependencies(db=db, connectors={"sandbox": sandbox})
        async with build_worker(client, settings.task_queue, deps, ex):
            app = create_app(settings, db=db, temporal_client=client)
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:

                async def call(who: str, method: str, path: str, body: Any = None) -> httpx.Response:
                    headers = {"Authorization": f"Bearer {tokens[who]}"}
                    return await c.request(method, path, json=body, headers=headers)

                original = dispatch._start
                monkeypatch.setattr(dispatch, "_start", crash)
                r = await call("creator", "POST", "/content", new_item(datetime.now(UTC) + timedelta(days=2)))
                assert r.status_code == 201 and r.json()["process"] == "starting", r.text
                cid = r.json()["id"]
                r = await call("reporter", "POST", "/incidents", {"title": "门店食品安全投诉在抖音发酵"})
                assert r.status_code == 201 and r.json()["process"] == "starting", r.text
                iid = r.json()["id"]
                items = {"items": [{"external_id": "lost-1", "kind": "dm", "text": "快递三天没到，怎么回事？"}]}
                r = await call("pa", "POST", "/inbox/ingest/weibo/brand_weibo", items)
                assert r.json() == {"received": 1, "new": 1, "starting": 1, "earlier_flagged_spam": 0}
                r = await call("pa", "POST", "/inbox/ingest/weibo/brand_weibo", items)
                assert r.json()["new"] == 0  # a redelivery adds nothing — and loses nothing either
                d = (await call("creator", "GET", f"/content/{cid}")).json()
                assert d["state"] is None and "starting" in d["state_error"]

                wids = [ids.content(cid), ids.incident(iid), ids.interaction("weibo", "lost-1")]
                assert sorted(_pending(db)) == sorted(wids)
                for wid in wids:
                    assert await _runs(client, wid) == []

                monkeypatch.setattr(dispatch, "_start", original)
                await dispatch.ensure_reconciler(client, settings.task_queue)
                schedule = client.get_schedule_handle(RECONCILER_SCHEDULE)
                _backdate_pending(db)
                await schedule.trigger()
                await until(lambda: not _pending(db), "the reconciler started every pending process", timeout=60)
                first = {wid: await until(lambda w=wid: _runs(client, w), f"{wid} visible") for wid in wids}
                assert all(len(r) == 1 for r in first.values()), first

                # A reconciler that crashed after starting but before marking: the next sweep finds them running.
                _backdate_pending(db, rearm=wids)
                await schedule.trigger()
                await until(lambda: not _pending(db), "the second sweep marked them", timeout=60)
                for wid in wids:
                    assert await _runs(client, wid) == first[wid], wid  # the same single run

                d = await until(
                    lambda: _json(call("creator", "GET", f"/content/{cid}"), lambda d: d["state"] is not None),
                    "the content process answers",
                )
                assert d["state_error"] is None
                inc = await until(
                    lambda: _json(call("rc", "GET", f"/incidents/{iid}"), lambda d: d["state"] is not None),
                    "the incident process answers",
                )
                assert inc["state"]["stage"] == "confirming"
            await schedule.delete()


async def _json(resp: Any, check: Any) -> dict[str, Any] | None:
    body: dict[str, Any] = (await resp).json()
    return body if check(body) else None
