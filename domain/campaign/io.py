"""Inputs and outputs of the campaign activities (one model each, STYLE 1)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from domain.campaign.models import CampaignPlan, CampaignReport, DrawResult, PauseWindow, Stage
from domain.kernel import Platform


class ProjectionInput(BaseModel):
    campaign_id: int
    stage: Stage
    plan: CampaignPlan
    plan_hash: str
    commitment: str = ""
    beacon_round: int | None = None
    post_ref: str = ""
    results_text: str = ""
    report: CampaignReport | None = None


class CommitInput(BaseModel):
    campaign_id: int


class PostInput(BaseModel):
    campaign_id: int
    platform: Platform
    account: str
    title: str = ""
    text: str
    idempotency_key: str


class PostResult(BaseModel):
    external_id: str
    url: str


class FreezeInput(BaseModel):
    campaign_id: int
    plan: CampaignPlan
    pauses: list[PauseWindow] = Field(default_factory=list)
    opened: datetime


class InboxImportInput(BaseModel):
    campaign_id: int
    plan: CampaignPlan
    since: datetime
    until: datetime


class BeaconRecord(BaseModel):
    round: int
    round_time: int
    randomness: str
    signature: str = ""
    evidence: str
    entered_by: str


class DrawInput(BaseModel):
    campaign_id: int
    plan: CampaignPlan
    beacon: BeaconRecord


class DrawOutput(BaseModel):
    draw: DrawResult
    results_text: str
