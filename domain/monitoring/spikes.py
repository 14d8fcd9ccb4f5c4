"""Spike detection over a topic's volume per sweep (EWMA baseline). Pure code."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pydantic import BaseModel


class EwmaState(BaseModel):
    mean: float = 0.0
    var: float = 0.0
    n: int = 0


@dataclass
class SpikeDetector:
    """Exponentially weighted mean and variance; a value above mean + k·σ (after warm-up) is a spike."""

    alpha: float = 0.3
    k: float = 3.0
    warmup: int = 5
    min_value: float = 5.0
    poisson: bool = True  # counts: σ is at least √mean, so a quiet baseline does not alarm on noise
    min_std: float = 0.0
    state: EwmaState = field(default_factory=EwmaState)

    def update(self, x: float) -> tuple[bool, float]:
        s = self.state
        std = max(math.sqrt(s.var), math.sqrt(max(s.mean, 1.0)) if self.poisson else 0.0, self.min_std)
        z = (x - s.mean) / std if std > 0 else (math.inf if x > s.mean else 0.0)
        spike = s.n >= self.warmup and x >= self.min_value and x > s.mean + self.k * max(std, 1e-9)
        if s.n == 0:
            s.mean, s.var = x, 0.0
        else:
            diff = x - s.mean
            incr = self.alpha * diff
            s.mean += incr
            s.var = (1 - self.alpha) * (s.var + diff * incr)
        s.n += 1
        return spike, z
