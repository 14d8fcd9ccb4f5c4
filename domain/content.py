"""Content lifecycle (R-4.1): plan, versions, review stages, decisions and workflow payloads. Pure code."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, Field, field_validator

from domain.kernel import Actor, Platform, WorkCalendarConfig
from domain.limits import MAX_COUNT, MAX_MEDIA_MB, MAX_MEDIA_SECONDS, MAX_MONEY_CNY
from domain.roles import Role


class Goal(StrEnum):
    awareness = "awareness"
    engagement = "engagement"
    launch = "launch"
    conversion = "conversion"
    service = "service"
    correction = "correction"


class ContentFormat(StrEnum):
    image_text = "image_text"
    article = "article"
    short_video = "short_video"
    live = "live"
    comic = "comic"
    text = "text"


VIDEO_FORMATS = frozenset({ContentFormat.short_video, ContentFormat.live})
IMAGE_FORMATS = frozenset({ContentFormat.image_text, ContentFormat.comic})


class Stage(StrEnum):
    draft = "draft"
    compliance_blocked = "compliance_blocked"
    review_compliance = "review_compliance"
    review_brand = "review_brand"
    review_accuracy = "review_accuracy"
    review_final = "review_final"
    revision = "revision"
    scheduled = "scheduled"
    held = "held"
    awaiting_release = "awaiting_release"
    publishing = "publishing"
    tracking = "tracking"
    completed = "completed"
    expired = "expired"
    rejected = "rejected"
    cancelled = "cancelled"
    retracted = "retracted"
    failed = "failed"


REVIEW_STAGES: tuple[Stage, ...] = (
    Stage.review_compliance,
    Stage.review_brand,
    Stage.review_accuracy,
    Stage.review_final,
)
EXPEDITED_STAGES: tuple[Stage, ...] = (Stage.review_compliance, Stage.review_final)
TERMINAL_STAGES = frozenset({Stage.completed, Stage.rejected, Stage.cancelled, Stage.retracted, Stage.failed})
EDITABLE_STAGES = frozenset({Stage.draft, Stage.revision, Stage.compliance_blocked, *REVIEW_STAGES, Stage.expired})

# Who may decide at each stage.
STAGE_ROLES: dict[Stage, frozenset[Role]] = {
    Stage.review_compliance: frozenset({Role.risk_compliance}),
    Stage.review_brand: frozenset({Role.ops_head, Role.marketing}),
    Stage.review_accuracy: frozenset({Role.business_reviewer}),
    Stage.review_final: frozenset({Role.ops_head, Role.leadership}),
}
# Who is told when a stage runs past twice its SLA.
ESCALATION_ROLE: dict[Stage, Role] = {
    Stage.review_compliance: Role.ops_head,
    Stage.review_brand: Role.ops_head,
    Stage.review_accuracy: Role.ops_head,
    Stage.review_final: Role.leadership,
}


class Decision(StrEnum):
    approve = "approve"
    request_changes = "request_changes"
    reject = "reject"


class MediaRef(BaseModel):
    kind: str = Field(pattern=r"^(image|video|audio|file)$")
    uri: str = Field(min_length=1, max_length=1000)
    licence: str = Field(default="", max_length=200, description="Licence or rights note, e.g. 自有版权")
    source: str = Field(default="", max_length=500, description="Where it came from")
    duration_s: float | None = Field(default=None, ge=0, le=MAX_MEDIA_SECONDS)
    size_mb: float | None = Field(default=None, ge=0, le=MAX_MEDIA_MB)
    is_cover: bool = False


class PlatformVariant(BaseModel):
    """A creator's own wording for one platform; adaptation fills in what is missing."""

    title: str | None = Field(default=None, max_length=500)
    body: str | None = Field(default=None, max_length=50_000)
    topics: list[str] = Field(default_factory=list, max_length=20)


class VersionContent(BaseModel):
    title: str = Field(default="", max_length=500)
    body: str = Field(default="", max_length=50_000)
    media: list[MediaRef] = Field(default_factory=list, max_length=50)
    topics: list[str] = Field(default_factory=list, max_length=20)
    variants: dict[Platform, PlatformVariant] = Field(default_factory=dict)
    facts_flagged: bool = Field(default=False, description="The creator says the text states facts to check")

    def content_hash(self) -> str:
        return content_hash(self)


def content_hash(content: VersionContent) -> str:
    canonical = json.dumps(content.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class Target(BaseModel):
    platform: Platform
    account: str = Field(min_length=1, max_length=100)


class KpiTargets(BaseModel):
    views: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    likes: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    comments: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    reposts: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    favourites: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    follower_gain: int | None = Field(default=None, ge=0, le=MAX_COUNT)


class Resources(BaseModel):
    materials: list[str] = Field(default_factory=list)
    people: list[str] = Field(default_factory=list)
    budget_cny: float | None = Field(default=None, ge=0, le=MAX_MONEY_CNY)


class ContentPlan(BaseModel):
    goal: Goal
    audience: str = Field(default="", max_length=500)
    core_message: str = Field(default="", max_length=1000)
    theme: str = Field(default="", max_length=200)
    format: ContentFormat
    targets: list[Target] = Field(min_length=1, max_length=20)
    publish_at: AwareDatetime
    resources: Resources = Field(default_factory=Resources)
    kpi: KpiTargets = Field(default_factory=KpiTargets)

    @field_validator("targets")
    @classmethod
    def _unique_targets(cls, v: list[Target]) -> list[Target]:
        seen = set()
        for t in v:
            if (t.platform, t.account) in seen:
                raise ValueError(f"duplicate target {t.platform.value}/{t.account}")
            seen.add((t.platform, t.account))
        return v


class Severity(StrEnum):
    blocking = "blocking"
    warning = "warning"


class Finding(BaseModel):
    code: str
    severity: Severity
    message: str
    field: str = ""
    platform: Platform | None = None
    match: str = ""


class ReviewSla(BaseModel):
    hours: float = Field(default=4.0, gt=0)
    business_hours: bool = Field(default=True, description="Count only working hours (calendar below)")


DEFAULT_CHECKPOINTS = [timedelta(hours=1), timedelta(hours=24), timedelta(hours=72), timedelta(days=7)]


class ContentWorkflowInput(BaseModel):
    content_id: int
    owner: str
    owner_id: int
    plan: ContentPlan
    version: VersionContent
    expedited: bool = False
    corrects_id: int | None = None
    sla: ReviewSla = Field(default_factory=ReviewSla)
    calendar: WorkCalendarConfig = Field(default_factory=WorkCalendarConfig)
    checkpoints: list[timedelta] = Field(default_factory=lambda: list(DEFAULT_CHECKPOINTS))

    @field_validator("checkpoints")
    @classmethod
    def _distinct_checkpoints(cls, v: list[timedelta]) -> list[timedelta]:
        """Positive, at least a second apart and in order: each has its own label and its own reading."""
        if any(d.total_seconds() < 1 for d in v):
            raise ValueError("checkpoints must be positive")
        ordered = sorted(set(v))
        labels = [checkpoint_label(d) for d in ordered]
        if len(set(labels)) != len(labels):
            raise ValueError("checkpoints must be whole seconds apart")
        return ordered

    hold_poll: timedelta = timedelta(minutes=5)
    publish_window: timedelta = Field(
        default=timedelta(minutes=10), description="How late after publish_at an approved item may still go out"
    )
    async_publish_poll: timedelta = Field(
        default=timedelta(seconds=30), description="How often an asynchronous publish (WeChat) is polled"
    )
    async_publish_max_wait: timedelta = Field(
        default=timedelta(hours=2), description="How long an asynchronous publish may stay queued before it fails"
    )


# --- updates -------------------------------------------------------------------------------------


class ReviseRequest(BaseModel):
    actor: Actor
    content: VersionContent
    note: str = ""


class SubmitRequest(BaseModel):
    actor: Actor
    version_hash: str | None = None


class ReviewRequest(BaseModel):
    actor: Actor
    stage: Stage
    version_hash: str
    decision: Decision
    notes: str = Field(default="", max_length=5000)


class OverrideRequest(BaseModel):
    actor: Actor
    version_hash: str
    reason: str = Field(min_length=1, max_length=2000)


class RescheduleRequest(BaseModel):
    actor: Actor
    publish_at: AwareDatetime


class ReasonRequest(BaseModel):
    actor: Actor
    reason: str = Field(default="", max_length=2000)


# --- results and state ---------------------------------------------------------------------------


class VersionRecord(BaseModel):
    number: int
    hash: str
    author: str
    created_at: datetime
    note: str = ""


class DecisionRecord(BaseModel):
    stage: Stage
    decision: Decision | str
    actor: str
    roles: list[str]
    version: int
    version_hash: str
    notes: str = ""
    at: datetime


class SubmitResult(BaseModel):
    submitted: bool
    findings: list[Finding]
    stage: Stage


class AdaptedVariant(BaseModel):
    platform: Platform
    account: str
    title: str
    body: str
    media: list[MediaRef]
    errors: list[Finding] = Field(default_factory=list)


class PublicationRecord(BaseModel):
    platform: Platform
    account: str
    idempotency_key: str
    external_id: str = ""
    url: str = ""
    published_at: datetime | None = None
    confirmed: bool | None = None
    confirmation_note: str = ""
    retracted: bool = False
    pending: bool = False  # an asynchronous publish (WeChat) the platform has queued but not finished
    publish_id: str = ""


class MetricsSnapshot(BaseModel):
    views: int = 0
    likes: int = 0
    comments: int = 0
    reposts: int = 0
    favourites: int = 0
    follower_gain: int = 0

    def plus(self, other: MetricsSnapshot) -> MetricsSnapshot:
        return MetricsSnapshot(**{k: getattr(self, k) + getattr(other, k) for k in type(self).model_fields})


class KpiResult(BaseModel):
    metric: str
    target: int
    actual: int
    delta: int
    ratio: float
    met: bool


class EffectSummary(BaseModel):
    totals: MetricsSnapshot
    results: list[KpiResult]
    beat: list[str]
    missed: list[str]


def effect_summary(totals: MetricsSnapshot, kpi: KpiTargets) -> EffectSummary:
    results: list[KpiResult] = []
    for metric, target in kpi.model_dump().items():
        if target is None:
            continue
        actual = int(getattr(totals, metric))
        ratio = round(actual / target, 3) if target else 1.0
        results.append(
            KpiResult(
                metric=metric,
                target=target,
                actual=actual,
                delta=actual - target,
                ratio=ratio,
                met=actual >= target,
            )
        )
    return EffectSummary(
        totals=totals,
        results=results,
        beat=[r.metric for r in results if r.met],
        missed=[r.metric for r in results if not r.met],
    )


class ComplianceOverride(BaseModel):
    by: str
    reason: str
    at: datetime


def checkpoint_label(d: timedelta) -> str:
    """An exact, unique label for a metric checkpoint: T+90m, T+1h, T+36h, T+7d (never rounded)."""
    seconds = int(d.total_seconds())
    if seconds % 86400 == 0 and seconds >= 7 * 86400:
        return f"T+{seconds // 86400}d"
    if seconds % 3600 == 0:
        return f"T+{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"T+{seconds // 60}m"
    return f"T+{seconds}s"


class ContentState(BaseModel):
    content_id: int
    stage: Stage
    version: int
    version_hash: str
    publish_at: datetime
    expedited: bool = False
    review_stages: list[Stage] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    compliance_override: ComplianceOverride | None = None
    revision_notes: str = ""
    decisions: list[DecisionRecord] = Field(default_factory=list)
    versions: list[VersionRecord] = Field(default_factory=list)
    variants: list[AdaptedVariant] = Field(default_factory=list)
    publications: list[PublicationRecord] = Field(default_factory=list)
    reminders_sent: list[str] = Field(default_factory=list)
    held_since: datetime | None = None
    stage_since: datetime | None = None
    metrics: dict[str, MetricsSnapshot] = Field(default_factory=dict)
    summary: EffectSummary | None = None
    outcome_reason: str = ""
