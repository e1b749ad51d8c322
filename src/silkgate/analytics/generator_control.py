"""Risk lanes of each declaration version and what inspections find.

Offices of the three largest crossings score with a model: one model until 1 July, its
successor after, whose scores run higher and keep drifting up (the change the drift job should
see). Lanes follow the platform's stages: a green default, raised by criteria (vehicles to
yellow, post-clearance audit to blue), the model's thresholds, exploration and random
selection; a few lanes are overridden by an officer before the truck reaches control.
Inspections find misdeclared goods far more often than honest ones, and more often in red.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from silkgate.analytics.generator_ids import US_PER_DAY, US_PER_HOUR

LANES = ("green", "blue", "yellow", "red")  # index = severity
SOURCES = ("default", "criterion", "random", "model", "exploration")
#: P(an inspection finds a discrepancy) by lane; row 0 honest declarations, row 1 misdeclared.
HIT = np.array([[0.03, 0.03, 0.06, 0.10], [0.50, 0.50, 0.50, 0.75]])
MODEL_RED, MODEL_YELLOW = 0.5, 0.25  # score thresholds
OVERRIDE = 0.015
PROFILE_UPDATES = (59, 166, 273)  # days of the year a profile gets a new version (+ office shift)


@dataclass
class Assessed:
    """One side's assessments: a row per declaration version (all v1, then the v2s)."""

    ship: np.ndarray
    version: np.ndarray
    assessed_at: np.ndarray
    assessed_lane: np.ndarray
    override_lane: np.ndarray  # -1: none
    overridden_at: np.ndarray  # -1: none
    source: np.ndarray
    score: np.ndarray  # nan: not scored
    model: np.ndarray  # -1: no model; else 0 the first model of the year, 1 its successor
    profile_version: np.ndarray
    final: np.ndarray  # per consignment: final lane of its latest version, -1 without one

    def final_lane(self) -> np.ndarray:
        return np.where(self.override_lane >= 0, self.override_lane, self.assessed_lane)


def assess(
    rng: np.random.Generator,
    year: int,
    offset_h: int,
    has: np.ndarray,
    amend: np.ndarray,
    created: tuple[np.ndarray, np.ndarray],
    deadline: np.ndarray,
    scored: np.ndarray,
    bad: np.ndarray,
    vehicles: np.ndarray,
    aeo: np.ndarray,
    office: np.ndarray,
) -> Assessed:
    """Lanes of one side's declarations. ``created``: when version 1 and version 2 were
    lodged; ``deadline``: the control that uses the lane (an override comes before it)."""
    v1, v2 = np.flatnonzero(has), np.flatnonzero(amend)
    ship = np.concatenate([v1, v2])
    n = len(ship)
    version = np.concatenate([np.ones(len(v1), np.int64), np.full(len(v2), 2)])
    latency = 2_000_000 + np.minimum(rng.exponential(20, n), 118) * 1_000_000
    at = np.concatenate([created[0][v1], created[1][v2]]) + latency.astype(np.int64)
    jul1 = _epoch_us(dt.date(year, 7, 1)) - offset_h * US_PER_HOUR
    dec31 = _epoch_us(dt.date(year, 12, 31)) - offset_h * US_PER_HOUR
    later = at >= jul1
    drift = np.clip((at - jul1) / (dec31 - jul1), 0, 1)
    noise = 0.8 * rng.normal(size=len(has))[ship] + 0.6 * rng.normal(size=n)
    z = np.where(later, -2.1 + 0.5 * drift, -2.4) + 2.4 * bad[ship] + noise
    is_scored = scored[ship]
    score = np.where(is_scored, 1 / (1 + np.exp(-z)), np.nan)
    lane = np.zeros(n, np.int64)
    source = np.zeros(n, np.int64)

    def raise_to(mask: np.ndarray, to: int | np.ndarray, src: int) -> None:
        up = mask & (to > lane)
        lane[up] = np.broadcast_to(to, lane.shape)[up]
        source[up] = src

    u = rng.random((5, n))
    raise_to(vehicles[ship] & (u[0] < 0.5), 2, 1)  # criterion: motor vehicles
    raise_to((u[1] < np.where(aeo[ship], 0.5, 0.03)), 1, 1)  # post-clearance audit
    raise_to(is_scored, np.where(score >= MODEL_RED, 3, np.where(score >= MODEL_YELLOW, 2, 0)), 3)
    rule = np.where(bad[ship], 0.25, 0.02)  # profile criteria of unscored offices
    raise_to(~is_scored & (u[2] < rule), 3, 1)
    raise_to(~is_scored & (u[2] < rule + np.where(bad[ship], 0.40, 0.10)), 2, 1)
    raise_to(is_scored & (u[3] < 0.01), 2, 4)  # exploration
    raise_to(u[4] < 0.01, 3, 2)  # random selection
    latest = (version == 2) | ~amend[ship]
    overridden = latest & (rng.random(n) < OVERRIDE)
    stricter = rng.random(n) < 0.7
    # stricter: green and blue to yellow, yellow to red; laxer: red to yellow, yellow to green
    to = np.where(lane <= 1, 2, np.where(lane == 3, 2, np.where(stricter, 3, 0)))
    room = np.maximum(deadline[ship] - at, 60_000_000)
    when = at + (rng.uniform(0.1, 0.9, n) * room).astype(np.int64)
    final = np.full(len(has), -1, np.int64)
    final_rows = np.where(overridden, to, lane)
    final[ship[latest]] = final_rows[latest]
    day = (at + offset_h * US_PER_HOUR) // US_PER_DAY - _epoch_us(dt.date(year, 1, 1)) // US_PER_DAY
    shift = office[ship] * 3
    profile = 4 + sum((day >= d + shift).astype(np.int64) for d in PROFILE_UPDATES)
    return Assessed(
        ship=ship,
        version=version,
        assessed_at=at,
        assessed_lane=lane,
        override_lane=np.where(overridden, to, -1),
        overridden_at=np.where(overridden, when, -1),
        source=source,
        score=score,
        model=np.where(is_scored, later.astype(np.int64), -1),
        profile_version=profile,
        final=final,
    )


def found(
    rng: np.random.Generator, inspected: np.ndarray, lane: np.ndarray, bad: np.ndarray
) -> np.ndarray:
    """Whether each inspection finds a discrepancy (lane -1: no declaration, nothing recorded)."""
    p = HIT[bad.astype(np.int64), np.maximum(lane, 0)]
    return inspected & (lane >= 0) & (rng.random(len(lane)) < p)


def _epoch_us(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days * US_PER_DAY
