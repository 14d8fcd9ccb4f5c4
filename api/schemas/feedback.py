"""Request and response bodies of the ``feedback`` routes: *Create / *Update for what comes in, *Public for what goes out."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class FeedbackPublic(BaseModel):
    id: int
    interaction_id: int
    category: str
    department: str
    summary: str
    status: str
    due_at: datetime
    outcome: str
    resolved_by: str
    resolved_at: datetime | None
    user_told_at: datetime | None


class OutcomeIn(BaseModel):
    outcome: str = Field(min_length=1, max_length=2000)
