"""The emergency response processes: ``incident-{id}`` (workflow.py), its tasks (task.py) and drills (drill.py)."""

from workflows.emergency.drill import DrillWorkflow
from workflows.emergency.task import IncidentTaskWorkflow
from workflows.emergency.workflow import EmergencyWorkflow

__all__ = ["DrillWorkflow", "EmergencyWorkflow", "IncidentTaskWorkflow"]
