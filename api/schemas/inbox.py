"""Request and response bodies of the ``inbox`` routes: *Create / *Update for what comes in, *Public for what goes out."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field

from domain.inbox import Kind
from domain.inbox_io import (
    InteractionState,
)
from domain.limits import MAX_COUNT


class InteractionPublic(BaseModel):
    id: int
    platform: str
    account: str
    kind: str
    external_id: str
    author: str
    text: str
    intent: str
    sentiment: str
    priority: str
    reasons: list[str]
    status: str
    assignee: str
    received_at: datetime
    sla_due_at: datetime | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    hidden: bool


class InteractionDetailPublic(InteractionPublic):
    state: InteractionState | None
    state_error: str | None = None


class ReplyIn(BaseModel):
    text: str = Field(default="", max_length=2000)
    template: str = Field(default="", max_length=64, description="Reply with this template's text instead")
    save_as_faq: str = Field(default="", max_length=1000)


class UserIn(BaseModel):
    user: str = Field(min_length=1, max_length=64)


class SnoozeIn(BaseModel):
    until: AwareDatetime


class NoteIn(BaseModel):
    note: str = Field(default="", max_length=2000)


class FeedbackIn(BaseModel):
    category: str = Field(min_length=1, max_length=64)
    department: str = Field(min_length=1, max_length=64, pattern=r"^[a-z_]+$")
    summary: str = Field(default="", max_length=5000)


class IngestItem(BaseModel):
    external_id: str = Field(min_length=1, max_length=200)
    kind: Kind = Kind.comment
    text: str = Field(min_length=1, max_length=10000)
    author: str = Field(default="", max_length=200)
    author_followers: int = Field(default=0, ge=0, le=MAX_COUNT)
    received_at: AwareDatetime | None = None


class IngestIn(BaseModel):
    items: list[IngestItem] = Field(min_length=1, max_length=500)
