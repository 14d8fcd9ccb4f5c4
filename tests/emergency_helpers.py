"""Setup for emergency tests: people per role, incidents opened the way the API opens them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import select
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from db.emergency import open_incident
from db.engine import Database
from db.models import IncidentEvent
from domain.emergency import Evidence, IncidentStage
from domain.kernel import Actor
from tests.seeds import EMERGENCY_TEAM, seed_users
from tests.waiting import until
from workflows.emergency import EmergencyWorkflow


@dataclass
class Team:
    reporter: Actor
    rc: Actor
    lead: Actor
    ops: Actor
    mkt: Actor
    agent: Actor
    tokens: dict[str, str]


def seed_team(db: Database) -> Team:
    actors, tokens = seed_users(db, EMERGENCY_TEAM)
    return Team(tokens=tokens, **actors)


async def start_incident(client: Client, worker: Worker, db: Database, **kw: Any) -> WorkflowHandle[Any, Any]:
    with db.session() as s:
        row, inp = open_incident(
            s,
            title=kw.pop("title", "用户投诉产品质量问题在微博发酵"),
            description="多名用户反映同一批次产品存在异响",
            reported_by="reporter",
            evidence=[Evidence(url="https://weibo.com/123", note="原帖")],
            **kw,
        )
        s.commit()
    return await client.start_workflow(
        EmergencyWorkflow.run, inp, id=row.workflow_id, task_queue=worker.task_queue
    )


async def wait_for(h: WorkflowHandle[Any, Any], check: Any, what: str, timeout: float = 20) -> Any:
    async def reached() -> Any:
        st = await h.query(EmergencyWorkflow.current)
        return st if check(st) else None

    return await until(reached, what, timeout=timeout)


async def wait_stage(h: WorkflowHandle[Any, Any], *stages: IncidentStage) -> Any:
    return await wait_for(h, lambda st: st.stage in stages, f"expected {stages}")


def events(db: Database, incident_id: int) -> list[IncidentEvent]:
    with db.session() as s:
        return list(
            s.exec(
                select(IncidentEvent).where(IncidentEvent.incident_id == incident_id).order_by(IncidentEvent.seq)
            ).all()
        )  # type: ignore[arg-type]
