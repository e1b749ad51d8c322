"""Model score thresholds from an office's live traffic rather than the training data.

The artifact's reference scores are goods items of the training period (and, after a refit,
scores of the model before it); lanes are per declaration — its highest item score. So the
assessor takes the thresholds from the declaration scores the active model gave at the office
and direction (the latest ``WINDOW``); until ``MIN_SCORES`` exist, from the scores it gives the
latest declarations assessed there before it (shadow scoring); with neither, it keeps the
artifact's. It recomputes them every ``REFRESH_SECONDS``.
"""

from __future__ import annotations

import math
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from silkgate.declarations.models import Declaration
from silkgate.risk.platform.models import RiskAssessment
from silkgate.risk.platform.records import item_records
from silkgate.risk.selectivity.schemas import ModelSelection

if TYPE_CHECKING:
    from silkgate.risk.learning.scorer import RiskModel
    from silkgate.risk.selectivity.selection import StreamThresholds

WINDOW = 5000
REFRESH_SECONDS = 60.0
MIN_SCORES = 200


def live_scores(s: Session, key: tuple[str, str], model_id: str | None) -> list[float]:
    """The latest declaration scores the model gave at the office and direction."""
    stmt = (
        select(RiskAssessment.score)
        .where(
            RiskAssessment.office == key[0],
            RiskAssessment.direction == key[1],
            RiskAssessment.model_id == model_id,
            RiskAssessment.score.is_not(None),
        )
        .order_by(RiskAssessment.assessed_at.desc())
        .limit(WINDOW)
    )
    return [float(x) for x in s.scalars(stmt) if x is not None]


def shadow_scores(s: Session, key: tuple[str, str], model: RiskModel, today: date) -> list[float]:
    """The model's declaration scores for the latest declarations assessed at the office, as
    the assessor would score them on ``today`` (the platform's day)."""
    from silkgate.risk.learning.datasets import records_to_frame

    rows = s.execute(
        select(Declaration.id, Declaration.payload, Declaration.declarant)
        .join(
            RiskAssessment,
            (RiskAssessment.declaration_id == Declaration.id)
            & (RiskAssessment.version == Declaration.version),
        )
        .where(RiskAssessment.office == key[0], RiskAssessment.direction == key[1])
        .order_by(RiskAssessment.assessed_at.desc())
        .limit(WINDOW)
    ).all()
    if len(rows) < MIN_SCORES:
        return []
    records, owner = [], []
    for n, r in enumerate(rows):
        items = item_records(r.id, r.payload, r.declarant, key[0], key[1], today)
        records += items
        owner += [n] * len(items)
    item_scores = model.score_frame(records_to_frame(records, model.builder.extra_fields))
    best = [-math.inf] * len(rows)
    for n, score in zip(owner, item_scores, strict=True):
        best[n] = max(best[n], float(score))
    return [b for b in best if math.isfinite(b)]


def thresholds(
    s: Session,
    key: tuple[str, str],
    model_id: str | None,
    model: RiskModel,
    policy: ModelSelection,
    today: date,
) -> StreamThresholds | None:
    """Thresholds from live (else shadow) scores; None when there are too few of either."""
    from silkgate.risk.selectivity.selection import StreamThresholds

    scores = live_scores(s, key, model_id)
    if len(scores) < MIN_SCORES:
        scores = shadow_scores(s, key, model, today)
    if len(scores) < MIN_SCORES:
        return None
    return StreamThresholds.from_reference(scores, policy)
