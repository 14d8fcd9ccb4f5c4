"""An item as a source delivers it, before analysis."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from domain.limits import MAX_COUNT


class Authority(StrEnum):
    news = "news"
    forum = "forum"
    social = "social"
    individual = "individual"


AUTHORITY_POINTS = {Authority.news: 2, Authority.forum: 1, Authority.social: 1, Authority.individual: 0}


class RawItem(BaseModel):
    """An item as a source delivers it, before analysis."""

    external_id: str = Field(min_length=1, max_length=200)
    url: str = Field(default="", max_length=1000)
    title: str = Field(default="", max_length=500)
    text: str = Field(min_length=1, max_length=20000)
    author: str = Field(default="", max_length=200)
    author_followers: int = Field(default=0, ge=0, le=MAX_COUNT)
    engagement: int = Field(default=0, ge=0, le=MAX_COUNT)
    reposts: int = Field(default=0, ge=0, le=MAX_COUNT)
    published_at: datetime | None = None
