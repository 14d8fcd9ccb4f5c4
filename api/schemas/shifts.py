"""Request and response bodies of the ``shifts`` routes: *Create / *Update for what comes in, *Public for what goes out."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, Field


class ShiftCreate(BaseModel):
    user: str = Field(min_length=1, max_length=64)
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class ShiftPublic(ShiftCreate):
    id: int
