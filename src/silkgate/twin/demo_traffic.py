"""Trucks drawn from ``silkgate.demo``'s traffic generator (``[demand] source = "demo-generator"``).

The core's demo, its benchmarks and the twin then describe the same traffic. From each
generated declaration the twin takes three things: the direction (``crossing.exit_country``
→ ``entry_country``), whether it carries a TIR carnet, and when it was submitted (the daytime
profile of ``TrafficGenerator.day``). A truck is ready to cross at submission + lead time (an
ASSUMPTION, scenario key ``lead_time``). The scenario keeps the volume: the sum of its
directions' trucks per day, spread over the week by its ``weekly_profile``, Poisson per day.

Speed: the full generator costs about 40 µs a declaration (20,000 in 0.8 s on the
development machine), so the 365,000 trucks of the benchmark year would spend ~15 s in it,
more than the simulation itself. The generator therefore runs once per process for
``sample_size`` declarations (20,000 by default) and every replication resamples trucks from
that pool with numpy, i.e. from the generator's empirical joint distribution of
(direction, TIR carnet, submission minute).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

import numpy as np

from silkgate.twin.distributions import draw
from silkgate.twin.schemas import DIRECTIONS, Demand, Scenario

DIRECTION_NAMES = tuple(DIRECTIONS)
_BY_COUNTRIES = {(ex.upper(), en.upper()): i for i, (ex, en) in enumerate(DIRECTIONS.values())}
_DAY = 1440.0
_CHUNK = 1000  # declarations generated per simulated day while sampling (bounds memory)


@dataclass(frozen=True)
class TrafficPool:
    """What the twin uses of ``size`` generated declarations, one entry per declaration."""

    seed: int
    direction: np.ndarray  # index into DIRECTION_NAMES
    tir: np.ndarray  # bool: the declaration carries a TIR carnet
    minute: np.ndarray  # minute of the day it was submitted, 0 <= minute < 1440

    @property
    def size(self) -> int:
        return int(self.direction.size)

    def direction_share(self, name: str) -> float:
        return float(np.mean(self.direction == DIRECTION_NAMES.index(name)))

    def tir_share(self, name: str | None = None) -> float:
        mine = self.tir if name is None else self.tir[self.direction == DIRECTION_NAMES.index(name)]
        return float(mine.mean()) if mine.size else float("nan")


def direction_of(body: dict[str, Any]) -> int:
    """Index of a declaration's direction, from its crossing's exit and entry countries."""
    crossing = body["crossing"]
    pair = (crossing["exit_country"], crossing["entry_country"])
    if pair not in _BY_COUNTRIES:
        raise ValueError(f"declaration crosses {pair[0]}→{pair[1]}, not a direction of the twin")
    return _BY_COUNTRIES[pair]


@lru_cache(maxsize=4)
def traffic_pool(seed: int, size: int) -> TrafficPool:
    """Run the shared generator for ``size`` declarations (once per process and seed)."""
    from silkgate.demo.traffic import TrafficGenerator

    class Recorder(TrafficGenerator):
        """The generator as is; it only remembers when ``day`` said each one was submitted."""

        def __init__(self, seed: int) -> None:
            super().__init__(seed)
            self.submitted: list[datetime | None] = []

        def declaration(
            self, when: datetime | None = None, lrn_prefix: str = "DEMO"
        ) -> dict[str, Any]:
            self.submitted.append(when)
            return super().declaration(when, lrn_prefix)

    gen = Recorder(seed)
    directions: list[int] = []
    tir: list[bool] = []
    minutes: list[float] = []
    first = date(2026, 11, 2)  # a Monday; the date itself changes nothing the twin uses
    for k, start in enumerate(range(0, size, _CHUNK)):
        day = first + timedelta(days=k)
        gen.submitted.clear()
        bodies = gen.day(day, min(_CHUNK, size - start), lrn_prefix="TWIN")
        for body, when in zip(bodies, gen.submitted, strict=True):
            if when is None or when.date() != day:
                raise ValueError(f"generator submitted a declaration outside its day: {when}")
            directions.append(direction_of(body))
            tir.append("tir_carnet" in body)
            minutes.append(when.hour * 60 + when.minute + when.second / 60)
    return TrafficPool(
        seed=seed,
        direction=np.asarray(directions, dtype=np.int64),
        tir=np.asarray(tir, dtype=bool),
        minute=np.asarray(minutes, dtype=float),
    )


def pool_for(demand: Demand) -> TrafficPool:
    return traffic_pool(demand.generator_seed(), demand.generator_sample_size())


@dataclass
class DrawnTrucks:
    """One direction's trucks from the generator: ready times (sorted) and TIR flags."""

    ready: np.ndarray
    tir: np.ndarray


def draw_trucks(scenario: Scenario, rng: np.random.Generator, days: int) -> dict[str, DrawnTrucks]:
    """Every truck ready to cross within ``days``, both directions, from the generator.

    Days of submissions start early enough that trucks submitted before day 0 and ready
    after it are there too, so the run does not start with a dip.
    """
    demand = scenario.demand
    pool = pool_for(demand)
    lead = demand.generator_lead_time()
    volume = sum(spec.trucks_per_day for spec in scenario.directions.values())
    longest = lead.bounds()[1]
    if not math.isfinite(longest):  # exponential or lognormal: far beyond any real lead
        longest = 30 * lead.mean()
    sub_day = np.arange(-math.ceil(longest / _DAY), days)
    week = np.asarray(demand.weekly_profile, dtype=float)
    counts = rng.poisson(volume * (week / week.mean())[sub_day % 7])
    day_of = np.repeat(sub_day, counts)
    n = day_of.size
    rows = rng.integers(0, pool.size, n)
    submitted = day_of * _DAY + pool.minute[rows] + rng.random(n)  # spread within the minute
    ready = submitted + draw(lead, rng, n)
    keep = (ready >= 0) & (ready < days * _DAY)
    out = {}
    for i, name in enumerate(DIRECTION_NAMES):
        mine = keep & (pool.direction[rows] == i)
        order = np.argsort(ready[mine], kind="stable")
        out[name] = DrawnTrucks(ready[mine][order], pool.tir[rows][mine][order])
    return out
