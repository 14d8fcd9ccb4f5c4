"""Request and response bodies of the ``audit_log`` routes: *Create / *Update for what comes in, *Public for what goes out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class AuditPublic(BaseModel):
    id: int
    at: datetime
    actor_id: int | None
    actor_name: str
    roles: list[str]
    action: str
    target: str
    request_id: str
    detail: dict[str, Any]
