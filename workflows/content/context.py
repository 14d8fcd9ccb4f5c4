"""What one content item's process holds while it runs, and the steps every phase shares.

The workflow class (``workflow.py``) owns the handlers; the phases (``review.py``, ``publish.py``) run the
main loop. Both read and write this one object. Message-handler rules (STYLE 12): what a handler reserves
is taken before its first await; a slot the main loop consumes (``pending``) is cleared only by the code
that consumed it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from temporalio import workflow

from workflows.common import RETRY, notify
from workflows.timers import wait_until

with workflow.unsafe.imports_passed_through():
    from activities.content import ContentActivities
    from core.temporal import SA_STAGE
    from domain import ids
    from domain.content import (
        EXPEDITED_STAGES,
        REVIEW_STAGES,
        Actor,
        AdaptedVariant,
        ContentState,
        ContentWorkflowInput,
        Decision,
        DecisionRecord,
        ReviewRequest,
        Stage,
        VersionContent,
        content_hash,
    )
    from domain.content_io import ProjectionUpdate
    from domain.platform_rules import adapt

Event = tuple[datetime, Callable[[], Awaitable[None]]]


class Cancelled(Exception):
    """The owner cancelled the item: the main loop unwinds to ``cancelled``."""


class ContentRun:
    def __init__(self, inp: ContentWorkflowInput) -> None:
        self.inp = inp
        self.version: VersionContent = inp.version
        self.state = ContentState(
            content_id=inp.content_id,
            stage=Stage.draft,
            version=1,
            version_hash=content_hash(inp.version),
            publish_at=inp.plan.publish_at,
            expedited=inp.expedited,
            review_stages=list(EXPEDITED_STAGES if inp.expedited else REVIEW_STAGES),
        )
        self.submitted = False
        self.cancelled = False
        self.epoch = 0  # bumps on every new version: a running review restarts
        self.reschedules = 0  # bumps on every reschedule (notification keys, leaving ``expired``)
        self.pending: ReviewRequest | None = None  # a decision for the main loop; it clears it
        self.revising = False  # a new version is being saved: decisions wait for it
        self.override_ok = False
        self.release_confirmed = False
        self.hold_released = False
        self.retract_reason: str | None = None

    @property
    def content_id(self) -> int:
        return self.inp.content_id

    def variants(self) -> list[AdaptedVariant]:
        return [adapt(self.version, t, self.inp.plan.format) for t in self.inp.plan.targets]

    def decide(self, stage: Stage, decision: Decision | str, actor: Actor, notes: str) -> DecisionRecord:
        """Record a human decision on the current version (validators have checked it names that version)."""
        record = DecisionRecord(
            stage=stage, decision=decision, actor=actor.name, roles=[r.value for r in actor.roles],
            version=self.state.version, version_hash=self.state.version_hash, notes=notes, at=workflow.now(),
        )  # fmt: skip
        self.state.decisions.append(record)
        return record

    # --- waiting ---------------------------------------------------------------------------------

    async def wait(self, cond: Callable[[], bool], events: list[Event] | None = None) -> None:
        """Wait for ``cond()`` or a new version; fire each event once its time passes. At the publish time an
        unapproved item expires instead of going out late (rescheduling moves that deadline)."""
        left = list(events or [])
        epoch = self.epoch
        while True:
            if self.cancelled:
                raise Cancelled
            if cond() or self.epoch != epoch:
                return
            now = workflow.now()
            if now >= self.state.publish_at:
                await self.expire()
                continue
            due = [e for e in left if now >= e[0]]
            for event in due:
                left.remove(event)
                await event[1]()
            if due:
                continue
            await wait_until(
                lambda: cond() or self.cancelled or self.epoch != epoch,
                lambda: min([self.state.publish_at, *(when for when, _ in left)]),
                summary="content-deadline",
            )

    async def expire(self) -> None:
        before = self.state.stage
        await self.set_stage(Stage.expired)
        await self.notify(
            "alert",
            f"内容 #{self.content_id} 未在发布时间前完成审批，已过期（不会补发）",
            "请重新安排发布时间或取消。",
            user=self.inp.owner,
            key=f"expired-{self.reschedules}",
        )
        count = self.reschedules
        await workflow.wait_condition(lambda: self.cancelled or self.reschedules != count)
        if self.cancelled:
            raise Cancelled
        await self.set_stage(before)

    # --- projection and notifications ---------------------------------------------------------------

    async def set_stage(self, stage: Stage) -> None:
        self.state.stage = stage
        self.state.stage_since = workflow.now()
        workflow.upsert_search_attributes([SA_STAGE.value_set(stage.value)])
        await self.project()

    async def project(self) -> None:
        await workflow.execute_activity_method(
            ContentActivities.sync_projection,
            ProjectionUpdate(
                content_id=self.content_id,
                stage=self.state.stage,
                version=self.state.version,
                version_hash=self.state.version_hash,
                title=self.version.title,
                publish_at=self.state.publish_at,
                summary=self.state.summary,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )

    async def notify(
        self, kind: str, subject: str, body: str, *, role: str = "", user: str = "", key: str
    ) -> None:
        await notify(
            kind,
            subject,
            body,
            role=role,
            user=user,
            ref=f"content:{self.content_id}",
            dedupe_key=f"{ids.content(self.content_id)}-{key}",
        )
