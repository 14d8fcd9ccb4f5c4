"""Risk of one monitored item (R-5.1.5): the signals, the impact × likelihood assessment with its reasons,
and the vocabularies that raise impact on their own (product safety, legal exposure). Pure code."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.monitoring.items import AUTHORITY_POINTS, Authority
from domain.monitoring.terms import LEGAL_TERMS, SAFETY_TERMS
from domain.risk import Impact, Likelihood, RiskLevel, RiskMatrix
from domain.sentiment import Sentiment
from domain.textmatch import Automaton


@dataclass(slots=True)
class ItemSignals:
    """What is known about one item and its topic's recent traffic when it is assessed."""

    sentiment: Sentiment
    sentiment_confidence: float = 0.0
    authority: Authority = Authority.individual
    author_followers: int = 0
    engagement: int = 0  # likes + comments + reposts
    reposts: int = 0
    groups: set[str] = field(default_factory=set)
    text: str = ""
    topic_items_last_hour: int = 0
    topic_negative_share: float = 0.0
    repost_growth_per_hour: float = 0.0
    risk_terms: tuple[list[str], list[str]] | None = None  # (safety, legal) when already found, else scanned


@dataclass(slots=True)
class RiskAssessment:
    level: RiskLevel
    priority: str
    impact: Impact
    likelihood: Likelihood
    reasons: list[str]


_RISK_TERMS = Automaton({**{t: "safety" for t in SAFETY_TERMS}, **{t: "legal" for t in LEGAL_TERMS}})


def assess(s: ItemSignals, matrix: RiskMatrix) -> RiskAssessment:
    reasons: list[str] = []
    points = AUTHORITY_POINTS[s.authority]
    if points:
        reasons.append(f"来源权威性：{s.authority.value}（+{points}）")
    if s.author_followers >= 1_000_000:
        points += 2
        reasons.append(f"作者粉丝 {s.author_followers:,}（≥100万，+2）")
    elif s.author_followers >= 100_000:
        points += 1
        reasons.append(f"作者粉丝 {s.author_followers:,}（≥10万，+1）")
    if "founder" in s.groups:
        points += 1
        reasons.append("涉及创始人（+1）")
    if s.risk_terms is not None:
        safety, legal = s.risk_terms
    else:
        found = _RISK_TERMS.find_all(s.text) if s.text else []
        safety = sorted({m.term for m in found if m.payload == "safety"})
        legal = sorted({m.term for m in found if m.payload == "legal"})
    if safety:
        points += 2
        reasons.append(f"产品安全词：{'、'.join(safety)}（+2）")
    if legal:
        points += 2
        reasons.append(f"法律风险词：{'、'.join(legal)}（+2）")
    if s.engagement >= 1000:
        points += 1
        reasons.append(f"互动量 {s.engagement:,}（≥1000，+1）")
    negative = s.sentiment is Sentiment.negative
    if not negative and not safety and not legal:
        points = min(points, 1)
    impact = (
        Impact.minor
        if points <= 1
        else Impact.moderate
        if points == 2
        else Impact.major
        if points <= 4
        else Impact.severe
    )

    chance = 0
    if s.topic_items_last_hour >= 50:
        chance += 2
        reasons.append(f"话题近 1 小时 {s.topic_items_last_hour} 条（≥50，+2）")
    elif s.topic_items_last_hour >= 10:
        chance += 1
        reasons.append(f"话题近 1 小时 {s.topic_items_last_hour} 条（≥10，+1）")
    if s.topic_negative_share >= 0.5:
        chance += 1
        reasons.append(f"负面占比 {s.topic_negative_share:.0%}（≥50%，+1）")
    if s.repost_growth_per_hour >= 100:
        chance += 1
        reasons.append(f"转发增长快（每小时约 {s.repost_growth_per_hour:,.0f} 次，≥100，+1）")
    elif s.reposts >= 500:
        chance += 1
        reasons.append(f"转发量大（转发 {s.reposts:,}，≥500，+1）")
    if negative and s.sentiment_confidence >= 0.6:
        chance += 1
        reasons.append(f"明确负面（置信度 {s.sentiment_confidence:.2f}，+1）")
    likelihood = [Likelihood.unlikely, Likelihood.possible, Likelihood.likely, Likelihood.certain][min(chance, 3)]

    level = matrix.level(impact, likelihood)
    if not negative and not safety and not legal:
        level = RiskLevel.none
        reasons.append(f"情感为{s.sentiment.value}且无安全/法律风险词：无风险")
    reasons.insert(0, f"影响 {impact.value} × 可能性 {likelihood.value} → {level.value}")
    return RiskAssessment(
        level=level, priority=matrix.priority[level], impact=impact, likelihood=likelihood, reasons=reasons
    )


# --- spikes --------------------------------------------------------------------------------------------
