"""Request and response bodies of the ``reply_templates`` routes: *Create / *Update for what comes in, *Public for what goes out."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ReplyTemplateUpdate(BaseModel):
    key: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    body: str = Field(min_length=1, max_length=5000)
