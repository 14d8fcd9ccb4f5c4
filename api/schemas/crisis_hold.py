"""Request and response bodies of the ``crisis_hold`` routes: *Create / *Update for what comes in, *Public for what goes out."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class HolderPublic(BaseModel):
    holder: str
    reason: str
    set_by: str
    set_at: datetime


class HoldPublic(BaseModel):
    active: bool
    reason: str
    set_by: str
    incident_id: str
    changed_at: datetime
    holders: list[HolderPublic] = Field(
        default_factory=list, description="Who holds it: each active incident, or a person (manual)"
    )
    held_items: list[int] = Field(default_factory=list)
    awaiting_release: list[int] = Field(
        default_factory=list, description="Items held earlier that now wait for ops_head's confirmation"
    )


class HoldUpdate(BaseModel):
    active: bool
    reason: str = Field(min_length=1, max_length=2000)
    incident_id: str = Field(
        default="",
        max_length=100,
        description="Hold on behalf of / release this incident's hold (its workflow id); empty: a manual hold. "
        "A release with no incident_id lifts every hold (an override, audited).",
    )
