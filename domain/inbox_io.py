"""Payloads of the interaction workflow, its updates and activities."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel, Field

from domain.inbox import Classification, InboxPolicy, Kind
from domain.kernel import Actor, Platform


class InteractionInput(BaseModel):
    interaction_id: int
    platform: Platform
    account: str
    external_id: str
    kind: Kind
    author: str
    text: str
    received_at: datetime
    classification: Classification
    policy: InboxPolicy


class ReplyRequest(BaseModel):
    actor: Actor
    text: str = Field(min_length=1, max_length=2000)
    request_key: str = Field(
        min_length=1, max_length=100, description="Idempotency key: a retry with it posts once"
    )
    save_as_faq: str = Field(
        default="", max_length=1000, description="If set, the question to save with this answer"
    )


class AssignRequest(BaseModel):
    actor: Actor
    user: str = Field(min_length=1, max_length=64)


class SnoozeRequest(BaseModel):
    actor: Actor
    until: AwareDatetime


class NoteRequest(BaseModel):
    actor: Actor
    note: str = Field(default="", max_length=2000)


class FeedbackRequest(BaseModel):
    actor: Actor
    category: str = Field(min_length=1, max_length=64)
    department: str = Field(min_length=1, max_length=64, description="product, customer_service, logistics …")
    summary: str = Field(default="", max_length=5000)


class FeedbackOutcome(BaseModel):
    actor: Actor
    outcome: str = Field(min_length=1, max_length=2000)


class HistoryEntry(BaseModel):
    at: datetime
    kind: str
    actor: str
    detail: str = ""


class InteractionState(BaseModel):
    interaction_id: int
    status: str
    intent: str
    priority: str
    assignee: str = ""
    sla_due: datetime | None = None
    first_response_at: datetime | None = None
    faq_suggestion: dict[str, object] | None = None
    hidden: bool = False
    snoozed_until: datetime | None = None
    feedback_id: int | None = None
    escalations: list[str] = Field(default_factory=list)
    history: list[HistoryEntry] = Field(default_factory=list)


class ReplyInput(BaseModel):
    interaction_id: int
    platform: Platform
    account: str
    external_id: str
    text: str
    key: str
    at: datetime
    by_person: bool = False  # an agent's reply is a first response; any other is a bot reply


class SpamFlag(BaseModel):
    """A later batch showed this item to be spam (a repeated text, its author flooding)."""

    reason: str


class VisibilityInput(BaseModel):
    interaction_id: int
    platform: Platform
    account: str
    external_id: str
    hide: bool


class AssignInput(BaseModel):
    interaction_id: int
    at: datetime


class ProjectInput(BaseModel):
    interaction_id: int
    status: str
    assignee: str = ""
    sla_due: datetime | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    hidden: bool | None = None
    intent: str | None = None  # as a person corrected it (unhidden spam is no longer spam)


class FaqLookup(BaseModel):
    text: str


class FaqHit(BaseModel):
    entry_id: int | None
    question: str = ""
    answer: str = ""
    score: float = 0.0


class FeedbackOpen(BaseModel):
    interaction_id: int
    category: str
    department: str
    summary: str
    due_at: datetime


class FeedbackClose(BaseModel):
    feedback_id: int
    outcome: str
    by: str
    at: datetime
    user_told: bool


class SaveFaq(BaseModel):
    question: str
    answer: str
    by: str
    interaction_id: int


class PollInput(BaseModel):
    """``inbox-poll-{platform}-{account}``: poll every ``every`` from ``since`` (None: one interval ago)."""

    platform: Platform
    account: str
    every: timedelta = timedelta(minutes=5)
    since: datetime | None = None


class PollWindow(BaseModel):
    platform: Platform
    account: str
    since: datetime
    until: datetime
