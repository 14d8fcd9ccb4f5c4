"""Campaign (抽奖/互动活动) models: the plan, entries, the process state, and every update's input.

Pure pydantic, safe inside workflows. Nothing here carries the draw secret or a winner's address: those
live encrypted in the database and the workflow passes ids (STYLE: no secrets or personal data in
history).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, Field, field_validator

from domain.kernel import Actor, Platform
from domain.limits import MAX_MONEY_CNY


class EntryMethod(StrEnum):
    comment = "comment"  # comment on the campaign post
    repost = "repost"
    keyword = "keyword"  # a keyword in a comment
    dm = "dm"
    form = "form"


class Eligibility(BaseModel):
    one_entry_per_user: bool = True
    min_account_age_days: int | None = Field(default=None, ge=0, le=3650)
    must_follow: bool = False
    excluded_staff: list[str] = Field(default_factory=list, description="platform:user of employees")
    blacklist: list[str] = Field(default_factory=list, description="platform:user of banned accounts")
    regions: list[str] = Field(default_factory=list, description="allowed regions; empty = anywhere")

    def stated(self) -> bool:
        return (
            self.min_account_age_days is not None
            or self.must_follow
            or bool(self.excluded_staff or self.blacklist or self.regions)
        )


class Prize(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    quantity: int = Field(default=0, ge=0, le=100000)
    unit_value: Decimal | None = Field(default=None, ge=0, le=MAX_MONEY_CNY, description="CNY per prize")
    physical: bool = True  # needs a shipping address


class AccountRef(BaseModel):
    platform: Platform
    account: str = Field(min_length=1, max_length=200)


class CampaignPlan(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    goal: str = Field(default="", max_length=2000)
    accounts: list[AccountRef] = Field(default_factory=list, max_length=20)
    entry_methods: list[EntryMethod] = Field(default_factory=list)
    keyword: str = Field(default="", max_length=100)
    eligibility: Eligibility = Field(default_factory=Eligibility)
    prizes: list[Prize] = Field(default_factory=list, max_length=50)
    reserves: int = Field(default=3, ge=0, le=1000, description="reserve winners drawn after the prizes")
    start_at: datetime | None = None
    close_at: datetime | None = None
    draw_at: datetime | None = None
    results_deadline: datetime | None = None
    budget: Decimal = Field(default=Decimal(0), ge=0, le=MAX_MONEY_CNY)
    rules_text: str = Field(default="", max_length=20000)
    post_text: str = Field(default="", max_length=5000, description="the launch post; the draw line is added")
    address_days: int = Field(default=7, ge=1, le=90, description="days a winner has to give an address")

    @field_validator("start_at", "close_at", "draw_at", "results_deadline")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone (e.g. 2026-12-01T10:00:00+08:00)")
        return value

    @field_validator("entry_methods")
    @classmethod
    def _unique(cls, value: list[EntryMethod]) -> list[EntryMethod]:
        return list(dict.fromkeys(value))

    def prize_total(self) -> Decimal:
        return sum(((p.unit_value or Decimal(0)) * p.quantity for p in self.prizes), Decimal(0))

    def max_prize_value(self) -> Decimal:
        return max((p.unit_value or Decimal(0) for p in self.prizes), default=Decimal(0))

    def slots(self) -> list[str]:
        return [p.name for p in self.prizes for _ in range(p.quantity)]

    def collects_addresses(self) -> bool:
        return any(p.physical and p.quantity for p in self.prizes)


def plan_hash(plan: CampaignPlan) -> str:
    """Approvals bind to this exact plan (as content approvals bind to a version hash)."""
    canonical = json.dumps(plan.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class Severity(StrEnum):
    blocking = "blocking"
    warning = "warning"


class Finding(BaseModel):
    code: str
    severity: Severity
    field: str
    reason: str  # Chinese, user-facing


class Stage(StrEnum):
    draft = "draft"
    review_compliance = "review_compliance"
    review_leadership = "review_leadership"
    approved = "approved"  # waiting for the start time
    running = "running"
    paused = "paused"
    frozen = "frozen"  # closed, entrant list fixed, waiting for the public random value
    results_review = "results_review"
    prizes = "prizes"
    completed = "completed"
    rejected = "rejected"
    cancelled = "cancelled"


REVIEW_STAGES = (Stage.review_compliance, Stage.review_leadership)


class Decision(StrEnum):
    approve = "approve"
    request_changes = "request_changes"
    reject = "reject"


class Thresholds(BaseModel):
    prize_cap: Decimal = Field(default=Decimal(50000), description="legal cap for one prize (CNY)")
    leadership_budget: Decimal = Field(default=Decimal(20000), description="budget above this → leadership")
    leadership_prize_value: Decimal = Field(default=Decimal(5000), description="one prize above this → leadership")


class Timing(BaseModel):
    """Durations are inputs (STYLE 6), so tests and deployments can set them."""

    beacon_reminder: timedelta = timedelta(hours=1)  # after the draw time, no public value yet
    results_reminder_before: timedelta = timedelta(hours=24)
    results_escalation_before: timedelta = timedelta(hours=4)
    review_sla: timedelta = timedelta(hours=8)
    inbox_sweep: timedelta | None = timedelta(
        hours=1
    )  # entries taken from the inbox this often (None: only at close)


class CampaignInput(BaseModel):
    campaign_id: int
    owner: str
    owner_id: int
    plan: CampaignPlan
    thresholds: Thresholds = Field(default_factory=Thresholds)
    timing: Timing = Field(default_factory=Timing)


# --- update inputs ----------------------------------------------------------------------------------


class ReviseRequest(BaseModel):
    actor: Actor
    plan: CampaignPlan


class SubmitRequest(BaseModel):
    actor: Actor


class SubmitResult(BaseModel):
    submitted: bool
    findings: list[Finding]
    stage: Stage
    plan_hash: str


class ReviewRequest(BaseModel):
    actor: Actor
    stage: Stage
    plan_hash: str
    decision: Decision
    notes: str = ""


class ActorRequest(BaseModel):
    actor: Actor
    reason: str = ""


class BeaconRequest(BaseModel):
    actor: Actor
    round: int = Field(ge=1)
    randomness: str = Field(pattern=r"^[0-9a-fA-F]{64}$")
    signature: str = Field(default="", pattern=r"^([0-9a-fA-F]{2})*$")
    evidence: str = Field(min_length=1, max_length=2000, description="where the value was read (URL, screenshot)")


class ResultsApproval(BaseModel):
    actor: Actor
    text_hash: str


class PrizeEvent(StrEnum):
    address_received = "address_received"
    shipped = "shipped"
    delivered = "delivered"
    declined = "declined"


class PrizeUpdate(BaseModel):
    actor: Actor
    slot: int = Field(ge=0)
    event: PrizeEvent
    note: str = Field(default="", max_length=500)  # tracking number, courier


class ComplaintRequest(BaseModel):
    actor: Actor
    note: str = Field(min_length=1, max_length=2000)


# --- state ------------------------------------------------------------------------------------------


class DecisionRecord(BaseModel):
    stage: Stage
    decision: str
    actor: str
    roles: list[str]
    plan_hash: str
    notes: str
    at: datetime


class PauseWindow(BaseModel):
    start: datetime
    end: datetime | None = None


class FreezeResult(BaseModel):
    n: int
    root: str
    entries: int
    unique_users: int
    excluded: dict[str, int] = Field(default_factory=dict)  # reason code → count


class Pick(BaseModel):
    rank: int  # 0-based position in the draw stream
    index: int  # position in the frozen entrant list
    entry_id: int  # the entry row (no handle or address in history)


class DrawResult(BaseModel):
    seed: str
    winners: list[Pick]
    reserves: list[Pick]
    draw_sha256: str  # SHA-256 of the stored draw.json


class SlotStatus(StrEnum):
    contacted = "contacted"
    address_received = "address_received"
    shipped = "shipped"
    delivered = "delivered"
    forfeited = "forfeited"
    unfilled = "unfilled"


class PrizeSlot(BaseModel):
    slot: int
    prize: str
    unit_value: Decimal | None = None
    physical: bool = True
    entry_id: int | None = None
    pick_rank: int | None = None
    status: SlotStatus = SlotStatus.contacted
    address_due: datetime | None = None
    note: str = ""
    history: list[str] = Field(default_factory=list)  # entry ids that forfeited this slot, with why


class CampaignReport(BaseModel):
    entries: int
    unique_users: int
    eligible: int
    excluded: dict[str, int]
    budget: Decimal
    prize_cost: Decimal
    cost_per_entry: Decimal | None
    complaints: int
    delivered: int
    forfeited: int
    unfilled: int
    results_on_time: bool


class CampaignState(BaseModel):
    campaign_id: int
    stage: Stage
    plan_hash: str
    findings: list[Finding] = Field(default_factory=list)
    needs_leadership: bool = False
    decisions: list[DecisionRecord] = Field(default_factory=list)
    commitment: str = ""
    beacon_round: int | None = None
    post_ref: str = ""
    pauses: list[PauseWindow] = Field(default_factory=list)
    freeze: FreezeResult | None = None
    beacon_randomness: str = ""
    beacon_evidence: str = ""
    draw: DrawResult | None = None
    results_text: str = ""
    results_hash: str = ""
    results_published_at: datetime | None = None
    slots: list[PrizeSlot] = Field(default_factory=list)
    complaints: int = 0
    notices: list[str] = Field(default_factory=list)  # reminders / escalations sent
    report: CampaignReport | None = None
    outcome_reason: str = ""
