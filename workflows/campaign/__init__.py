"""The campaign process (``campaign-{id}``): see ``workflow.py``."""

from workflows.campaign.workflow import CampaignWorkflow

__all__ = ["CampaignWorkflow"]
