"""Plain-language explanations of a model score from LightGBM ``pred_contrib`` (SHAP values).

Contributions of features that describe one thing (a history rate and its count) are summed so
an officer reads one line per reason, e.g. "same commodity at the same invoice value: 12 of 13
past inspections found a discrepancy (92%; base rate 22%) — raises the risk". Codes are shown
with their names (HS descriptions, country names).

Words never contradict their sign: where a reason's words point one way (a hit rate above the
base rate, a unit value far from the usual) and its contribution the other — which tree SHAP
can give when features overlap — it is not shown on its own but summed into one line,
"other features together (overlapping evidence)".
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from silkgate.risk.fields import TRADER_FIELDS
from silkgate.risk.learning import generalisation
from silkgate.risk.learning.features import CONTEXT_KEYS, FeatureBuilder, HistoryTable
from silkgate.risk.names import country_named, hs_named
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


OTHER = "other_features"
_COUNTRY_FEATURES = frozenset({"origin", "departure_country", "destination_country"})
_HS_FEATURES = frozenset({"hs2", "hs4", "hs6"})
_UNUSUAL_Z = 2.0


def _family(feature: str) -> str:
    if feature.startswith("hist_"):
        return feature.rsplit("_", 1)[0]
    for group in generalisation.TRADER_GROUPS:
        if feature.startswith(f"ctx_{group}_"):
            return f"ctx_{group}"
    return feature


def _key_words(fields: Mapping[str, Any], key_fields: tuple[str, ...]) -> str:
    """The commodity and origin a history key is about, in words (empty for traders)."""
    parts = [str(fields[f]) for f in key_fields if f in TRADER_FIELDS and fields.get(f)]
    hs = fields.get("hs6") or (fields.get("hs_code") or "")[:6]
    if "hs6" in key_fields and hs:
        parts.append(f"HS {hs_named(str(hs))}")
    elif "hs4" in key_fields and fields.get("hs4"):
        parts.append(f"HS {hs_named(str(fields['hs4']))}")
    if "origin" in key_fields and fields.get("origin"):
        parts.append(f"from {country_named(str(fields['origin']))}")
    return " ".join(parts)


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
        about = _key_words(fields, key.fields if key else ())
        label = f"{label}, {about}" if about else label
        if n == 0:
            return f"{label}: never inspected before"
        plural = "" if int(n) == 1 else "s"
        return (
            f"{label}: {int(hits)} of {int(n)} past inspection{plural} found a discrepancy "
            f"({hits / n:.0%}; base rate {model.history.prior:.0%})"
        )
    if family.startswith("ctx_"):
        return _describe_context(model, family, fields, row)
    value = row.get(family, math.nan)
    if family in model.builder.categoricals:
        raw = fields.get(family)
        words = _CATEGORY_WORDS.get(family, family.replace("_", " "))
        if raw is None:
            return f"{words} not stated"
        shown = str(raw)
        if family in _COUNTRY_FEATURES:
            shown = country_named(shown)
        elif family in _HS_FEATURES:
            shown = hs_named(shown)
        return f"{words} {shown}" + ("" if not math.isnan(value) else " (not seen in training)")
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
    if family == "departure_differs":
        dep, org = fields.get("departure_country"), fields.get("origin")
        if value > 0 and dep and org:
            return (
                f"shipped from {country_named(str(dep))}, not from the country of origin "
                f"{country_named(str(org))}"
            )
        return "shipped from its country of origin"
    if family == "day_of_week" and 0 <= value <= 6:
        return f"declared on a {_DAYS[int(value)]}"
    if family == "month" and 1 <= value <= 12:
        return f"declared in {_MONTHS[int(value) - 1]}"
    return f"{family.replace('_', ' ')} {_fmt(value)}"


def _describe_context(
    model: RiskModel, family: str, fields: Mapping[str, Any], row: Mapping[str, float]
) -> str:
    """Words for a context feature: how the declaration compares with its past."""

    group = next(g for g in generalisation.GROUP_LABELS if family.startswith(f"ctx_{g}"))
    key = CONTEXT_KEYS[group]
    cell = model.history.context.cell(group, HistoryTable.key_of(fields, key))
    if group in generalisation.TRADER_GROUPS:
        who = generalisation.GROUP_LABELS[group]
        volume = row.get(f"ctx_{group}_volume", math.nan)
        age = row.get(f"ctx_{group}_age_days", math.nan)
        if math.isnan(volume):
            return f"{who} not stated"
        if volume == 0:
            return f"{who} {fields.get(group)}: no earlier declaration"
        return (
            f"{who} {fields.get(group)}: {int(volume)} earlier declarations, first "
            f"{int(age)} days before this one"
        )
    about = _key_words(fields, key.fields) or generalisation.GROUP_LABELS[group]
    n = int(cell[0]) if cell is not None else 0
    past = f"{n} past declarations"
    value = row.get(family, math.nan)
    if family.endswith("_n"):
        return f"{about}: {past}" if n else f"{about}: no past declaration"
    if math.isnan(value):
        what = {"_uv_unusual": "unit value", "_mass_dev": "net mass", "_tax_dev": "tax rate"}
        subject = next((w for suffix, w in what.items() if family.endswith(suffix)), "value")
        return f"{subject}: too few past declarations of {about} to compare with ({past})"
    if family.endswith("_uv_unusual"):
        price, qty = fields.get("value"), fields.get("net_mass")
        shown = f" {_fmt(price / qty)}" if price and qty else ""
        if value < 1:
            return f"unit value{shown} per kg close to the usual for {about} ({past})"
        return (
            f"unit value{shown} per kg {value:.1f} standard deviations from the usual for "
            f"{about} ({past})"
        )
    if family.endswith("_mass_dev"):
        side = "above" if value > 0 else "below"
        return f"net mass {abs(value):.1f} standard deviations {side} the usual for {about}"
    if family.endswith("_tax_dev"):
        return f"tax rate {_fmt(value)} points from the average for {about}"
    return f"{family.replace('_', ' ')} {_fmt(value)}"


def contradicts(
    model: RiskModel, family: str, fields: Mapping[str, Any], row: Mapping[str, float], value: float
) -> bool:
    """Whether the words for ``family`` point against the sign of its contribution ``value``.

    A past hit rate above the base rate reads as "riskier", one below as "safer"; a unit value
    outside its band or far from the usual reads as "riskier". Other features carry no
    direction in their words.
    """
    if family.startswith("hist_"):
        cell = model.history.explain_cell(fields, family.removeprefix("hist_"))
        if cell is None or cell[0] == 0:
            return False
        rate = cell[1] / cell[0]
        prior = model.history.prior
        return (value > 0 and rate < prior) or (value < 0 and rate > prior)
    x = row.get(family, math.nan)
    if family in ("unit_value_out_of_band", "unit_value_su_out_of_band"):
        return value < 0 and x > 0
    if family.endswith("_uv_unusual"):
        return value < 0 and x >= _UNUSUAL_Z
    return False


_NAMED_HS = re.compile(r"\b(\d{2,6}) \(([^()]*(?:\([^()]*\)[^()]*)*)\)")


def _once(text: str, named: set[str]) -> str:
    """Drop the description of an HS code already described in an earlier line."""

    def shorten(match: re.Match[str]) -> str:
        code = match.group(1)
        if code in named:
            return code
        named.add(code)
        return match.group(0)

    return _NAMED_HS.sub(shorten, text)


def explain_contributions(
    model: RiskModel,
    fields: Mapping[str, Any],
    x_row: np.ndarray,
    contrib: np.ndarray,
    top: int = 5,
) -> list[Contribution]:
    """The ``top`` reasons (by absolute log-odds) behind one score, most important first.

    Reasons whose words would contradict their sign are summed into one "other features" line.
    """
    names = model.feature_names
    row = dict(zip(names, (float(v) for v in x_row), strict=True))
    families: dict[str, float] = {}
    for name, value in zip(names, contrib[: len(names)], strict=True):
        fam = _family(name)
        families[fam] = families.get(fam, 0.0) + float(value)
    other = 0.0
    shown: dict[str, float] = {}
    for fam, value in families.items():
        if contradicts(model, fam, fields, row, value):
            other += value
        else:
            shown[fam] = value
    if other:
        shown[OTHER] = other
    ranked = sorted(shown.items(), key=lambda kv: -abs(kv[1]))
    out: list[Contribution] = []
    named: set[str] = set()
    for family, value in ranked[:top]:
        if abs(value) < 1e-6:
            break
        direction = "raises the risk" if value > 0 else "lowers the risk"
        words = (
            "other features together (overlapping evidence, not a reason on its own)"
            if family == OTHER
            else _once(describe_feature(model, family, fields, row), named)
        )
        out.append(
            Contribution(
                feature=family, contribution=round(value, 4), text=f"{words} — {direction}"
            )
        )
    return out
