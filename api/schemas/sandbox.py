"""Request and response bodies of the ``sandbox`` routes: *Create / *Update for what comes in, *Public for what goes out."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class SandboxPostPublic(BaseModel):
    external_id: str
    platform: str
    account: str
    title: str
    text: str
    status: str  # live | deleted | hidden | pending
    url: str
    created_at: datetime
    deleted_reason: str = ""
