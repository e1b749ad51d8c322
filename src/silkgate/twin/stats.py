"""Statistics across replications: means with 95% intervals, paired differences, Erlang C."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Estimate:
    """Mean of a figure over replications with the half-width of its 95% t-interval."""

    mean: float
    half_width: float
    n: int

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    def covers(self, value: float) -> bool:
        return self.low <= value <= self.high

    def as_dict(self) -> dict[str, float | int | None]:
        def clean(x: float) -> float | None:
            return None if not math.isfinite(x) else x

        return {
            "mean": clean(self.mean),
            "ci95_low": clean(self.low),
            "ci95_high": clean(self.high),
            "n": self.n,
        }


def t_quantile(df: int, level: float = 0.95) -> float:
    """Two-sided Student t quantile (scipy imported only when needed)."""
    from scipy import stats

    return float(stats.t.ppf(0.5 + level / 2, df))


def estimate(values: list[float] | np.ndarray, level: float = 0.95) -> Estimate:
    """Mean and t-interval; NaN values (a figure undefined in a replication) are dropped."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return Estimate(float("nan"), float("nan"), 0)
    if n == 1:
        return Estimate(float(x[0]), float("nan"), 1)
    half = t_quantile(n - 1, level) * float(x.std(ddof=1)) / math.sqrt(n)
    return Estimate(float(x.mean()), half, n)


def aggregate(per_rep: list[dict[str, float]]) -> dict[str, Estimate]:
    """Estimate every figure present in any replication."""
    keys = sorted({k for rep in per_rep for k in rep})
    return {k: estimate([rep.get(k, float("nan")) for rep in per_rep]) for k in keys}


def paired_differences(a: list[dict[str, float]], b: list[dict[str, float]]) -> dict[str, Estimate]:
    """B minus A per replication (same seeds, so common random numbers), then estimated."""
    keys = sorted(set().union(*a) & set().union(*b)) if a and b else []
    n = min(len(a), len(b))
    return {
        k: estimate([b[i].get(k, float("nan")) - a[i].get(k, float("nan")) for i in range(n)])
        for k in keys
    }


def erlang_c(servers: int, arrival_rate: float, service_rate: float) -> float:
    """Probability that an arrival waits in an M/M/c queue (Erlang C)."""
    a = arrival_rate / service_rate
    if a >= servers:
        return 1.0
    term, total = 1.0, 1.0
    for k in range(1, servers):
        term *= a / k
        total += term
    top = term * a / servers / (1 - a / servers)
    return top / (total + top)


def mmc_mean_wait(servers: int, arrival_rate: float, service_rate: float) -> float:
    """Mean time in queue of an M/M/c system, in the time unit of the rates."""
    if arrival_rate >= servers * service_rate:
        return math.inf
    return erlang_c(servers, arrival_rate, service_rate) / (servers * service_rate - arrival_rate)
