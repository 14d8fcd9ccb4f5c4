"""Request and response bodies of the ``notifications`` routes: *Create / *Update for what comes in, *Public for what goes out."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class NotificationPublic(BaseModel):
    id: int
    at: datetime
    kind: str
    subject: str
    body: str
    recipient_role: str
    recipient_user: str
    ref: str
