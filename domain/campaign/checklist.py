"""The rules checklist run before a campaign may go to review (R-4.2.3): ambiguity and legal risk.

Each finding names the plan field and gives its reason in Chinese for the people who fix it. Blocking
findings stop the submission; warnings go to the reviewer with the plan.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

from domain.campaign.models import CampaignPlan, EntryMethod, Finding, Severity, Thresholds

# "本活动最终解释权归本公司所有" and its variants: a standard clause that excludes the consumer's rights.
_INTERPRETATION = re.compile(r"(最终|最後|最后)\s*(解释|解釋)\s*权|解释权\s*(归|属于)")
_PRIVACY = ("隐私", "个人信息")
_DRAW_METHOD = ("随机", "抽取", "抽奖方式", "开奖", "公证", "drand", "承诺值")
_ELIGIBILITY = ("参与资格", "参与条件", "不得参与", "每人限", "每位用户", "仅限")


def _blocking(code: str, field: str, reason: str) -> Finding:
    return Finding(code=code, severity=Severity.blocking, field=field, reason=reason)


def _warning(code: str, field: str, reason: str) -> Finding:
    return Finding(code=code, severity=Severity.warning, field=field, reason=reason)


def check(plan: CampaignPlan, thresholds: Thresholds | None = None, now: datetime | None = None) -> list[Finding]:
    """Every finding on ``plan``; with ``now`` (the workflow's clock) a close time already past is one too."""
    t = thresholds or Thresholds()
    out: list[Finding] = []
    rules = plan.rules_text
    if not plan.accounts:
        out.append(_blocking("no_accounts", "accounts", "未指定发布活动的平台和账号。"))
    if not plan.entry_methods:
        out.append(
            _blocking("no_entry_method", "entry_methods", "未说明参与方式（评论、转发、关键词、私信或表单）。")
        )
    if EntryMethod.keyword in plan.entry_methods and not plan.keyword.strip():
        out.append(_blocking("no_keyword", "keyword", "参与方式为关键词评论，但未给出关键词。"))
    if plan.start_at is None:
        out.append(_blocking("no_start_time", "start_at", "未设置活动开始时间。"))
    if plan.close_at is None:
        out.append(
            _blocking(
                "no_close_time", "close_at", "未设置活动截止时间：参与者无法知道何时停止计入，容易引发争议。"
            )
        )
    elif plan.start_at is not None and plan.close_at <= plan.start_at:
        out.append(_blocking("close_before_start", "close_at", "截止时间早于或等于开始时间。"))
    elif now is not None and plan.close_at <= now:
        out.append(_blocking("close_in_past", "close_at", "截止时间已过，活动无法开始。"))
    if plan.draw_at is None:
        out.append(_blocking("no_draw_time", "draw_at", "未说明开奖时间。"))
    elif plan.close_at is not None and plan.draw_at <= plan.close_at:
        out.append(
            _blocking("draw_before_close", "draw_at", "开奖时间必须晚于截止时间（先冻结名单，再取公开随机数）。")
        )
    if plan.results_deadline is None:
        out.append(_blocking("no_results_deadline", "results_deadline", "未设置中奖结果公布的最晚时间。"))
    elif plan.draw_at is not None and plan.results_deadline <= plan.draw_at:
        out.append(_blocking("results_before_draw", "results_deadline", "结果公布期限早于开奖时间。"))
    if not any(m in rules for m in _DRAW_METHOD):
        out.append(
            _blocking(
                "draw_method_not_stated", "rules_text", "规则未说明开奖方式（如何随机抽取、由谁执行、如何核验）。"
            )
        )
    if not plan.prizes:
        out.append(_blocking("no_prizes", "prizes", "未列出奖品。"))
    for i, prize in enumerate(plan.prizes):
        if prize.quantity <= 0:
            out.append(_blocking("no_prize_quantity", f"prizes.{i}.quantity", f"奖品“{prize.name}”未写明数量。"))
        if prize.unit_value is None:
            out.append(_blocking("no_prize_value", f"prizes.{i}.unit_value", f"奖品“{prize.name}”未写明价值。"))
        elif prize.unit_value > t.prize_cap:
            out.append(
                _blocking(
                    "prize_above_legal_cap",
                    f"prizes.{i}.unit_value",
                    f"奖品“{prize.name}”单件价值 ¥{prize.unit_value} 超过抽奖式有奖销售最高奖上限 "
                    f"¥{t.prize_cap}（《反不正当竞争法》有奖销售条款），须调整。",
                )
            )
    if not plan.eligibility.stated() and not any(m in rules for m in _ELIGIBILITY):
        out.append(
            _blocking(
                "eligibility_not_stated",
                "eligibility",
                "未说明参与资格（如每人限一次、账号要求、员工及黑名单账号不得参与、地区限制）。",
            )
        )
    if _INTERPRETATION.search(rules):
        out.append(
            _blocking(
                "final_interpretation_clause",
                "rules_text",
                "规则含“最终解释权归…所有”类条款：属于排除消费者权利的格式条款（《消费者权益保护法》第二十六条），"
                "监管部门会认定无效并可处罚，请删除并写明具体规则。",
            )
        )
    if plan.collects_addresses() and not any(m in rules for m in _PRIVACY):
        out.append(
            _blocking(
                "no_privacy_notice",
                "rules_text",
                "实物奖品需要收集收货地址，但规则未告知个人信息的用途、保存期限和删除方式（《个人信息保护法》第十七条）。",
            )
        )
    if not rules.strip():
        out.append(_blocking("no_rules_text", "rules_text", "缺少活动规则正文。"))
    total = plan.prize_total()
    if plan.budget and total > plan.budget:
        out.append(_warning("prizes_above_budget", "budget", f"奖品总价值 ¥{total} 超出预算 ¥{plan.budget}。"))
    if plan.budget == Decimal(0):
        out.append(_warning("no_budget", "budget", "未填写预算，无法计算单次参与成本。"))
    return out


def needs_leadership(plan: CampaignPlan, thresholds: Thresholds | None = None) -> bool:
    """R-3.1: a budget or a single prize above the configured thresholds also needs leadership approval."""
    t = thresholds or Thresholds()
    return plan.budget > t.leadership_budget or plan.max_prize_value() > t.leadership_prize_value


def blocking(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity is Severity.blocking]
