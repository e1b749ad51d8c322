"""Lane selection in ASYCUDA order: criteria, then random quotas, then model top-ups.

All draws are deterministic functions of (profile seed, declaration id, purpose), so assessing a
declaration twice gives the same lane and an auditor can replay a decision. Top-ups come in two
forms: exact quotas over a batch (a day's declarations, a backtest week) and a streaming rule for
one declaration at a time (score thresholds from the model's reference scores, plus a daily
capacity ledger).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from silkgate.risk.fields import rule_fields
from silkgate.risk.selectivity.expressions import CompiledRule, compile_rule
from silkgate.risk.selectivity.schemas import (
    LANES_BY_SEVERITY,
    Criterion,
    FiredCriterion,
    Lane,
    ModelSelection,
    SelectivityProfile,
)
from silkgate.risk.selectivity.value_controls import BandIndex

VALUE_CONTROL_NAME = "value-control"


def draw(seed: int, declaration_id: str, purpose: str) -> float:
    """A reproducible uniform number in [0, 1) for one declaration and purpose."""
    digest = hashlib.blake2b(
        f"{seed}\x1f{purpose}\x1f{declaration_id}".encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big") / 2.0**64


@dataclass
class Decision:
    """A lane in the making: where a declaration stands after each stage, and why."""

    declaration_id: str
    lane: Lane = Lane.GREEN
    source: str = "default"
    fired: list[FiredCriterion] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def raise_to(self, lane: Lane, source: str, reason: str) -> bool:
        """Move to ``lane`` if it is stricter than the current one; report whether it moved."""
        if lane.severity > self.lane.severity:
            self.lane = lane
            self.source = source
            self.reasons.append(reason)
            return True
        return False


@dataclass(frozen=True)
class CompiledCriterion:
    """A criterion with its parsed rule."""

    criterion: Criterion
    rule: CompiledRule


class CompiledProfile:
    """A profile with its rules parsed and bands indexed, ready to run stages 1 and 2."""

    def __init__(self, profile: SelectivityProfile) -> None:
        self.profile = profile
        fields = rule_fields(tuple(profile.extra_fields))
        self.criteria = [
            CompiledCriterion(c, compile_rule(c.when, fields, profile.lists))
            for c in profile.criteria
            if c.enabled
        ]
        vc = profile.value_controls
        self.bands = BandIndex(vc.bands if vc.enabled else [])

    # stage 1
    def apply_criteria(self, decision: Decision, fields: Mapping[str, Any]) -> None:
        """Run every enabled criterion and the value controls; keep the strictest selected lane."""
        seed = self.profile.seed
        for cc in self.criteria:
            crit = cc.criterion
            if not cc.rule.matches(fields):
                continue
            chosen = crit.percent >= 100 or (
                draw(seed, decision.declaration_id, f"criterion:{crit.name}") < crit.percent / 100
            )
            decision.fired.append(
                FiredCriterion(
                    name=crit.name, lane=crit.lane, description=crit.description, selected=chosen
                )
            )
            if chosen:
                decision.raise_to(
                    crit.lane, "criterion", f"criterion {crit.name}: {crit.description}"
                )
        if len(self.bands):
            hit = self.bands.check(fields)
            if hit is not None:
                vc = self.profile.value_controls
                chosen = vc.percent >= 100 or (
                    draw(seed, decision.declaration_id, "criterion:value-control")
                    < vc.percent / 100
                )
                text = f"{vc.description}: {hit.describe()}"
                decision.fired.append(
                    FiredCriterion(
                        name=VALUE_CONTROL_NAME, lane=vc.lane, description=text, selected=chosen
                    )
                )
                if chosen:
                    decision.raise_to(vc.lane, "criterion", f"value control: {hit.describe()}")

    # stage 2
    def apply_random(self, decision: Decision) -> None:
        """Random quotas: one draw per declaration, split across lanes by their minimum rates."""
        rates = self.profile.random.rates
        if not rates:
            return
        u = draw(self.profile.seed, decision.declaration_id, "random")
        low = 0.0
        for lane in LANES_BY_SEVERITY:
            share = rates.get(lane, 0.0) / 100
            if low <= u < low + share:
                decision.raise_to(
                    lane, "random", f"random selection for {lane.value} ({share:.1%})"
                )
                return
            low += share

    def preselect(self, declaration_id: str, fields: Mapping[str, Any]) -> Decision:
        """Stages 1 and 2 for one declaration."""
        decision = Decision(declaration_id)
        self.apply_criteria(decision, fields)
        self.apply_random(decision)
        return decision


# --------------------------------------------------------------------------- stage 3: batch


def _exploration_pick(
    candidates: np.ndarray,
    scores: np.ndarray,
    ids: Sequence[str],
    k: int,
    strategy: str,
    seed: int,
    purpose: str,
) -> np.ndarray:
    """``k`` candidates for exploration: uniform, or weighted by p(1-p) (uncertainty)."""
    if k <= 0 or len(candidates) == 0:
        return np.zeros(0, dtype=int)
    u = np.array([draw(seed, ids[i], purpose) for i in candidates])
    if strategy == "uncertainty":
        p = np.clip(scores[candidates], 1e-6, 1 - 1e-6)
        weight = np.maximum(p * (1 - p), 1e-9)
        keys = np.log(np.maximum(u, 1e-300)) / weight  # Efraimidis-Spirakis: largest keys win
        order = np.argsort(-keys, kind="stable")
    else:
        order = np.argsort(u, kind="stable")
    return candidates[order[:k]]


def _stochastic_round(x: float, u: float) -> int:
    """``floor(x)`` plus one with probability ``frac(x)``: unbiased over many batches."""
    whole = math.floor(x)
    return int(whole + (1 if u < x - whole else 0))


def top_up_batch(
    decisions: Sequence[Decision],
    scores: np.ndarray,
    policy: ModelSelection,
    seed: int = 0,
    used_today: Mapping[Lane, int] | None = None,
) -> None:
    """Stage 3 over a batch: fill each lane up to its rate/capacity with the highest scores.

    Lanes are filled from the strictest. A share ``policy.exploration`` of each lane's model
    budget goes to exploration among the candidates left after the exploitation picks.
    """
    n = len(decisions)
    if n == 0 or not policy.enabled:
        return
    scores = np.asarray(scores, dtype=float)
    ids = [d.declaration_id for d in decisions]
    used = dict(used_today or {})
    for lane in LANES_BY_SEVERITY:
        rate = policy.rates.get(lane, 0.0) / 100
        cap = policy.daily_capacity.get(lane)
        if rate <= 0 and cap is None:
            continue
        in_lane = sum(1 for d in decisions if d.lane is lane)
        target = _stochastic_round(
            rate * n, draw(seed, f"{ids[0]}:{ids[-1]}:{n}", f"rate:{lane.value}")
        )
        budget = target - in_lane if rate > 0 else math.inf
        if cap is not None:
            budget = min(budget, cap - used.get(lane, 0) - in_lane)
        if budget <= 0:
            continue
        candidates = np.array(
            [
                i
                for i, d in enumerate(decisions)
                if d.lane.severity < lane.severity and np.isfinite(scores[i])
            ],
            dtype=int,
        )
        if len(candidates) == 0:
            continue
        budget = int(min(budget, len(candidates)))
        # stochastic rounding, so small batches (a quiet day) still explore at the set share
        batch_key = f"{ids[0]}:{ids[-1]}:{n}"
        n_explore = _stochastic_round(
            budget * policy.exploration, draw(seed, batch_key, f"round:{lane.value}")
        )
        n_exploit = budget - n_explore
        order = candidates[np.argsort(-scores[candidates], kind="stable")]
        exploit = order[:n_exploit]
        rest = order[n_exploit:]
        explore = _exploration_pick(
            rest, scores, ids, n_explore, policy.exploration_strategy, seed, f"explore:{lane.value}"
        )
        for i in exploit:
            decisions[i].raise_to(
                lane, "model", f"model score {scores[i]:.3f} among the highest for {lane.value}"
            )
        for i in explore:
            decisions[i].raise_to(
                lane,
                "exploration",
                f"exploration: sampled for {lane.value} to keep the model honest",
            )


# --------------------------------------------------------------------------- stage 3: stream


class CapacityLedger:
    """Model-driven selections per day and lane, so top-ups stop at the daily capacity.

    In memory here; the API keeps the same counts in the database (phase 2).
    """

    def __init__(self) -> None:
        self.counts: dict[tuple[date | None, Lane], int] = {}

    def used(self, day: date | None, lane: Lane) -> int:
        """Selections already made for ``lane`` on ``day``."""
        return self.counts.get((day, lane), 0)

    def add(self, day: date | None, lane: Lane) -> None:
        """Record one more selection."""
        self.counts[(day, lane)] = self.used(day, lane) + 1


@dataclass
class StreamThresholds:
    """Score thresholds per lane and exploration probabilities, for one-at-a-time decisions.

    A score above a lane's threshold selects; a score exactly at it selects with probability
    ``ties[lane]`` (a deterministic draw), so a model with few distinct scores — small trees,
    little data — still meets its rate instead of selecting every declaration tied at the
    threshold.
    """

    exploit: dict[Lane, float]
    explore: dict[Lane, float]
    mean_uncertainty: float = 0.25
    ties: dict[Lane, float] = field(default_factory=dict)

    @classmethod
    def from_reference(cls, reference: Sequence[float], policy: ModelSelection) -> StreamThresholds:
        """Thresholds so that about each lane's rate is reached over the reference scores."""
        ref = np.asarray(reference, dtype=float)
        exploit: dict[Lane, float] = {}
        explore: dict[Lane, float] = {}
        ties: dict[Lane, float] = {}
        cumulative = 0.0
        for lane in LANES_BY_SEVERITY:
            rate = policy.rates.get(lane, 0.0) / 100
            if rate <= 0:
                continue
            cumulative += rate * (1 - policy.exploration)
            explore[lane] = rate * policy.exploration
            if not len(ref):
                exploit[lane] = math.inf
                continue
            thr = float(np.quantile(ref, 1 - cumulative))
            exploit[lane] = thr
            above, at = float(np.mean(ref > thr)), float(np.mean(ref == thr))
            ties[lane] = min(1.0, max(0.0, (cumulative - above) / at)) if at > 0 else 1.0
        unc = ref * (1 - ref) if len(ref) else np.array([0.25])
        return cls(exploit, explore, float(max(unc.mean(), 1e-6)), ties)

    def exceeds(self, lane: Lane, score: float, seed: int, declaration_id: str) -> bool:
        """Whether ``score`` passes the lane's threshold (ties by a reproducible draw)."""
        thr = self.exploit.get(lane)
        if thr is None or score < thr:
            return False
        if score > thr:
            return True
        tie = self.ties.get(lane, 1.0)
        return tie >= 1.0 or draw(seed, declaration_id, f"tie:{lane.value}") < tie


def top_up_one(
    decision: Decision,
    score: float,
    policy: ModelSelection,
    thresholds: StreamThresholds,
    seed: int = 0,
    day: date | None = None,
    ledger: CapacityLedger | None = None,
) -> None:
    """Stage 3 for one declaration: threshold exploitation, then an exploration draw."""
    if not policy.enabled or not math.isfinite(score):
        return

    def room(lane: Lane) -> bool:
        cap = policy.daily_capacity.get(lane)
        return cap is None or ledger is None or ledger.used(day, lane) < cap

    def take(lane: Lane, source: str, reason: str) -> None:
        if decision.raise_to(lane, source, reason) and ledger is not None:
            ledger.add(day, lane)

    for lane in LANES_BY_SEVERITY:
        thr = thresholds.exploit.get(lane)
        if thr is None or lane.severity <= decision.lane.severity:
            continue
        passes = thresholds.exceeds(lane, score, seed, decision.declaration_id)
        if passes and room(lane):
            take(lane, "model", f"model score {score:.3f} ≥ {thr:.3f} for {lane.value}")
            return
    u = draw(seed, decision.declaration_id, "explore")
    low = 0.0
    for lane in LANES_BY_SEVERITY:
        prob = thresholds.explore.get(lane, 0.0)
        if policy.exploration_strategy == "uncertainty":
            prob = min(1.0, prob * score * (1 - score) / thresholds.mean_uncertainty)
        if low <= u < low + prob:
            if lane.severity > decision.lane.severity and room(lane):
                take(lane, "exploration", f"exploration: sampled for {lane.value}")
            return
        low += prob
