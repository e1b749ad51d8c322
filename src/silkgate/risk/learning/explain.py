"""Plain-language explanations of a model score from LightGBM ``pred_contrib`` (SHAP values).

Contributions of features that describe one thing (a history rate and its count) are summed so
an officer reads one line per reason, e.g. "past inspections of the same commodity at the same
invoice value: 12 of 13 found a discrepancy — raises the risk".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from silkgate.risk.learning.features import FeatureBuilder, HistoryTable
from silkgate.risk.selectivity.schemas import Contribution


class RiskModel(Protocol):
    """What an explanation needs of a trained model (the scorer's ``RiskModel`` has it)."""

    builder: FeatureBuilder
    history: HistoryTable

    @property
    def feature_names(self) -> list[str]: ...


_CATEGORY_WORDS = {
    "office": "customs office",
    "crossing": "crossing",
    "direction": "direction",
    "transport_mode": "transport mode",
    "origin": "origin",
    "departure_country": "country of departure",
    "destination_country": "country of destination",
    "hs2": "HS chapter",
    "hs4": "HS heading",
    "hs6": "HS subheading",
    "supplementary_unit": "supplementary unit",
    "declarant": "declarant",
    "importer": "importer",
    "exporter": "exporter",
    "carrier": "carrier",
}
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _family(feature: str) -> str:
    if feature.startswith("hist_"):
        return feature.rsplit("_", 1)[0]
    return feature


def _fmt(x: float) -> str:
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 1:
        return f"{x:,.2f}"
    return f"{x:.3g}"


def describe_feature(
    model: RiskModel, family: str, fields: Mapping[str, Any], row: Mapping[str, float]
) -> str:
    """Words for one feature family's value on this declaration."""
    if family.startswith("hist_"):
        name = family.removeprefix("hist_")
        key = next((k for k in model.history.keys if k.name == name), None)
        label = key.label if key else name
        cell = model.history.explain_cell(fields, name)
        if cell is None:
            return f"{label}: not stated on the declaration"
        n, hits = cell
        if n == 0:
            return f"{label}: never inspected before"
        plural = "" if int(n) == 1 else "s"
        return f"{label}: {int(hits)} of {int(n)} past inspection{plural} found a discrepancy"
    value = row.get(family, math.nan)
    if family in model.builder.categoricals:
        raw = fields.get(family)
        words = _CATEGORY_WORDS.get(family, family.replace("_", " "))
        if raw is None:
            return f"{words} not stated"
        return f"{words} {raw}" + ("" if not math.isnan(value) else " (not seen in training)")
    if math.isnan(value):
        return f"{family.replace('_', ' ')} unknown"
    if family == "log_net_mass":
        return f"net mass {_fmt(math.expm1(value))} kg"
    if family == "log_gross_mass":
        return f"gross mass {_fmt(math.expm1(value))} kg"
    if family == "log_supplementary_quantity":
        return f"supplementary quantity {_fmt(math.expm1(value))}"
    if family in ("unit_value_out_of_band", "unit_value_su_out_of_band"):
        basis = "kg" if family == "unit_value_out_of_band" else "supplementary unit"
        qty = fields.get("net_mass" if basis == "kg" else "supplementary_quantity")
        price = fields.get("value")
        shown = ""
        if isinstance(price, int | float) and isinstance(qty, int | float) and qty > 0:
            shown = f" {_fmt(price / qty)}"
        if value <= 0:
            return f"unit value{shown} per {basis} within the usual band for this commodity"
        return (
            f"unit value{shown} per {basis} outside the usual band for this commodity "
            f"(by a factor of {_fmt(math.exp(value))})"
        )
    if family == "tax_rate":
        return f"tax rate {_fmt(value)}%"
    if family == "day_of_week" and 0 <= value <= 6:
        return f"declared on a {_DAYS[int(value)]}"
    if family == "month" and 1 <= value <= 12:
        return f"declared in {_MONTHS[int(value) - 1]}"
    return f"{family.replace('_', ' ')} {_fmt(value)}"


def explain_contributions(
    model: RiskModel,
    fields: Mapping[str, Any],
    x_row: np.ndarray,
    contrib: np.ndarray,
    top: int = 5,
) -> list[Contribution]:
    """The ``top`` reasons (by absolute log-odds) behind one score, most important first."""
    names = model.feature_names
    row = dict(zip(names, (float(v) for v in x_row), strict=True))
    families: dict[str, float] = {}
    for name, value in zip(names, contrib[: len(names)], strict=True):
        fam = _family(name)
        families[fam] = families.get(fam, 0.0) + float(value)
    ranked = sorted(families.items(), key=lambda kv: -abs(kv[1]))
    out: list[Contribution] = []
    for family, value in ranked[:top]:
        if abs(value) < 1e-6:
            break
        direction = "raises the risk" if value > 0 else "lowers the risk"
        text = f"{describe_feature(model, family, fields, row)} — {direction}"
        out.append(Contribution(feature=family, contribution=round(value, 4), text=text))
    return out
