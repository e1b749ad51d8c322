"""Canonical declaration fields seen by the risk engine, and the plain record it scores.

The engine never depends on the database schema: the core maps a declaration onto
:class:`DeclarationRecord` (or a plain mapping with the same keys) and files are mapped onto the
same names by a column mapping, so rules, value controls and the model see one vocabulary.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from enum import StrEnum
from typing import Any


class FieldType(StrEnum):
    """Type of a field as the expression language sees it."""

    STR = "str"
    NUM = "num"


#: Canonical string fields (identifiers and codes).
STRING_FIELDS: tuple[str, ...] = (
    "declaration_id",
    "office",
    "direction",
    "crossing",
    "declarant",
    "importer",
    "exporter",
    "carrier",
    "hs_code",
    "origin",
    "departure_country",
    "destination_country",
    "transport_mode",
    "supplementary_unit",
)
#: Canonical numeric fields.
NUMERIC_FIELDS: tuple[str, ...] = (
    "net_mass",
    "gross_mass",
    "value",
    "supplementary_quantity",
    "tax_rate",
)
#: Fields derived from the canonical ones (see :func:`derive`).
DERIVED_STRING_FIELDS: tuple[str, ...] = ("hs2", "hs4", "hs6")
DERIVED_NUMERIC_FIELDS: tuple[str, ...] = ("unit_value", "unit_value_su")
#: Trader fields, whose values are party identifiers.
TRADER_FIELDS: tuple[str, ...] = ("declarant", "importer", "exporter", "carrier")
#: Country fields, normalised to upper case.
COUNTRY_FIELDS: tuple[str, ...] = ("origin", "departure_country", "destination_country")
#: Other names officers use for a field in rules (ASYCUDA says "commodity").
ALIASES: dict[str, str] = {"commodity": "hs_code", "consignee": "importer", "seller": "exporter"}


def rule_fields(extra: tuple[str, ...] | list[str] = ()) -> dict[str, FieldType]:
    """Fields a rule may read: canonical, derived, aliases and any extra string fields."""
    out: dict[str, FieldType] = {}
    for name in (*STRING_FIELDS, *DERIVED_STRING_FIELDS, *extra):
        out[name] = FieldType.STR
    for name in (*NUMERIC_FIELDS, *DERIVED_NUMERIC_FIELDS):
        out[name] = FieldType.NUM
    for alias, target in ALIASES.items():
        out[alias] = out[target]
    return out


def clean_str(value: Any) -> str | None:
    """Normalise a string-ish value: strip, empty or NaN becomes ``None``."""
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            value = int(value)
    text = str(value).strip()
    return text or None


def clean_num(value: Any) -> float | None:
    """Normalise a numeric value: non-finite or unparsable becomes ``None``."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def clean_hs(value: Any, digits: int = 6) -> str | None:
    """Digits of an HS code, left-padded with zeros to ``digits`` (spreadsheets drop them)."""
    text = clean_str(value)
    if text is None:
        return None
    only = "".join(ch for ch in text if ch.isdigit())
    if not only:
        return None
    return only.zfill(digits) if len(only) < digits else only


def unit_value(value: float | None, quantity: float | None) -> float | None:
    """Value per unit of quantity, ``None`` when either is missing or the quantity is not > 0."""
    if value is None or quantity is None or quantity <= 0:
        return None
    return value / quantity


@dataclass(slots=True)
class DeclarationRecord:
    """One declaration (or goods item) as the engine sees it; every field but the id optional."""

    declaration_id: str
    date: date | None = None
    office: str | None = None
    direction: str | None = None
    crossing: str | None = None
    declarant: str | None = None
    importer: str | None = None
    exporter: str | None = None
    carrier: str | None = None
    hs_code: str | None = None
    origin: str | None = None
    departure_country: str | None = None
    destination_country: str | None = None
    transport_mode: str | None = None
    supplementary_unit: str | None = None
    net_mass: float | None = None
    gross_mass: float | None = None
    value: float | None = None
    supplementary_quantity: float | None = None
    tax_rate: float | None = None
    extra: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], hs_digits: int = 6) -> DeclarationRecord:
        """Build a record from a mapping with canonical keys; unknown keys go to ``extra``."""
        known = {f.name for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        extra: dict[str, str | None] = dict(data.get("extra") or {})
        derived = {*DERIVED_STRING_FIELDS, *DERIVED_NUMERIC_FIELDS}
        for key, raw in data.items():
            if key == "extra" or key in derived:  # recomputed from the canonical fields
                continue
            if key in ALIASES:
                key = ALIASES[key]
            if key not in known:
                extra[key] = clean_str(raw)
                continue
            kwargs[key] = raw
        kwargs["declaration_id"] = clean_str(kwargs.get("declaration_id")) or ""
        kwargs["date"] = _clean_date(kwargs.get("date"))
        for name in STRING_FIELDS:
            if name in kwargs and name != "declaration_id":
                kwargs[name] = clean_str(kwargs[name])
        for name in COUNTRY_FIELDS:
            if kwargs.get(name):
                kwargs[name] = kwargs[name].upper()
        if "hs_code" in kwargs:
            kwargs["hs_code"] = clean_hs(kwargs["hs_code"], hs_digits)
        for name in NUMERIC_FIELDS:
            if name in kwargs:
                kwargs[name] = clean_num(kwargs[name])
        return cls(extra=extra, **kwargs)

    def as_fields(self) -> dict[str, Any]:
        """Flat mapping of canonical, derived and extra fields, as rules and features read them."""
        out: dict[str, Any] = {name: getattr(self, name) for name in STRING_FIELDS}
        for name in NUMERIC_FIELDS:
            out[name] = getattr(self, name)
        out["date"] = self.date
        hs = self.hs_code or ""
        out["hs2"] = hs[:2] if len(hs) >= 2 else None
        out["hs4"] = hs[:4] if len(hs) >= 4 else None
        out["hs6"] = hs[:6] if len(hs) >= 6 else None
        out["unit_value"] = unit_value(self.value, self.net_mass)
        out["unit_value_su"] = unit_value(self.value, self.supplementary_quantity)
        for key, val in self.extra.items():
            out.setdefault(key, val)
        for alias, target in ALIASES.items():
            out[alias] = out[target]
        return out


def _clean_date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = clean_str(value)
    if text is None:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None
