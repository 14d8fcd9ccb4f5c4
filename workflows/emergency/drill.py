"""``drill-…`` — started by a Temporal Schedule: opens a drill incident and runs EmergencyWorkflow in drill mode."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.emergency.workflow import EmergencyWorkflow

with workflow.unsafe.imports_passed_through():
    from activities.emergency import EmergencyActivities
    from core.temporal import SA_MODE, SA_PROCESS
    from domain import ids
    from domain.emergency import DrillScenario, IncidentState


@workflow.defn
class DrillWorkflow:
    @workflow.run
    async def run(self, scenario: DrillScenario) -> IncidentState:
        workflow.upsert_search_attributes([SA_PROCESS.value_set("drill"), SA_MODE.value_set("drill")])
        inp = await workflow.execute_activity_method(
            EmergencyActivities.open_drill_incident,
            scenario,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=5),
        )
        return await workflow.execute_child_workflow(EmergencyWorkflow.run, inp, id=ids.incident(inp.incident_id))
