"""Request and response bodies of the ``compliance_terms`` routes: *Create / *Update for what comes in, *Public for what goes out."""

from __future__ import annotations

from pydantic import BaseModel, Field

from domain.compliance import TermCategory
from domain.content import Severity


class TermCreate(BaseModel):
    term: str = Field(min_length=1, max_length=100)
    category: TermCategory
    severity: Severity = Severity.blocking
    note: str = Field(default="", max_length=500)


class TermPublic(TermCreate):
    id: int
    active: bool
