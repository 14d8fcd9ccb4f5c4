"""Shared setup for campaign workflow tests: accounts, people, a campaign row, a worker with the sandbox."""

from __future__ import annotations

import concurrent.futures
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlmodel import select
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from connectors.sandbox import SandboxPlatform
from core.registry import Dependencies
from db import campaign as q
from db.engine import Database
from db.models import Notification
from domain import ids
from domain.campaign.models import CampaignInput, CampaignPlan, EntryMethod, Stage
from domain.kernel import Actor, Platform
from tests.seeds import CAMPAIGN_TEAM, seed_accounts, seed_users
from tests.waiting import until
from worker import build_worker
from workflows.campaign import CampaignWorkflow

SECRET_KEY = "test-secret-key-for-campaigns-0123456789"
ROLES = CAMPAIGN_TEAM


def seed(db: Database) -> dict[str, Actor]:
    return seed_all(db)[0]


def seed_tokens(db: Database) -> dict[str, str]:
    return seed_all(db)[1]


def seed_all(db: Database) -> tuple[dict[str, Actor], dict[str, str]]:
    seed_accounts(db, [(Platform.weibo, "brand_weibo")])
    return seed_users(db, ROLES)


@asynccontextmanager
async def campaign_worker(client: Client, db: Database, sandbox: SandboxPlatform) -> AsyncIterator[Worker]:
    tq = f"campaign-{uuid.uuid4().hex[:8]}"
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        deps = Dependencies(db=db, connectors={"sandbox": sandbox}, secret_key=SECRET_KEY)
        async with build_worker(client, tq, deps, ex) as worker:
            yield worker


async def start(
    client: Client, worker: Worker, db: Database, owner: Actor, plan: CampaignPlan, **kw: Any
) -> WorkflowHandle[CampaignWorkflow, Any]:
    with db.session() as s:
        row = q.create(s, plan, owner.user_id, owner.name)
        s.commit()
        assert row.id is not None
        cid = row.id
    inp = CampaignInput(campaign_id=cid, owner=owner.name, owner_id=owner.user_id, plan=plan, **kw)
    return await client.start_workflow(
        CampaignWorkflow.run, inp, id=ids.campaign(cid), task_queue=worker.task_queue
    )


async def wait_stage(h: WorkflowHandle[Any, Any], *stages: Stage, timeout: float = 20) -> None:
    async def reached() -> bool:
        return (await h.query(CampaignWorkflow.current)).stage in stages

    await until(reached, f"stage in {stages}", timeout=timeout)


def entry(user: str, at: datetime, n: int, **kw: Any) -> q.NewEntry:
    kw.setdefault("method", EntryMethod.comment)
    kw.setdefault("account_created_at", datetime(2020, 1, 1, tzinfo=at.tzinfo))
    return q.NewEntry(platform=Platform.weibo, user=user, at=at, external_id=f"c{n}", **kw)


def notices(db: Database, kind: str) -> list[Notification]:
    with db.session() as s:
        return list(s.exec(select(Notification).where(Notification.kind == kind)).all())
