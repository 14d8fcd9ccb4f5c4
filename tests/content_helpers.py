"""Shared setup for content tests: accounts, people, items, a worker with the sandbox platform."""

from __future__ import annotations

import concurrent.futures
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import select
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from connectors.sandbox import SandboxPlatform
from core.registry import Dependencies
from db.engine import Database
from db.models import ContentItem, Notification
from domain.content import (
    ContentFormat,
    ContentPlan,
    ContentWorkflowInput,
    Goal,
    KpiTargets,
    MediaRef,
    ReviewSla,
    Target,
    VersionContent,
)
from domain.kernel import Actor
from tests.seeds import ACCOUNTS, CONTENT_PEOPLE, seed_users
from worker import build_worker
from workflows.content import ContentWorkflow


@dataclass
class People:
    creator: Actor  # also holds risk_compliance: must still not approve their own item
    rc: Actor
    brand: Actor
    biz: Actor
    ops: Actor
    lead: Actor
    tokens: dict[str, str]


def seed_people(db: Database) -> People:
    actors, tokens = seed_users(db, CONTENT_PEOPLE)
    return People(tokens=tokens, **actors)


def version(body: str = "新品上线，欢迎体验（详情见官网）", **kw: Any) -> VersionContent:
    data: dict[str, Any] = {
        "title": "秋季新品发布",
        "body": body,
        "media": [
            MediaRef(kind="image", uri="s3://assets/cover.jpg", licence="自有版权", source="设计部", is_cover=True)
        ],
        "topics": ["秋季新品"],
    }
    data.update(kw)
    return VersionContent(**data)


def plan(publish_at: datetime, **kw: Any) -> ContentPlan:
    data: dict[str, Any] = {
        "goal": Goal.awareness,
        "audience": "25-35 岁城市白领",
        "core_message": "秋季新品上市",
        "theme": "品牌调性",
        "format": ContentFormat.image_text,
        "targets": [Target(platform=p, account=a) for p, a in ACCOUNTS],
        "publish_at": publish_at,
        "kpi": KpiTargets(views=5000, likes=10),
    }
    data.update(kw)
    return ContentPlan(**data)


def insert_item(db: Database, owner: Actor, p: ContentPlan, v: VersionContent, **kw: Any) -> int:
    with db.session() as s:
        item = ContentItem(
            owner_id=owner.user_id,
            owner_name=owner.name,
            goal=p.goal.value,
            format=p.format.value,
            targets=[t.model_dump(mode="json") for t in p.targets],
            platforms="," + ",".join(sorted({t.platform.value for t in p.targets})) + ",",
            publish_at=p.publish_at,
            title=v.title,
            **kw,
        )
        s.add(item)
        s.flush()
        assert item.id is not None
        item.workflow_id = f"content-{item.id}"
        s.commit()
        return item.id


@asynccontextmanager
async def content_worker(
    client: Client,
    db: Database,
    sandbox: SandboxPlatform,
    replace: dict[str, Callable[..., Any]] | None = None,
    task_queue: str | None = None,
) -> AsyncIterator[Worker]:
    """A worker with every workflow and activity; ``replace`` swaps activities by name (e.g. a slowed
    projection, to drive a message arriving while the main loop's activity runs); ``task_queue``: a
    worker that comes back after an outage on the queue of the one before."""
    tq = task_queue or f"content-{uuid.uuid4().hex[:8]}"
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        worker = build_worker(client, tq, Dependencies(db=db, connectors={"sandbox": sandbox}), ex, replace)
        async with worker:
            yield worker


async def start_content(
    client: Client, worker: Worker, db: Database, owner: Actor, p: ContentPlan, v: VersionContent, **kw: Any
) -> WorkflowHandle[ContentWorkflow, Any]:
    content_id = insert_item(db, owner, p, v)
    kw.setdefault("sla", ReviewSla(hours=4, business_hours=False))
    inp = ContentWorkflowInput(
        content_id=content_id, owner=owner.name, owner_id=owner.user_id, plan=p, version=v, **kw
    )
    return await client.start_workflow(
        ContentWorkflow.run, inp, id=f"content-{content_id}", task_queue=worker.task_queue
    )


def notifications(db: Database, kind: str | None = None) -> list[Notification]:
    with db.session() as s:
        stmt = select(Notification)
        if kind:
            stmt = stmt.where(Notification.kind == kind)
        return list(s.exec(stmt.order_by(Notification.id)).all())  # type: ignore[arg-type]


def later(now: datetime, **delta: float) -> datetime:
    return now + timedelta(**delta)
