"""Record workflow histories for replay tests: ``python -m tests.histories.record``.

Re-record only on purpose (a deliberate, patched change to a workflow); the replay test exists to catch
changes that would break running workflows.
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import timedelta
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from connectors.sandbox import SandboxPlatform
from core.temporal import ensure_search_attributes
from db import migrate
from db.engine import Database
from domain.content import Decision, ReviewRequest, ReviseRequest, Stage, SubmitRequest
from tests.conftest import temporal_test_server
from tests.content_helpers import content_worker, plan, seed_people, start_content, version
from tests.seeds import seed_accounts
from workflows.content import ContentWorkflow

HERE = Path(__file__).parent
# Recorded on purpose without the payload codec: the histories are checked in and must replay (and be
# read) without keys; tests/core/test_codec.py replays them through the codec too.
RECORDING_CONVERTER = pydantic_data_converter


async def _wait(h, stage: Stage) -> None:  # type: ignore[no-untyped-def]
    for _ in range(300):
        if (await h.query(ContentWorkflow.current)).stage is stage:
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"never reached {stage}")


async def main() -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server(), data_converter=RECORDING_CONVERTER
    )
    await ensure_search_attributes(env.client, "default")
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/db.sqlite")
        migrate.upgrade(db.engine)
        seed_accounts(db)
        p = seed_people(db)
        sandbox = SandboxPlatform(f"sqlite:///{tmp}/sandbox.sqlite")
        now = await env.get_current_time()
        async with content_worker(env.client, db, sandbox) as w:
            h = await start_content(
                env.client,
                w,
                db,
                p.creator,
                plan(now + timedelta(hours=6)),
                version(),
                checkpoints=[timedelta(hours=1), timedelta(hours=24)],
            )
            await _wait(h, Stage.draft)
            await h.execute_update(ContentWorkflow.submit, SubmitRequest(actor=p.creator))
            for stage, who in ((Stage.review_compliance, p.rc), (Stage.review_brand, p.brand)):
                await _wait(h, stage)
                st = await h.query(ContentWorkflow.current)
                decision = (
                    Decision.request_changes
                    if stage is Stage.review_brand and st.version == 1
                    else Decision.approve
                )
                await h.execute_update(
                    ContentWorkflow.review,
                    ReviewRequest(
                        actor=who, stage=stage, version_hash=st.version_hash, decision=decision, notes="改一下语气"
                    ),
                )
            await _wait(h, Stage.revision)
            await h.execute_update(
                ContentWorkflow.revise, ReviseRequest(actor=p.creator, content=version(body="新品来啦，欢迎体验"))
            )
            await h.execute_update(ContentWorkflow.submit, SubmitRequest(actor=p.creator))
            for stage, who in (
                (Stage.review_compliance, p.rc),
                (Stage.review_brand, p.brand),
                (Stage.review_final, p.ops),
            ):
                await _wait(h, stage)
                st = await h.query(ContentWorkflow.current)
                await h.execute_update(
                    ContentWorkflow.review,
                    ReviewRequest(actor=who, stage=stage, version_hash=st.version_hash, decision=Decision.approve),
                )
            await env.sleep(timedelta(hours=7))
            await env.sleep(timedelta(hours=25))
            await _wait(h, Stage.completed)
            history = await h.fetch_history()
        (HERE / "content_review_publish_track.json").write_text(history.to_json())
        db.dispose()
    await env.shutdown()


async def record_incident() -> None:
    """A high incident: confirm, team, statement, task, resolve, post-mortem."""
    from domain.emergency import (
        AckRequest,
        ApproveStatementRequest,
        ConfirmRequest,
        DraftStatementRequest,
        IncidentStage,
        PostmortemRequest,
        ResolveRequest,
        StatementKind,
        StatementRef,
        Truth,
    )
    from domain.risk import Impact, Likelihood
    from tests.emergency_helpers import seed_team, start_incident
    from workflows.emergency import EmergencyWorkflow

    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server(), data_converter=RECORDING_CONVERTER
    )
    await ensure_search_attributes(env.client, "default")
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/db.sqlite")
        migrate.upgrade(db.engine)
        seed_accounts(db)
        t = seed_team(db)
        sandbox = SandboxPlatform(f"sqlite:///{tmp}/sandbox.sqlite")
        async with content_worker(env.client, db, sandbox) as w:
            h = await start_incident(env.client, w, db)

            async def stage_is(*stages: IncidentStage) -> None:
                for _ in range(300):
                    if (await h.query(EmergencyWorkflow.current)).stage in stages:
                        return
                    await asyncio.sleep(0.05)
                raise RuntimeError(f"never reached {stages}")

            await stage_is(IncidentStage.confirming)
            await h.execute_update(
                EmergencyWorkflow.confirm,
                ConfirmRequest(
                    actor=t.rc, truth=Truth.confirmed, impact=Impact.major, likelihood=Likelihood.likely
                ),
            )
            await stage_is(IncidentStage.assembling)
            for who in (t.lead, t.ops, t.rc, t.mkt):
                await h.execute_update(EmergencyWorkflow.acknowledge, AckRequest(actor=who))
            s = await h.execute_update(
                EmergencyWorkflow.draft_statement,
                DraftStatementRequest(
                    actor=t.ops, kind=StatementKind.full, text="我们深表歉意，已全面排查。", channels=["weibo"]
                ),
            )
            await h.execute_update(
                EmergencyWorkflow.approve_statement,
                ApproveStatementRequest(actor=t.lead, statement_id=s.id, text_hash=s.text_hash),
            )
            await h.execute_update(
                EmergencyWorkflow.publish_statement, StatementRef(actor=t.ops, statement_id=s.id)
            )
            await env.sleep(timedelta(hours=5))
            await h.execute_update(EmergencyWorkflow.resolve, ResolveRequest(actor=t.lead, summary="已平息"))
            await stage_is(IncidentStage.resolved)
            await h.execute_update(EmergencyWorkflow.postmortem, PostmortemRequest(actor=t.lead, causes="供应链"))
            await h.result()
            history = await h.fetch_history()
        (HERE / "incident_high_to_postmortem.json").write_text(history.to_json())
        db.dispose()
    await env.shutdown()


if __name__ == "__main__":
    import sys

    which = sys.argv[1:] or ["content", "incident"]
    if "content" in which:
        asyncio.run(main())
    if "incident" in which:
        asyncio.run(record_incident())
