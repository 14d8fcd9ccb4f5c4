"""Emergency response (R-5.1.6–R-5.1.8, R-5.2): plans, statements, incident payloads and state. Pure code.

Over 400 lines because it holds the process's models (plans, statements, state, requests) in one place
for the workflow, the API and the activities to share.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from domain.content import ComplianceOverride, Finding, Severity
from domain.kernel import Actor, Platform
from domain.limits import PlanDuration
from domain.risk import Impact, Likelihood, RiskLevel
from domain.roles import Role


class Mode(StrEnum):
    real = "real"
    drill = "drill"


class Truth(StrEnum):
    confirmed = "confirmed"
    false_alarm = "false_alarm"
    uncertain = "uncertain"


class IncidentStage(StrEnum):
    confirming = "confirming"
    assembling = "assembling"
    responding = "responding"
    resolved = "resolved"
    closed = "closed"
    false_alarm = "false_alarm"


class StatementKind(StrEnum):
    holding = "holding"  # 先发声明：we know, we are on it
    full = "full"  # the unified statement
    update = "update"  # follow-up


class StatementStatus(StrEnum):
    checking = "checking"  # being scanned and adapted per channel: not yet approvable
    draft = "draft"
    approved = "approved"
    publishing = "publishing"  # reserved by the first publish call; a second one is refused
    published = "published"


class TaskStatus(StrEnum):
    open = "open"
    done = "done"
    waived = "waived"


CLOSED_STAGES = frozenset({IncidentStage.closed, IncidentStage.false_alarm})


CUSTOMER_SERVICE = "customer_service"  # a channel: scripts sent to customer service, not a post


class IncidentPlan(BaseModel):
    """One risk level's plan (R-5.1.6). Durations are timedeltas (JSON: ISO 8601, e.g. PT30M)."""

    level: RiskLevel
    title: str
    confirmation_checklist: list[str]
    escalation_path: list[Role]
    handling_principles: list[str]
    required_roles: list[Role]
    commander_role: Role
    statement_approver: Role
    statement_templates: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list, description="platform names or 'customer_service'")
    confirm_within: PlanDuration
    acknowledge_within: PlanDuration
    holding_statement_within: PlanDuration
    full_statement_within: PlanDuration
    follow_up_every: PlanDuration
    crisis_hold: bool
    remediation_steps: list[str]
    holding_statement: str


def default_plans() -> list[IncidentPlan]:
    """The plan's three examples: an individual bad review, a small misunderstanding, a serious event."""
    return [
        IncidentPlan(
            level=RiskLevel.low,
            title="低风险：个别差评/投诉",
            confirmation_checklist=["核实用户身份与订单", "确认问题是否属实", "查看是否有扩散迹象"],
            escalation_path=[Role.interaction_agent, Role.ops_head],
            handling_principles=["先致歉再沟通，不与用户争辩", "私信跟进解决方案", "一个口径回复"],
            required_roles=[Role.interaction_agent],
            commander_role=Role.ops_head,
            statement_approver=Role.ops_head,
            statement_templates=["bad_review_reply"],
            channels=[CUSTOMER_SERVICE],
            confirm_within=timedelta(hours=2),
            acknowledge_within=timedelta(hours=1),
            holding_statement_within=timedelta(hours=4),
            full_statement_within=timedelta(hours=24),
            follow_up_every=timedelta(hours=24),
            crisis_hold=False,
            remediation_steps=["私信道歉并给出补偿方案", "问题闭环后回访用户"],
            holding_statement="您好，非常抱歉给您带来不好的体验，我们已收到您的反馈，客服将尽快与您联系处理。",
        ),
        IncidentPlan(
            level=RiskLevel.medium,
            title="中风险：小范围误解/负面讨论",
            confirmation_checklist=["核实事实与传播范围", "识别主要传播源", "评估对品牌与销售的影响"],
            escalation_path=[Role.ops_head, Role.risk_compliance, Role.leadership],
            handling_principles=["及时澄清事实", "统一口径，不删评控评", "给出可核实的依据"],
            required_roles=[Role.ops_head, Role.risk_compliance, Role.marketing],
            commander_role=Role.ops_head,
            statement_approver=Role.ops_head,
            statement_templates=["clarification"],
            channels=[Platform.weibo.value, Platform.wechat_oa.value, CUSTOMER_SERVICE],
            confirm_within=timedelta(hours=1),
            acknowledge_within=timedelta(minutes=30),
            holding_statement_within=timedelta(hours=2),
            full_statement_within=timedelta(hours=8),
            follow_up_every=timedelta(hours=8),
            crisis_hold=False,
            remediation_steps=["发布澄清说明", "向客服下发统一话术", "持续监测 72 小时"],
            holding_statement="关于网络上有关我司的讨论，我们已关注到，正在全面核实，将尽快公布进展。",
        ),
        IncidentPlan(
            level=RiskLevel.high,
            title="高风险：重大负面事件/危机",
            confirmation_checklist=[
                "核实事件真实性与严重程度",
                "确认涉及人员与范围",
                "法务评估法律风险",
                "确认是否涉及人身安全",
            ],
            escalation_path=[Role.risk_compliance, Role.ops_head, Role.leadership],
            handling_principles=[
                "第一时间发声，不沉默不拖延",
                "态度诚恳，说明事实、立场与补救措施",
                "统一口径，所有渠道一致",
                "持续更新进展",
            ],
            required_roles=[Role.leadership, Role.ops_head, Role.risk_compliance, Role.marketing],
            commander_role=Role.leadership,
            statement_approver=Role.leadership,
            statement_templates=["serious_incident"],
            channels=[Platform.weibo.value, Platform.wechat_oa.value, Platform.website.value, CUSTOMER_SERVICE],
            confirm_within=timedelta(minutes=30),
            acknowledge_within=timedelta(minutes=15),
            holding_statement_within=timedelta(hours=1),
            full_statement_within=timedelta(hours=4),
            follow_up_every=timedelta(hours=4),
            crisis_hold=True,
            remediation_steps=[
                "暂停所有排期内容",
                "成立专项小组",
                "联系法务与公关",
                "对受影响用户给予补偿",
                "事后复盘并修订预案",
            ],
            holding_statement="我们已关注到相关情况，高度重视，已成立专项小组全面调查核实，将第一时间向公众通报进展。",
        ),
    ]


class StatementTemplate(BaseModel):
    key: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    scenario: str = Field(min_length=1, max_length=200)
    level: RiskLevel
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=5000)


PLACEHOLDER = re.compile(r"\{(\w+)\}")


def placeholders(body: str) -> list[str]:
    return sorted(set(PLACEHOLDER.findall(body)))


def fill(body: str, values: dict[str, str]) -> str:
    missing = [p for p in placeholders(body) if not values.get(p)]
    if missing:
        raise ValueError(f"values: missing placeholders {', '.join(missing)}")
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], body)


def default_templates() -> list[StatementTemplate]:
    return [
        StatementTemplate(
            key="bad_review_reply",
            scenario="个别差评回复",
            level=RiskLevel.low,
            title="差评回复",
            body="{user}您好，非常抱歉给您带来不好的体验。关于{issue}，我们已安排专人跟进，稍后将私信与您联系。",
        ),
        StatementTemplate(
            key="clarification",
            scenario="误解澄清",
            level=RiskLevel.medium,
            title="关于{topic}的说明",
            body="近日，网络上出现关于{topic}的讨论。经核实，{facts}。我们将{measures}。感谢大家的关注与监督。",
        ),
        StatementTemplate(
            key="serious_incident",
            scenario="重大事件声明",
            level=RiskLevel.high,
            title="关于{event}的声明",
            body="关于{event}，我们深表歉意。经初步调查，{facts}。我们已采取以下措施：{measures}。"
            "后续进展将通过官方渠道持续公布，如有疑问请联系{contact}。",
        ),
    ]


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- workflow payloads ----------------------------------------------------------------------------


class Evidence(BaseModel):
    url: str = Field(min_length=1, max_length=1000)
    note: str = Field(default="", max_length=1000)


# A drill may be seconds long (the dev-server test runs a 3-second one), never zero or past a week.
MIN_DRILL_DURATION, MAX_DRILL_DURATION = timedelta(seconds=1), timedelta(days=7)


class DrillScenario(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    level_hint: RiskLevel = RiskLevel.high
    duration: timedelta = Field(
        default=timedelta(hours=2),
        ge=MIN_DRILL_DURATION,
        le=MAX_DRILL_DURATION,
        description="The drill closes itself after this (PT1S … P7D)",
    )


class IncidentInput(BaseModel):
    incident_id: int
    title: str
    description: str = ""
    reported_by: str
    evidence: list[Evidence] = Field(default_factory=list)
    topic: str = ""
    mode: Mode = Mode.real
    plans: dict[RiskLevel, IncidentPlan]
    plan_versions: dict[RiskLevel, int] = Field(default_factory=dict)
    matrix_cells: dict[str, dict[str, str]] = Field(default_factory=dict)
    escalate_confirm_to: Role = Role.leadership
    repage_limit: int = 1
    drill: DrillScenario | None = None


class ConfirmRequest(BaseModel):
    actor: Actor
    truth: Truth
    scope: str = Field(default="", max_length=2000)
    impact: Impact
    likelihood: Likelihood
    note: str = Field(default="", max_length=2000)


class MemberRequest(BaseModel):
    actor: Actor
    user: str = Field(min_length=1, max_length=64)
    role: Role


class AckRequest(BaseModel):
    actor: Actor


class AssessRequest(BaseModel):
    actor: Actor
    nature: str = Field(min_length=1, max_length=2000)
    trend: str = Field(default="", max_length=2000)
    likely_impact: str = Field(default="", max_length=2000)
    impact: Impact | None = None
    likelihood: Likelihood | None = None


class DraftStatementRequest(BaseModel):
    actor: Actor
    kind: StatementKind
    text: str = Field(min_length=1, max_length=5000)
    template_key: str = ""
    channels: list[str] = Field(default_factory=list)


class ApproveStatementRequest(BaseModel):
    actor: Actor
    statement_id: int
    text_hash: str


class StatementRef(BaseModel):
    actor: Actor
    statement_id: int


class TaskRequest(BaseModel):
    actor: Actor
    kind: str = Field(min_length=1, max_length=32, description="customer_service, legal, pr, media, partners, …")
    title: str = Field(min_length=1, max_length=500)
    owner: str = Field(min_length=1, max_length=64)
    due_in: timedelta
    required: bool = True
    request_key: str = Field(default="", max_length=200, description="Idempotency-Key: the same key adds one task")


class ResolveRequest(BaseModel):
    actor: Actor
    summary: str = Field(min_length=1, max_length=5000)
    waive_reason: str = Field(default="", max_length=2000)


class ActionItem(BaseModel):
    title: str = Field(min_length=1, max_length=500)
    kind: str = Field(default="improvement", pattern=r"^(plan_revision|training|improvement)$")
    owner: str = Field(min_length=1, max_length=64)
    due_in: timedelta = timedelta(days=14)


class PostmortemRequest(BaseModel):
    actor: Actor
    causes: str = Field(min_length=1, max_length=10000)
    went_well: str = Field(default="", max_length=10000)
    went_badly: str = Field(default="", max_length=10000)
    lessons: str = Field(default="", max_length=10000)
    action_items: list[ActionItem] = Field(default_factory=list)
    plan_revision: IncidentPlan | None = None


class ChannelResult(BaseModel):
    channel: str
    ok: bool
    external_id: str = ""
    url: str = ""
    error: str = ""


class StatementVariant(BaseModel):
    channel: str
    title: str = ""
    body: str


class Statement(BaseModel):
    id: int
    kind: StatementKind
    text: str
    text_hash: str
    template_key: str = ""
    channels: list[str]
    status: StatementStatus
    drafted_by: str
    drafted_by_roles: list[Role] = Field(default_factory=list)  # the drafter's roles when drafting
    drafted_at: datetime
    approved_by: str = ""
    approved_at: datetime | None = None
    published_at: datetime | None = None
    results: list[ChannelResult] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list, description="compliance scan and platform rules")
    variants: list[StatementVariant] = Field(
        default_factory=list, description="what goes to each platform channel; the approved hash covers them"
    )
    override: ComplianceOverride | None = None

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.blocking]


class StatementOverride(BaseModel):
    actor: Actor
    statement_id: int
    reason: str = Field(min_length=1, max_length=2000)


def statement_hash(text: str, variants: list[StatementVariant]) -> str:
    """What an approval binds: the text and every channel's adapted version of it."""
    if not variants:
        return text_hash(text)
    canonical = json.dumps(
        {"text": text, "variants": [v.model_dump() for v in variants]}, sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def adapt_statement(text: str, title: str, channels: list[str]) -> tuple[list[StatementVariant], list[Finding]]:
    """Each platform channel's version of a statement under that platform's rules (R-4.1.4): no title where
    the platform has none, a title within its limit where it needs one, and a text within its length —
    shortened with a pointer to the full text on the website, which the approver sees before approving."""
    from domain.platform_rules import RULES, text_length

    variants: list[StatementVariant] = []
    findings: list[Finding] = []
    for channel in channels:
        try:
            platform = Platform(channel)
        except ValueError:
            continue  # customer service and other non-platform channels get the text itself
        rules = RULES[platform]
        tlimit = rules.max_title_chars.value
        vtitle = "" if tlimit is None else title[: int(tlimit)] if isinstance(tlimit, int) else title
        body = text
        limit = rules.max_text_chars.value
        if isinstance(limit, int) and text_length(body) > limit:
            suffix = "……（全文见官网声明）"
            cut = body
            while cut and text_length(cut + suffix) > limit:
                cut = cut[:-1]
            body = cut + suffix
            findings.append(
                Finding(
                    code="statement_shortened",
                    severity=Severity.warning,
                    message=f"{rules.label_zh}正文最多 {limit} 字：已缩写并指向官网全文，请确认缩写版本",
                    field="text",
                    platform=platform,
                )
            )
        variants.append(StatementVariant(channel=channel, title=vtitle, body=body))
    return variants, findings


class Member(BaseModel):
    user: str
    role: Role
    paged_at: datetime
    pages: int = 1
    acknowledged_at: datetime | None = None
    escalated: bool = False


class TaskRecord(BaseModel):
    number: int
    workflow_id: str
    kind: str
    title: str
    owner: str
    due_at: datetime
    required: bool
    status: TaskStatus = TaskStatus.open
    note: str = ""


class TimelineEntry(BaseModel):
    at: datetime
    kind: str
    actor: str
    detail: str


class Figures(BaseModel):
    time_to_confirm_s: float | None = None
    time_to_team_s: float | None = None
    time_to_first_statement_s: float | None = None
    updates_due: int = 0
    updates_on_time: int = 0
    deadlines: dict[str, bool] = Field(default_factory=dict, description="deadline name -> met")

    @property
    def cadence_adherence(self) -> float | None:
        return round(self.updates_on_time / self.updates_due, 3) if self.updates_due else None


class Assessment(BaseModel):
    nature: str
    trend: str = ""
    likely_impact: str = ""
    by: str
    at: datetime


class Postmortem(BaseModel):
    causes: str
    went_well: str = ""
    went_badly: str = ""
    lessons: str = ""
    action_items: list[TaskRecord] = Field(default_factory=list)
    figures: dict[str, Any] = Field(default_factory=dict)
    by: str
    timeline: list[TimelineEntry] = Field(default_factory=list)
    plan_version_created: int | None = None


class IncidentState(BaseModel):
    incident_id: int
    title: str
    mode: Mode
    stage: IncidentStage
    level: RiskLevel | None = None
    plan_version: int | None = None
    truth: Truth | None = None
    scope: str = ""
    impact: Impact | None = None
    likelihood: Likelihood | None = None
    assessment: Assessment | None = None
    commander: str = ""
    members: list[Member] = Field(default_factory=list)
    statements: list[Statement] = Field(default_factory=list)
    tasks: list[TaskRecord] = Field(default_factory=list)
    next_update_due: datetime | None = None
    crisis_hold: bool = False
    timeline: list[TimelineEntry] = Field(default_factory=list)
    figures: Figures = Field(default_factory=Figures)
    started_at: datetime
    resolved_at: datetime | None = None
    resolution: str = ""
    postmortem: Postmortem | None = None
    evidence: list[Evidence] = Field(default_factory=list)


class TaskInput(BaseModel):
    incident_id: int
    number: int
    kind: str
    title: str
    owner: str
    due_at: datetime
    mode: Mode = Mode.real
    remind_before: timedelta = timedelta(hours=1)


class TaskUpdate(BaseModel):
    actor: Actor
    note: str = Field(default="", max_length=2000)


class TaskReassign(BaseModel):
    """The commander (or ops_head, leadership) hands an open task to someone else."""

    actor: Actor
    number: int
    owner: str = Field(min_length=1, max_length=64)
    note: str = Field(default="", max_length=2000)


class TaskReassigned(BaseModel):
    owner: str
    by: str
    note: str = ""


class TaskResult(BaseModel):
    status: TaskStatus
    note: str = ""
    by: str = ""
    at: datetime | None = None


class EvidenceBatch(BaseModel):
    source: str = Field(min_length=1, max_length=64)
    items: list[Evidence] = Field(min_length=1, max_length=200)


DRILL_MARK = "【演练】"


def drill_mark(text: str) -> str:
    """A drill's text marked exactly once, at the front (an incident title may already carry the mark)."""
    return DRILL_MARK + text.replace(DRILL_MARK, "").lstrip()
