"""Request and response bodies of the ``statement_templates`` routes: *Create / *Update for what comes in, *Public for what goes out."""

from __future__ import annotations

from datetime import datetime

from domain.emergency import StatementTemplate


class TemplatePublic(StatementTemplate):
    version: int
    status: str
    placeholders: list[str]
    created_by: str
    approved_by: str
    approved_at: datetime | None
