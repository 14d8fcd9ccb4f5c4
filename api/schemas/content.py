"""Request and response bodies of the ``content`` routes: *Create / *Update for what comes in, *Public for what goes out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field, field_validator

from db.models import ContentItem
from domain.content import (
    ContentFormat,
    ContentState,
    Decision,
    Goal,
    KpiTargets,
    MediaRef,
    PlatformVariant,
    Resources,
    Stage,
    Target,
    VersionContent,
    VersionRecord,
)
from domain.kernel import Platform


class VersionIn(BaseModel):
    title: str = Field(default="", max_length=500)
    body: str = Field(min_length=1, max_length=50_000)
    media: list[MediaRef] = Field(default_factory=list, max_length=50)
    topics: list[str] = Field(default_factory=list, max_length=20)
    variants: dict[Platform, PlatformVariant] = Field(default_factory=dict)
    facts_flagged: bool = False

    def to_content(self) -> VersionContent:
        return VersionContent(**self.model_dump())


class ContentCreate(VersionIn):
    goal: Goal
    audience: str = Field(default="", max_length=500)
    core_message: str = Field(default="", max_length=1000)
    theme: str = Field(default="", max_length=200)
    format: ContentFormat
    targets: list[Target] = Field(min_length=1, max_length=20)
    publish_at: AwareDatetime
    resources: Resources = Field(default_factory=Resources)
    kpi: KpiTargets = Field(default_factory=KpiTargets)

    @field_validator("publish_at")
    @classmethod
    def _future(cls, v: datetime) -> datetime:
        if v <= datetime.now(UTC) + timedelta(minutes=1):
            raise ValueError("must be at least a minute in the future")
        return v


class VersionCreate(VersionIn):
    note: str = Field(default="", max_length=2000)


class SubmitIn(BaseModel):
    version_hash: str | None = Field(default=None, min_length=64, max_length=64)


class ReviewCreate(BaseModel):
    stage: Stage
    version_hash: str = Field(min_length=64, max_length=64)
    decision: Decision
    notes: str = Field(default="", max_length=5000)


class OverrideIn(BaseModel):
    version_hash: str = Field(min_length=64, max_length=64)
    reason: str = Field(min_length=1, max_length=2000)


class RescheduleIn(BaseModel):
    publish_at: AwareDatetime


class ReasonIn(BaseModel):
    reason: str = Field(default="", max_length=2000)


class RequiredReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class CorrectionCreate(VersionIn):
    reason: str = Field(min_length=1, max_length=2000)
    publish_at: AwareDatetime


class ContentPublic(BaseModel):
    id: int
    title: str
    stage: str
    owner: str
    goal: str
    format: str
    platforms: list[str]
    targets: list[dict[str, Any]]
    publish_at: datetime
    current_version: int
    version_hash: str
    corrects_id: int | None
    expedited: bool
    updated_at: datetime
    process: str = Field(
        default="started",
        description="started, or starting: recorded, its process starts within a minute (Temporal was busy)",
    )

    @classmethod
    def of(cls, item: ContentItem, *, starting: bool = False) -> ContentPublic:
        """The item's record as the API shows it (``starting``: its process start is still pending)."""
        assert item.id is not None
        return cls(
            process="starting" if starting else "started",
            id=item.id,
            title=item.title,
            stage=item.stage,
            owner=item.owner_name,
            goal=item.goal,
            format=item.format,
            platforms=[p for p in item.platforms.split(",") if p],
            targets=item.targets,
            publish_at=item.publish_at,
            current_version=item.current_version,
            version_hash=item.version_hash,
            corrects_id=item.corrects_id,
            expedited=item.expedited,
            updated_at=item.updated_at,
        )


class ContentDetailPublic(ContentPublic):
    audience: str
    core_message: str
    theme: str
    resources: dict[str, Any]
    kpi: dict[str, Any]
    summary: dict[str, Any] | None
    corrections: list[int]
    versions: list[VersionRecord]
    state: ContentState | None
    state_error: str | None = None


class VersionPublic(BaseModel):
    number: int
    hash: str
    author: str
    note: str
    created_at: datetime
    content: VersionContent


# --- helpers -------------------------------------------------------------------------------------


class FeedUrlPublic(BaseModel):
    url: str
