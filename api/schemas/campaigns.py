"""Request and response bodies of the ``campaigns`` routes: *Create / *Update for what comes in, *Public for what goes out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field

from domain.campaign.models import (
    CampaignState,
    Decision,
    EntryMethod,
    Finding,
    PrizeEvent,
    Stage,
)
from domain.kernel import Platform
from domain.limits import MAX_ID


class CampaignSummary(BaseModel):
    id: int
    title: str
    owner: str
    stage: str
    commitment: str
    beacon_round: int | None
    n: int | None
    root: str
    created_at: datetime
    process: str = Field(
        default="started",
        description="started, or starting: recorded, its process starts within a minute (Temporal was busy)",
    )


class CampaignPublic(CampaignSummary):
    plan: dict[str, Any]
    plan_hash: str
    results_text: str
    report: dict[str, Any] | None
    state: CampaignState | None
    state_error: str | None = None


class ChecklistPublic(BaseModel):
    findings: list[Finding]
    blocking: bool
    needs_leadership: bool


class ReviewCreate(BaseModel):
    stage: Stage
    plan_hash: str = Field(min_length=64, max_length=64)
    decision: Decision
    notes: str = Field(default="", max_length=5000)


class ReasonCreate(BaseModel):
    reason: str = Field(default="", max_length=2000)


class EntryCreate(BaseModel):
    platform: Platform
    user: str = Field(min_length=1, max_length=200)
    method: EntryMethod
    external_id: str = Field(
        min_length=1, max_length=200, description="the comment/repost/DM id: redelivery is harmless"
    )
    text: str = Field(default="", max_length=2000)
    at: AwareDatetime
    account_created_at: AwareDatetime | None = None
    follows: bool | None = None
    region: str = Field(default="", max_length=64)


class EntriesCreate(BaseModel):
    entries: list[EntryCreate] = Field(min_length=1, max_length=1000)


class EntriesPublic(BaseModel):
    stored: int
    already_known: int


class BeaconCreate(BaseModel):
    round: int = Field(ge=1, le=MAX_ID, description="the drand quicknet round named in the launch post")
    randomness: str = Field(pattern=r"^[0-9a-fA-F]{64}$")
    signature: str = Field(default="", pattern=r"^([0-9a-fA-F]{2})*$")
    evidence: str = Field(min_length=1, max_length=2000)


class ResultsCreate(BaseModel):
    text_hash: str = Field(min_length=64, max_length=64)


class PrizeCreate(BaseModel):
    event: PrizeEvent
    note: str = Field(default="", max_length=500)


class AddressCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    phone: str = Field(min_length=5, max_length=30)
    address: str = Field(min_length=5, max_length=1000)


class ComplaintCreate(BaseModel):
    note: str = Field(min_length=1, max_length=2000)


class WinnerPublic(BaseModel):
    slot: int
    prize: str
    status: str
    entrant: str | None
    address_due: datetime | None
    has_address: bool
    forfeits: list[str]


# --- helpers ----------------------------------------------------------------------------------------
