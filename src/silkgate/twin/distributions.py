"""Draw durations from scenario distributions in numpy batches (the engine pops them one by one).

Drawing per truck with Python's ``random`` would dominate run time; a batch of a few
thousand numpy draws costs about as much as one Python call per draw.
"""

from __future__ import annotations

import math

import numpy as np

from silkgate.twin.schemas import Distribution, Empirical, Exponential, Fixed, Lognormal

BATCH = 4096


def lognormal_params(mean: float, sd: float) -> tuple[float, float]:
    """(mu, sigma) of the underlying normal for a lognormal with this mean and sd."""
    sigma2 = math.log1p((sd / mean) ** 2)
    return math.log(mean) - sigma2 / 2, math.sqrt(sigma2)


def draw(spec: Distribution, rng: np.random.Generator, n: int) -> np.ndarray:
    """n independent draws (minutes)."""
    if isinstance(spec, Fixed):
        return np.full(n, spec.value)
    if isinstance(spec, Exponential):
        return rng.exponential(spec.mean_min, n)
    if isinstance(spec, Lognormal):
        mu, sigma = lognormal_params(spec.mean_min, spec.sd_min)
        return rng.lognormal(mu, sigma, n)
    if isinstance(spec, Empirical):
        return rng.choice(np.asarray(spec.samples, dtype=float), n)
    return rng.triangular(spec.low, spec.mode, spec.high, n)


class Pool:
    """Endless stream of draws from one distribution, refilled in numpy batches."""

    __slots__ = ("_buf", "_rng", "_spec")

    def __init__(self, spec: Distribution, rng: np.random.Generator):
        self._spec = spec
        self._rng = rng
        self._buf: list[float] = []

    def next(self) -> float:
        buf = self._buf
        if not buf:
            buf = self._buf = draw(self._spec, self._rng, BATCH).tolist()
        return buf.pop()
