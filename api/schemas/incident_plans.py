"""Request and response bodies of the ``incident_plans`` routes: *Create / *Update for what comes in, *Public for what goes out."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from domain.emergency import IncidentPlan


class PlanPublic(BaseModel):
    level: str
    version: int
    created_by: str
    created_at: datetime
    note: str
    plan: IncidentPlan


class PlanCreate(BaseModel):
    plan: IncidentPlan
    note: str = Field(default="", max_length=2000)
