"""Temporal plumbing: the worker registry end to end, health checks, search attributes, worker logs."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import uuid

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.logging import configure_logging
from core.registry import Dependencies
from core.settings import Settings
from core.temporal import SEARCH_ATTRIBUTES, connect, ensure_search_attributes
from db import migrate
from db.engine import Database
from domain.system import SystemCheckInput
from tests.conftest import DevServer, free_port, temporal_cli, test_settings
from worker import build_worker
from workflows.system import SystemCheckWorkflow


async def test_system_check_runs_through_the_registry(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    tq = f"tq-{uuid.uuid4().hex[:8]}"
    configure_logging("INFO", json=True)
    try:
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            async with build_worker(time_skipping.client, tq, Dependencies(db=sqlite_database), ex):
                result = await time_skipping.client.execute_workflow(
                    SystemCheckWorkflow.run,
                    SystemCheckInput(requested_by="test"),
                    id="system-check-t1",
                    task_queue=tq,
                )
    finally:
        configure_logging("INFO", json=False)
    assert result.database.ok and result.database.dialect == "sqlite"
    assert result.database.migration == migrate.head_revision(sqlite_database.engine)
    # Workflow log lines carry the workflow id (Temporal's `extra`, rendered by our processors).
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    wf = [e for e in lines if "system check requested" in e.get("event", "")]
    assert wf and wf[0]["temporal_workflow"]["workflow_id"] == "system-check-t1"


async def _health(app: object) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:  # type: ignore[arg-type]
        return await c.get("/health")


async def test_health_reports_each_component_and_a_stopped_worker(
    dev_server: DevServer, sqlite_database: Database
) -> None:
    settings = test_settings(sqlite_database, temporal_address=dev_server.address, worker_poll_stale_seconds=5)
    client = await connect(settings)
    app = create_app(settings, db=sqlite_database)

    r = await _health(app)  # no worker yet
    assert r.status_code == 503
    body = r.json()["components"]
    assert body["database"]["ok"] and body["temporal"]["ok"]
    assert not body["worker"]["ok"] and settings.task_queue in body["worker"]["error"]

    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        async with build_worker(client, settings.task_queue, Dependencies(db=sqlite_database), ex):
            for _ in range(40):  # the worker's first polls reach the server
                if (r := await _health(app)).status_code == 200:
                    break
                await asyncio.sleep(0.25)
            for _ in range(3):  # and it stays healthy across idle long-poll cycles
                r = await _health(app)
                assert r.status_code == 200, r.json()
                assert r.json()["components"]["worker"]["workflow_pollers"] >= 1
                await asyncio.sleep(2.5)

    for _ in range(40):  # the stopped worker ages out
        r = await _health(app)
        if r.status_code == 503:
            break
        await asyncio.sleep(0.5)
    assert r.status_code == 503
    components = r.json()["components"]
    assert components["worker"]["ok"] is False and components["temporal"]["ok"] is True


async def test_health_reports_database_and_temporal_outages(tmp_path: object, dev_server: DevServer) -> None:
    broken_db = Database("postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 1})
    settings = Settings(database_url=broken_db.url, temporal_address=f"127.0.0.1:{free_port()}")
    r = await _health(create_app(settings, db=broken_db))
    assert r.status_code == 503
    comps = r.json()["components"]
    assert comps["database"]["ok"] is False and "error" in comps["database"]
    assert comps["temporal"]["ok"] is False and comps["worker"]["ok"] is False


async def test_search_attributes_registered_and_idempotent(dev_server: DevServer) -> None:
    client = await connect(Settings(temporal_address=dev_server.address))
    assert await ensure_search_attributes(client, "default") == []  # start-dev registered them all
    from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest

    listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace="default"))
    assert {k.name for k in SEARCH_ATTRIBUTES} <= set(listed.custom_attributes)


async def test_ensure_search_attributes_adds_missing(tmp_path: object) -> None:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli(),
        port=free_port(),
        ui=False,
    )
    try:
        added = await ensure_search_attributes(env.client, "default")
        assert added == sorted(k.name for k in SEARCH_ATTRIBUTES)
        assert await ensure_search_attributes(env.client, "default") == []
    finally:
        await env.shutdown()


async def test_processes_carry_search_attributes_for_the_ui(
    dev_server: DevServer, sqlite_database: Database, tmp_path: object
) -> None:
    """The Temporal UI can filter content by process, stage, owner and platforms."""
    from datetime import timedelta as td
    from pathlib import Path

    from connectors.sandbox import SandboxPlatform
    from core.temporal import SA_OWNER, SA_PLATFORMS, SA_PROCESS, SA_STAGE
    from domain.content import ReasonRequest
    from tests.content_helpers import plan, seed_people, start_content, version
    from tests.seeds import seed_accounts
    from workflows.content import ContentWorkflow

    seed_accounts(sqlite_database)
    people = seed_people(sqlite_database)
    settings = test_settings(sqlite_database, temporal_address=dev_server.address)
    client = await connect(settings)
    sandbox = SandboxPlatform(f"sqlite:///{Path(str(tmp_path)) / 'sb.db'}")
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        deps = Dependencies(db=sqlite_database, connectors={"sandbox": sandbox})
        async with build_worker(client, settings.task_queue, deps, ex) as w:
            from datetime import UTC, datetime

            h = await start_content(client, w, sqlite_database, people.creator, plan(datetime.now(UTC) + td(days=1)),
                                    version())  # fmt: skip
            for _ in range(100):
                sa = (await h.describe()).typed_search_attributes
                if sa.get(SA_STAGE) == "draft":
                    break
                await asyncio.sleep(0.1)
            assert sa.get(SA_PROCESS) == "content" and sa.get(SA_OWNER) == "creator"
            assert sorted(sa.get(SA_PLATFORMS) or []) == ["wechat_oa", "weibo"] and sa.get(SA_STAGE) == "draft"
            listed = [
                wf.id async for wf in client.list_workflows(
                    f"SocialopsProcess = 'content' AND SocialopsStage = 'draft' AND TaskQueue = '{settings.task_queue}'")
            ]  # fmt: skip
            for _ in range(50):
                if listed:
                    break
                await asyncio.sleep(0.2)
                listed = [wf.id async for wf in client.list_workflows(
                    f"SocialopsProcess = 'content' AND TaskQueue = '{settings.task_queue}'")]  # fmt: skip
            assert listed == [h.id]
            await h.execute_update(ContentWorkflow.cancel, ReasonRequest(actor=people.creator, reason="测试结束"))
            assert (await h.result()).stage.value == "cancelled"
    sandbox.engine.dispose()
