"""The input of the notification activity every workflow uses."""

from __future__ import annotations

from pydantic import BaseModel


class NotifyInput(BaseModel):
    kind: str  # reminder | escalation | alert | info
    subject: str
    body: str = ""
    recipient_role: str = ""
    recipient_user: str = ""
    ref: str = ""
    dedupe_key: str
    drill: bool = False
