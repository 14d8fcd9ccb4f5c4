"""The content lifecycle process (``content-{id}``): see ``workflow.py``."""

from workflows.content.workflow import ContentWorkflow

__all__ = ["ContentWorkflow"]
