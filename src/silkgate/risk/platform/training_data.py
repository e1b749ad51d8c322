"""Training data from the platform's own declarations and recorded inspection results.

One row per goods item of every inspected declaration version, with the features the assessor
sees (``records.item_records``; date = when that version was lodged) and the label:

* ``no_discrepancy`` → 0 for every item;
* ``discrepancy`` → 1 for the items its findings name, 0 for the others; when no finding names an
  item, 1 for every item.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from silkgate.core.platform import Platform
from silkgate.declarations.models import Declaration, DeclarationVersion
from silkgate.risk.platform.models import InspectionResult
from silkgate.risk.platform.records import PLATFORM_EXTRA_FIELDS, item_records

if TYPE_CHECKING:
    import pandas as pd


def item_labels(outcome: str, findings: list[dict[str, Any]], item_count: int) -> list[float]:
    """The label of each goods item (item n is index n-1) from an inspection result."""
    if outcome != "discrepancy":
        return [0.0] * item_count
    named = {f.get("item") for f in findings if f.get("item") is not None}
    if not named:
        return [1.0] * item_count
    return [1.0 if n in named else 0.0 for n in range(1, item_count + 1)]


def labelled_frame(platform: Platform, office: str | None = None) -> pd.DataFrame:
    """The canonical frame (with ``label``) of every inspected item, optionally of one office."""
    import pandas as pd

    from silkgate.risk.learning.datasets import records_to_frame

    stmt = (
        select(
            InspectionResult.declaration_id,
            InspectionResult.office,
            InspectionResult.outcome,
            InspectionResult.findings,
            DeclarationVersion.payload,
            DeclarationVersion.created_at,
            Declaration.declarant,
        )
        .join(
            DeclarationVersion,
            (DeclarationVersion.declaration_id == InspectionResult.declaration_id)
            & (DeclarationVersion.version == InspectionResult.version),
        )
        .join(Declaration, Declaration.id == InspectionResult.declaration_id)
        .order_by(DeclarationVersion.created_at, InspectionResult.declaration_id)
        .execution_options(yield_per=2000)
    )
    if office is not None:
        stmt = stmt.where(InspectionResult.office == office)
    records = []
    labels: list[float] = []
    with platform.db.session() as s:
        for r in s.execute(stmt):
            items = item_records(
                r.declaration_id,
                r.payload,
                r.declarant,
                r.office,
                str(r.payload.get("type")),
                r.created_at.date(),
            )
            records.extend(items)
            labels.extend(item_labels(r.outcome, r.findings, len(items)))
    frame = records_to_frame(records, PLATFORM_EXTRA_FIELDS)
    frame["label"] = pd.Series(labels, dtype=float)
    return frame.sort_values("date", kind="stable").reset_index(drop=True)
