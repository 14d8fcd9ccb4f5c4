"""ContentWorkflow publishing through the WeChat stub's asynchronous freepublish flow, on the time-skipping
server: the workflow polls on a timer until success or failure (with the platform's reason), bounded."""

from __future__ import annotations

import concurrent.futures
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from connectors.credentials import ConnectorContext, Credentials, MemoryCredentialStore
from connectors.sandbox import SandboxPlatform
from connectors.wechat_oa import WeChatOAConnector
from core.registry import Dependencies
from db.engine import Database
from db.models import ContentMetric, ContentPublication, PlatformAccount
from domain.content import MediaRef, Stage, SubmitRequest, Target
from domain.kernel import Platform
from tests.content_helpers import People, notifications, plan, start_content, version
from tests.platforms.stub_wechat import APPID, SECRET, RunningWeChat, serve_wechat
from tests.workflows.test_content import decide, stage_of, wait_stage
from worker import build_worker
from workflows.content import ContentWorkflow

pytestmark = pytest.mark.asyncio
ACCOUNT = "brand_wechat"


@pytest.fixture
def wechat() -> Iterator[RunningWeChat]:
    running = serve_wechat()
    yield running
    running.close()


@asynccontextmanager
async def wechat_worker(
    env: WorkflowEnvironment, db: Database, sandbox: SandboxPlatform, wechat: RunningWeChat
) -> AsyncIterator[Worker]:
    with db.session() as s:
        row = s.exec(select(PlatformAccount).where(PlatformAccount.handle == ACCOUNT)).one()
        row.connector = "wechat_oa"
        s.add(row)
        s.commit()
    store = MemoryCredentialStore(
        {(Platform.wechat_oa, ACCOUNT): Credentials(app_id=APPID, app_secret=SECRET, api_base=wechat.url)}  # type: ignore[arg-type]
    )
    conn = WeChatOAConnector(ConnectorContext(credentials=store, options={"timeout_s": "5"}))
    deps = Dependencies(db=db, connectors={"sandbox": sandbox, "wechat_oa": conn})
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        async with build_worker(env.client, f"wechat-{uuid.uuid4().hex[:8]}", deps, ex, None) as worker:
            yield worker


async def approve_and_publish(
    env: WorkflowEnvironment, db: Database, w: Worker, people: People, cover: Path, **kw
):  # type: ignore[no-untyped-def]
    now = await env.get_current_time()
    media = [MediaRef(kind="image", uri=str(cover), licence="自有版权", source="设计部", is_cover=True)]
    h = await start_content(
        env.client,
        w,
        db,
        people.creator,
        plan(now + timedelta(hours=2), targets=[Target(platform=Platform.wechat_oa, account=ACCOUNT)]),
        version(body="新品上线，欢迎体验（详情见官网）", media=media),
        checkpoints=[timedelta(hours=1)],
        **kw,
    )
    await wait_stage(h, Stage.draft)
    assert (await h.execute_update(ContentWorkflow.submit, SubmitRequest(actor=people.creator))).submitted
    for reviewer in (people.rc, people.brand, people.ops):
        await wait_stage(h, Stage.review_compliance, Stage.review_brand, Stage.review_final)
        await decide(h, reviewer)
    await wait_stage(h, Stage.scheduled)
    await env.sleep(timedelta(hours=2, minutes=1))
    return h


async def advance_until(env: WorkflowEnvironment, h: WorkflowHandle[Any, Any], *stages: Stage) -> None:
    """Time skips only while a test sleeps: step the clock by half a minute until the stage is reached."""
    for _ in range(40):
        if await stage_of(h) in stages:
            return
        await env.sleep(timedelta(seconds=30))
    await wait_stage(h, *stages, timeout=5)


@pytest.fixture
def cover(tmp_path: Path) -> Path:
    path = tmp_path / "cover.jpg"
    path.write_bytes(b"\xff\xd8\xff" + b"x" * 500)
    return path


async def test_async_publish_is_polled_until_live_then_confirmed_and_measured(
    time_skipping: WorkflowEnvironment,
    sqlite_database: Database,
    sandbox: SandboxPlatform,
    people: People,
    wechat: RunningWeChat,
    cover: Path,
) -> None:
    env, db = time_skipping, sqlite_database
    wechat.stub.publish_polls = 3  # "publishing" three times, then success
    async with wechat_worker(env, db, sandbox, wechat) as w:
        h = await approve_and_publish(env, db, w, people, cover)
        await advance_until(env, h, Stage.tracking, Stage.completed)
        await env.sleep(timedelta(hours=1, minutes=1))
        await wait_stage(h, Stage.completed)
        st = await h.query(ContentWorkflow.current)
    [article] = wechat.stub.articles.values()
    [pub] = st.publications
    assert pub.external_id == article.article_id and not pub.pending and pub.confirmed, pub.confirmation_note
    assert "mid=" in pub.url
    job = next(iter(wechat.stub.jobs.values()))
    assert job.status == 0 and job.polls_left < 0  # it was polled past its "publishing" answers
    assert "T+1h" in st.metrics
    with db.session() as s:
        row = s.exec(select(ContentPublication)).one()
        assert row.external_id == article.article_id and row.published_at is not None and row.confirmed
        assert len(s.exec(select(ContentMetric)).all()) == 1
    assert sandbox.all_posts() == []


async def test_a_rejected_publish_fails_with_the_platforms_reason(
    time_skipping: WorkflowEnvironment,
    sqlite_database: Database,
    sandbox: SandboxPlatform,
    people: People,
    wechat: RunningWeChat,
    cover: Path,
) -> None:
    env, db = time_skipping, sqlite_database
    wechat.stub.publish_outcome = 4
    async with wechat_worker(env, db, sandbox, wechat) as w:
        h = await approve_and_publish(env, db, w, people, cover)
        await advance_until(env, h, Stage.failed)
        st = await h.query(ContentWorkflow.current)
    [pub] = st.publications
    assert not pub.external_id and pub.confirmed is False and "平台审核不通过（第 1 篇）" in pub.confirmation_note
    alerts = [n for n in notifications(db, "alert") if "发布失败" in n.subject]
    assert (
        len(alerts) == 1 and "平台审核不通过" in alerts[0].body and alerts[0].recipient_user == people.creator.name
    )
    with db.session() as s:
        assert "平台审核不通过" in s.exec(select(ContentPublication)).one().confirmation_note


async def test_a_job_that_never_finishes_fails_after_the_bounded_wait(
    time_skipping: WorkflowEnvironment,
    sqlite_database: Database,
    sandbox: SandboxPlatform,
    people: People,
    wechat: RunningWeChat,
    cover: Path,
) -> None:
    env, db = time_skipping, sqlite_database
    wechat.stub.publish_polls = 10_000
    async with wechat_worker(env, db, sandbox, wechat) as w:
        h = await approve_and_publish(
            env,
            db,
            w,
            people,
            cover,
            async_publish_poll=timedelta(minutes=1),
            async_publish_max_wait=timedelta(minutes=5),
        )
        await advance_until(env, h, Stage.failed)
        st = await h.query(ContentWorkflow.current)
        assert await stage_of(h) is Stage.failed
    [pub] = st.publications
    assert not pub.pending and "5 分钟内未完成发布" in pub.confirmation_note
    polls = 10_000 - next(iter(wechat.stub.jobs.values())).polls_left
    assert 4 <= polls <= 6  # every minute for five minutes, not a busy loop and not once
