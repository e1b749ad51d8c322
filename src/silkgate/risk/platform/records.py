"""From a stored declaration to the engine's records, and from item assessments to one lane.

The engine assesses goods items (:class:`DeclarationRecord` is per item); a declaration's
outcome combines them:

* **lane**: the strictest of its items' lanes; its **source** is that of the first item with it;
* **score**: the highest item score; the **explanation** is that item's top contributions —
  unless the model selected another item for the lane (the day's capacity can do that): then
  that item's, so the explanation is of what decided the lane;
* **fired**: every criterion that matched any item, with the item numbers;
* **reasons**: every item's reasons, identical texts merged, prefixed with the item numbers
  when the declaration has several items and not all of them gave the reason.

All items carry the declaration id, so percentage, random and exploration draws are made once
per declaration (every item draws the same number): a declaration with many items is not more
likely to be selected at random, and an amended version draws the same numbers again, so
amending cannot re-roll a random selection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from silkgate.risk.fields import DeclarationRecord
from silkgate.risk.selectivity.schemas import (
    Assessment,
    Direction,
    Lane,
    ModelSelection,
    RandomSelection,
    SelectivityProfile,
    ValueControls,
)

#: Text fields the platform adds to every record (rules may read them once a profile lists them
#: in ``extra_fields``; platform-trained models use them as categories).
PLATFORM_EXTRA_FIELDS: tuple[str, ...] = ("tractor_nationality", "incoterm", "currency")
#: Random rates of the built-in profile used where an office has saved none (percent).
DEFAULT_RANDOM_RATES: dict[Lane, float] = {Lane.RED: 2.0, Lane.YELLOW: 5.0}
TRANSPORT_MODE = "road"


def default_profile(office: str, direction: str) -> SelectivityProfile:
    """Random selection only (red 2%, yellow 5%): no criteria, no value bands, no model."""
    return SelectivityProfile(
        office=office,
        direction=Direction(direction),
        version=1,
        description="built-in default: random selection only (no profile saved)",
        random=RandomSelection(rates=dict(DEFAULT_RANDOM_RATES)),
        value_controls=ValueControls(enabled=False),
        model=ModelSelection(enabled=False),
    )


def _get(data: Mapping[str, Any], *path: str) -> Any:
    cur: Any = data
    for key in path:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(key)
    return cur


def item_records(
    declaration_id: str,
    payload: Mapping[str, Any],
    declarant: str,
    office: str,
    direction: str,
    day: date | None,
) -> list[DeclarationRecord]:
    """One record per goods item of a declaration body (``DeclarationIn`` as stored).

    Values are the items' customs values in the invoice currency (the platform holds no
    exchange rates); ``currency`` is an extra field so rules and models can tell them apart.
    """
    extra = {
        "tractor_nationality": _get(payload, "transport", "tractor_nationality"),
        "incoterm": _get(payload, "invoice", "incoterm"),
        "currency": _get(payload, "invoice", "currency"),
    }
    out = []
    for item in payload.get("goods_items") or []:
        supp = item.get("supplementary_quantity") or {}
        out.append(
            DeclarationRecord(
                declaration_id=declaration_id,
                date=day,
                office=office,
                direction=direction,
                crossing=_get(payload, "crossing", "code"),
                declarant=declarant,
                importer=_get(payload, "importer", "identifier"),
                exporter=_get(payload, "exporter", "identifier"),
                hs_code=item.get("hs_code"),
                origin=item.get("origin_country"),
                departure_country=payload.get("country_of_export"),
                destination_country=payload.get("country_of_destination"),
                transport_mode=TRANSPORT_MODE,
                supplementary_unit=supp.get("unit"),
                net_mass=item.get("net_mass_kg"),
                gross_mass=item.get("gross_mass_kg"),
                value=item.get("customs_value"),
                supplementary_quantity=supp.get("value"),
                extra=dict(extra),
            )
        )
    return out


@dataclass
class Combined:
    """A declaration's assessment, combined from its items'."""

    lane: Lane
    source: str
    score: float | None
    model_id: str | None
    fired: list[dict[str, Any]] = field(default_factory=list)
    explanation: list[dict[str, Any]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def _items_label(items: Sequence[int]) -> str:
    return f"item {items[0]}" if len(items) == 1 else "items " + ", ".join(map(str, items))


def combine(assessments: Sequence[Assessment], notes: Sequence[str] = ()) -> Combined:
    """Combine per-item assessments (item n is ``assessments[n-1]``); ``notes`` lead the reasons."""
    if not assessments:
        raise ValueError("a declaration has at least one goods item")
    multi = len(assessments) > 1
    worst = max(range(len(assessments)), key=lambda i: (assessments[i].lane.severity, -i))
    scored = [i for i, a in enumerate(assessments) if a.score is not None]
    top = max(scored, key=lambda i: (assessments[i].score or 0.0, -i)) if scored else None
    explained = top
    deciding = assessments[worst]
    if deciding.source in ("model", "exploration") and deciding.explanation:
        explained = worst  # explain the item the model selected: it decided the lane

    fired: dict[tuple[str, str, bool], dict[str, Any]] = {}
    reasons: dict[str, list[int]] = {}
    for n, a in enumerate(assessments, start=1):
        for f in a.fired:
            key = (f.name, f.description, f.selected)
            entry = fired.setdefault(
                key,
                {
                    "name": f.name,
                    "lane": f.lane.value,
                    "description": f.description,
                    "selected": f.selected,
                    "items": [],
                },
            )
            entry["items"].append(n)
        if a.lane is not Lane.GREEN:
            for text in a.reasons:
                reasons.setdefault(text, []).append(n)
    lines = list(notes)
    for text, items in reasons.items():
        partial = multi and len(items) < len(assessments)
        lines.append(f"{_items_label(items)}: {text}" if partial else text)
    if assessments[worst].lane is Lane.GREEN:
        lines.append(f"no control: {Lane.GREEN.meaning}")
    explanation: list[dict[str, Any]] = []
    if explained is not None:
        for c in assessments[explained].explanation:
            entry = c.model_dump()
            if multi:
                entry["item"] = explained + 1
            explanation.append(entry)
    return Combined(
        lane=assessments[worst].lane,
        source=assessments[worst].source,
        score=assessments[top].score if top is not None else None,
        model_id=assessments[0].model_id,
        fired=list(fired.values()),
        explanation=explanation,
        reasons=lines,
    )
