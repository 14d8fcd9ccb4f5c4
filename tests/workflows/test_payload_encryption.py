"""With payload keys set, what Temporal stores of a process holds no plaintext: a content item's body and a
cancellation reason (personal data) are not in the raw history bytes, while the workflow runs as usual."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from connectors.sandbox import SandboxPlatform
from core.codec import new_key_spec
from core.settings import Settings
from core.temporal import data_converter, ensure_search_attributes
from db.engine import Database
from domain.content import ReasonRequest, Stage, SubmitRequest
from tests.conftest import temporal_test_server
from tests.content_helpers import People, content_worker, plan, start_content, version
from tests.waiting import until
from workflows.content import ContentWorkflow

BODY = "会员王小明（手机 13800138000）的试用心得：新品很好用"
REASON = "应李女士要求撤下，她的住址是北京市朝阳区建国路88号"


async def _env(settings: Settings) -> WorkflowEnvironment:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server(), data_converter=data_converter(settings)
    )
    await ensure_search_attributes(env.client, "default")
    return env


@pytest_asyncio.fixture(params=["encrypted", "plain"])
async def env(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, WorkflowEnvironment]]:
    keys = new_key_spec("k1") if request.param == "encrypted" else ""
    e = await _env(Settings(payload_keys=keys))
    yield request.param, e
    await e.shutdown()


async def _raw_history(client: Client, workflow_id: str) -> bytes:
    """The history as the server stores it, straight from the RPC (nothing decoded on the way)."""
    raw = b""
    token = b""
    while True:
        resp = await client.workflow_service.get_workflow_execution_history(
            GetWorkflowExecutionHistoryRequest(
                namespace=client.namespace,
                execution=WorkflowExecution(workflow_id=workflow_id),
                next_page_token=token,
            )
        )
        raw += resp.history.SerializeToString()
        token = resp.next_page_token
        if not token:
            return raw


async def test_history_holds_no_plaintext_when_keys_are_set(
    env: tuple[str, WorkflowEnvironment], sqlite_database: Database, sandbox: SandboxPlatform, people: People
) -> None:
    mode, e = env
    now = await e.get_current_time()
    async with content_worker(e.client, sqlite_database, sandbox) as w:
        h = await start_content(
            e.client, w, sqlite_database, people.creator, plan(now + timedelta(days=2)), version(body=BODY)
        )

        async def at(*stages: Stage) -> bool:
            return (await h.query(ContentWorkflow.current)).stage in stages

        await until(lambda: at(Stage.draft), "draft")
        assert (await h.execute_update(ContentWorkflow.submit, SubmitRequest(actor=people.creator))).submitted
        # the scan's finding (a mobile number) went through an activity: encrypted both ways
        await until(lambda: at(Stage.compliance_blocked), "the compliance scan's block")
        state = await h.query(ContentWorkflow.current)
        await h.execute_update(ContentWorkflow.cancel, ReasonRequest(actor=people.creator, reason=REASON))
        result = await h.result()
    # The client (with the codec) reads everything back as it was.
    assert result.stage is Stage.cancelled
    assert state.stage is Stage.compliance_blocked and state.findings  # the number was found, so read

    raw = await _raw_history(e.client, h.id)
    assert len(raw) > 1000
    found = [s for s in (BODY, REASON, "王小明", "13800138000", "北京市朝阳区") if s.encode() in raw]
    if mode == "encrypted":
        assert found == []
        assert b"binary/encrypted" in raw
    else:  # the control: the same run without keys stores them in the clear (so the check above can fail)
        assert BODY.encode() in raw and REASON.encode() in raw
        assert b"binary/encrypted" not in raw
