"""``monitor-{topic}`` — MonitoringWorkflow (R-5.1.1–R-5.1.5).

One long-lived workflow per topic: sweep the topic's sources at its tier's frequency (analysis and
storage run in batches inside the sweep activity, never a workflow per item), alert on spikes, and hand
high-risk items to the emergency workflow (one open incident per topic). High-risk items pushed through
the ingest webhook arrive as signals and are escalated at once. ``update_topic`` applies a changed topic
immediately; the history stays short through continue-as-new.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from workflows.common import RETRY, notify

with workflow.unsafe.imports_passed_through():
    from activities.monitoring import MonitoringActivities
    from core.temporal import SA_PROCESS, SA_RISK_LEVEL, SA_STAGE
    from domain.errors import invalid
    from domain.monitoring import TopicSpec
    from domain.monitoring_io import EscalateInput, HighRisk, MonitorInput, MonitorState, SweepInput
    from domain.roles import Role


@workflow.defn
class MonitoringWorkflow:
    @workflow.init
    def __init__(self, inp: MonitorInput) -> None:
        self.state = MonitorState(spec=inp.spec, sweeps=inp.sweeps, escalations=inp.escalations)
        self.pending: list[int] = list(inp.pending)
        self.changed = False

    @workflow.query
    def current(self) -> MonitorState:
        return self.state

    @workflow.signal
    def high_risk(self, hit: HighRisk) -> None:
        self.pending += [i for i in hit.item_ids if i not in self.pending]

    @workflow.update
    def update_topic(self, spec: TopicSpec) -> MonitorState:
        self.state.spec = spec
        self.changed = True
        return self.state

    @update_topic.validator
    def _check_topic(self, spec: TopicSpec) -> None:
        if spec.key != self.state.spec.key:
            raise invalid("key", f"this workflow watches {self.state.spec.key!r}; the key cannot change")

    @workflow.update
    def stop(self) -> MonitorState:
        self.state.stopped = True
        return self.state

    @workflow.run
    async def run(self, inp: MonitorInput) -> MonitorState:
        workflow.upsert_search_attributes([SA_PROCESS.value_set("monitoring"), SA_STAGE.value_set("watching")])
        loops = 0
        if self.state.next_sweep is None:
            self.state.next_sweep = workflow.now()
        while not self.state.stopped:
            wait = self.state.next_sweep - workflow.now() if self.state.next_sweep else timedelta(0)
            if wait > timedelta(0) and not self.pending and not self.changed:
                try:
                    await workflow.wait_condition(
                        lambda: bool(self.pending) or self.changed or self.state.stopped,
                        timeout=wait,
                        timeout_summary="next-sweep",
                    )
                except TimeoutError:
                    pass
            if self.state.stopped:
                break
            if self.pending:
                ids, self.pending = self.pending, []
                await self._escalate(ids)
                continue
            if self.changed:  # a changed topic takes effect now: sweep with it at once
                self.changed = False
            await self._sweep()
            loops += 1
            if loops >= inp.continue_after or workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    MonitorInput(
                        spec=self.state.spec,
                        pending=self.pending,
                        sweeps=self.state.sweeps,
                        escalations=self.state.escalations,
                        continue_after=inp.continue_after,
                    )
                )
        workflow.upsert_search_attributes([SA_STAGE.value_set("stopped")])
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state

    async def _sweep(self) -> None:
        spec = self.state.spec
        now = workflow.now()
        window_start = self.state.last_sweep or now - spec.interval
        result = await workflow.execute_activity_method(
            MonitoringActivities.sweep,
            SweepInput(spec=spec, window_start=window_start, now=now),
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=RETRY,
        )
        self.state.sweeps += 1
        self.state.last_sweep = now
        self.state.last_result = result
        self.state.next_sweep = now + spec.interval
        if result.spike:
            await self._notify(
                "alert", f"舆情异动：{spec.name}", result.spike_detail, key=f"spike-{self.state.sweeps}"
            )
        if result.high_risk_ids:
            await self._escalate(result.high_risk_ids)

    async def _escalate(self, ids: list[int]) -> None:
        spec = self.state.spec
        res = await workflow.execute_activity_method(
            MonitoringActivities.escalate,
            EscalateInput(topic_key=spec.key, topic_name=spec.name, item_ids=ids),
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RETRY,
        )
        self.state.escalations += 1
        self.state.last_incident_id = res.incident_id
        workflow.upsert_search_attributes([SA_RISK_LEVEL.value_set("high")])
        await self._notify(
            "alert",
            f"高风险舆情已{'升级为新事件' if res.created else '并入事件'} #{res.incident_id}：{spec.name}",
            f"{len(ids)} 条高风险内容",
            key=f"escalate-{self.state.escalations}",
        )

    async def _notify(self, kind: str, subject: str, body: str, key: str) -> None:
        await notify(
            kind,
            subject,
            body,
            role=Role.risk_compliance.value,
            ref=f"monitor:{self.state.spec.key}",
            dedupe_key=f"monitor-{self.state.spec.key}-{workflow.info().run_id}-{key}",
        )
