"""Risk levels and the impact × likelihood matrix (R-5.1.4, R-5.1.5), shared by monitoring and incidents."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field, model_validator


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
