"""Risk levels and the impact × likelihood matrix (R-5.1.4, R-5.1.5), shared by monitoring and incidents."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache

from pydantic import BaseModel, Field, model_validator

from domain.textmatch import Automaton


class RiskLevel(StrEnum):
    none = "none"
    low = "low"
    medium = "medium"
    high = "high"


LEVEL_ORDER = {RiskLevel.none: 0, RiskLevel.low: 1, RiskLevel.medium: 2, RiskLevel.high: 3}


class Impact(StrEnum):
    minor = "minor"  # one user, no spread
    moderate = "moderate"  # a group of users, local spread
    major = "major"  # brand image, sales or trust visibly hurt
    severe = "severe"  # safety, legal or nationwide attention


class Likelihood(StrEnum):
    unlikely = "unlikely"
    possible = "possible"
    likely = "likely"
    certain = "certain"


class RiskMatrix(BaseModel):
    """``cells[impact][likelihood] -> level``; ``priority`` maps a level to a handling priority (P1 first)."""

    cells: dict[Impact, dict[Likelihood, RiskLevel]]
    priority: dict[RiskLevel, str] = Field(
        default_factory=lambda: {
            RiskLevel.high: "P1",
            RiskLevel.medium: "P2",
            RiskLevel.low: "P3",
            RiskLevel.none: "P4",
        }
    )

    @model_validator(mode="after")
    def _complete(self) -> RiskMatrix:
        for impact in Impact:
            row = self.cells.get(impact)
            if row is None or set(row) != set(Likelihood):
                raise ValueError(f"cells.{impact.value}: every likelihood needs a level")
        return self

    def level(self, impact: Impact, likelihood: Likelihood) -> RiskLevel:
        return self.cells[impact][likelihood]


def default_matrix() -> RiskMatrix:
    L, M, H, N = RiskLevel.low, RiskLevel.medium, RiskLevel.high, RiskLevel.none
    return RiskMatrix(
        cells={
            Impact.minor: {
                Likelihood.unlikely: N,
                Likelihood.possible: L,
                Likelihood.likely: L,
                Likelihood.certain: L,
            },
            Impact.moderate: {
                Likelihood.unlikely: L,
                Likelihood.possible: L,
                Likelihood.likely: M,
                Likelihood.certain: M,
            },
            Impact.major: {
                Likelihood.unlikely: L,
                Likelihood.possible: M,
                Likelihood.likely: H,
                Likelihood.certain: H,
            },
            Impact.severe: {
                Likelihood.unlikely: M,
                Likelihood.possible: H,
                Likelihood.likely: H,
                Likelihood.certain: H,
            },
        }
    )


# --- risk vocabulary (shared by monitoring and the inbox) ------------------------------------------------

# Product and food safety: fire, smoke, burning, swollen batteries, electric shock, allergy, poisoning, injury.
SAFETY_TERMS = (
    "爆炸",
    "炸了",
    "起火",
    "着火",
    "自燃",
    "冒烟",
    "烧焦",
    "烧糊",
    "焦味",
    "烧坏",
    "短路",
    "鼓包",
    "漏电",
    "触电",
    "电到手",
    "过敏",
    "起疹子",
    "红疹",
    "中毒",
    "食物中毒",
    "拉肚子",
    "上吐下泻",
    "腹泻",
    "呕吐",
    "发霉",
    "变质",
    "吃出虫",
    "异物",
    "玻璃渣",
    "致癌",
    "有毒",
    "超标",
    "受伤",
    "烫伤",
    "划伤",
    "割伤",
    "夹伤",
    "进医院",
    "住院",
    "死亡",
    "召回",
    "漏气",
    "安全隐患",
)
# Legal exposure: courts, lawyers, regulators, fraud.
LEGAL_TERMS = (
    "起诉",
    "诉讼",
    "法院",
    "律师",
    "律师函",
    "告你们",
    "违法",
    "立案",
    "罚款",
    "诈骗",
    "维权",
    "仲裁",
    "报警",
    "315",
    "12315",
    "消协",
    "消费者协会",
    "市场监管",
    "监管部门",
    "工商局",
)
# Intent to take it outside: the press, regulators, courts, or a public post. An item saying so may spread
# whatever its sentiment ("我已经投诉到12315了，等着吧" reads calm).
SPREAD_TERMS = (
    "曝光",
    "媒体",
    "记者",
    "报社",
    "电视台",
    "上新闻",
    "热搜",
    "发微博",
    "发到网上",
    "发网上",
    "挂到网上",
    "挂网上",
    "让大家看看",
    "投诉到",
    "12315",
    "315",
    "消协",
    "消费者协会",
    "市场监管",
    "工商局",
    "监管部门",
    "黑猫投诉",
    "举报",
    "起诉",
    "告你们",
    "法院",
    "律师",
    "报警",
)


# Words that also appear in friendly posts ("在媒体上看到你们的公益活动"): enough on a complaint, not on praise.
WEAK_SPREAD_TERMS = frozenset({"媒体", "记者", "报社", "电视台", "上新闻", "热搜", "发微博", "315"})


@lru_cache(maxsize=1)
def _spread_automaton() -> Automaton[str]:
    return Automaton({t: "spread" for t in SPREAD_TERMS})


def spread_terms(text: str) -> list[str]:
    """The press / regulator / court / public-post terms in a text, in order of first appearance."""
    found = list(dict.fromkeys(m.term for m in _spread_automaton().find_all(text)))
    return [t for t in found if not any(t != o and t in o for o in found)]  # 12315, not also 315
