"""Request and response bodies of the ``faq`` routes: *Create / *Update for what comes in, *Public for what goes out."""

from __future__ import annotations

from pydantic import BaseModel, Field


class FaqCreate(BaseModel):
    question: str = Field(min_length=1, max_length=1000)
    answer: str = Field(min_length=1, max_length=5000)
    keywords: list[str] = Field(default_factory=list, max_length=20)


class FaqPublic(FaqCreate):
    id: int
    active: bool
    created_by: str
