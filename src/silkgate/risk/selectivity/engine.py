"""The risk engine: a selectivity profile plus (optionally) a model gives every declaration a lane.

The engine takes plain :class:`DeclarationRecord` objects or mappings with the canonical field
names, so the core can call it with whatever its declaration schema holds once mapped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import numpy as np

from silkgate.risk.fields import DeclarationRecord
from silkgate.risk.learning.scorer import RiskModel
from silkgate.risk.selectivity.schemas import Assessment, Contribution, Lane, SelectivityProfile
from silkgate.risk.selectivity.selection import (
    CapacityLedger,
    CompiledProfile,
    Decision,
    StreamThresholds,
    top_up_batch,
    top_up_one,
)

Declaration = DeclarationRecord | Mapping[str, Any]


#: how many of the model's raising reasons are written into a model-decided lane's reasons
LANE_REASONS = 3


def model_reason(explanation: Sequence[Contribution]) -> str | None:
    """The line that puts the model's main raising reasons into a lane's reasons."""
    why = [c.text for c in explanation if c.contribution > 0][:LANE_REASONS]
    return "the model's main reasons: " + "; ".join(why) if why else None


def carry_model_reasons(decision: Decision, explanation: Sequence[Contribution]) -> None:
    """Put the model's main raising reasons into the reasons of a lane the model decided, so
    the stored assessment says why in words, not only by score."""
    line = model_reason(explanation) if decision.source == "model" else None
    if line is not None:
        decision.reasons.append(line)


def as_record(declaration: Declaration) -> DeclarationRecord:
    """Accept a record or a mapping of canonical fields."""
    if isinstance(declaration, DeclarationRecord):
        return declaration
    return DeclarationRecord.from_mapping(declaration)


class RiskEngine:
    """Assesses declarations against one office's profile and its active model."""

    def __init__(
        self,
        profile: SelectivityProfile,
        model: RiskModel | None = None,
        explain_top: int = 5,
        ledger: CapacityLedger | None = None,
    ) -> None:
        self.profile = profile
        self.compiled = CompiledProfile(profile)
        self.model = model
        self.explain_top = explain_top
        self.ledger = ledger if ledger is not None else CapacityLedger()
        self.thresholds = (
            StreamThresholds.from_reference(model.score_reference, profile.model)
            if model is not None
            else None
        )

    def _assessment(
        self,
        decision: Decision,
        score: float | None,
        explanation: list[Contribution],
    ) -> Assessment:
        return Assessment(
            declaration_id=decision.declaration_id,
            lane=decision.lane,
            source=decision.source,
            score=score,
            model_id=self.model.model_id if self.model is not None else None,
            profile_office=self.profile.office,
            profile_version=self.profile.version,
            fired=decision.fired,
            explanation=explanation,
            reasons=decision.reasons or [f"no control: {Lane.GREEN.meaning}"],
        )

    def assess(
        self,
        declaration: Declaration,
        explain: bool = True,
        scored: tuple[float, list[Contribution]] | None = None,
    ) -> Assessment:
        """Lane for one declaration, decided on its own (streaming thresholds, daily capacity).

        ``scored``: the model's score and explanation computed beforehand (``explain_many``).
        """
        record = as_record(declaration)
        fields = record.as_fields()
        decision = self.compiled.preselect(record.declaration_id, fields)
        score: float | None = None
        explanation: list[Contribution] = []
        if self.model is not None and self.profile.model.enabled:
            if scored is not None:
                score, explanation = scored
            elif explain:
                score, explanation = self.model.explain(record, self.explain_top)
            else:
                score = self.model.score(record)
            assert self.thresholds is not None
            top_up_one(
                decision,
                score,
                self.profile.model,
                self.thresholds,
                self.profile.seed,
                record.date,
                self.ledger,
            )
            carry_model_reasons(decision, explanation)
        return self._assessment(decision, score, explanation)

    def assess_batch(
        self,
        declarations: Sequence[Declaration],
        explain: bool = False,
        used_today: Mapping[Lane, int] | None = None,
    ) -> list[Assessment]:
        """Lanes for a batch (e.g. one day at one office) with exact rates over the batch."""
        records = [as_record(d) for d in declarations]
        all_fields = [r.as_fields() for r in records]
        decisions = [
            self.compiled.preselect(r.declaration_id, f)
            for r, f in zip(records, all_fields, strict=True)
        ]
        scores = np.full(len(records), np.nan)
        explanations: list[list[Contribution]] = [[] for _ in records]
        if self.model is not None and self.profile.model.enabled and records:
            from silkgate.risk.learning.datasets import records_to_frame

            frame = records_to_frame(records, self.model.builder.extra_fields)
            scores = self.model.score_frame(frame)
            top_up_batch(decisions, scores, self.profile.model, self.profile.seed, used_today)
            if explain:
                explanations = [self.model.explain(r, self.explain_top)[1] for r in records]
                for decision, why in zip(decisions, explanations, strict=True):
                    carry_model_reasons(decision, why)
        return [
            self._assessment(d, None if np.isnan(s) else float(s), e)
            for d, s, e in zip(decisions, scores, explanations, strict=True)
        ]

    def capacity_used(self, day: date) -> dict[Lane, int]:
        """Model-driven selections already made on ``day`` by the streaming path."""
        return {lane: self.ledger.used(day, lane) for lane in Lane}
