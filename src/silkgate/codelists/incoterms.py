"""Incoterms 2020 rules (ICC); the list is short and stable, so it lives here."""

from __future__ import annotations

INCOTERMS: dict[str, str] = {
    "EXW": "Ex Works",
    "FCA": "Free Carrier",
    "CPT": "Carriage Paid To",
    "CIP": "Carriage and Insurance Paid To",
    "DAP": "Delivered at Place",
    "DPU": "Delivered at Place Unloaded",
    "DDP": "Delivered Duty Paid",
    "FAS": "Free Alongside Ship",
    "FOB": "Free On Board",
    "CFR": "Cost and Freight",
    "CIF": "Cost, Insurance and Freight",
}
# The four rules for sea and inland waterway transport only; the rest suit any mode (road too).
SEA_ONLY: frozenset[str] = frozenset({"FAS", "FOB", "CFR", "CIF"})


def is_incoterm(code: str) -> bool:
    """True for an Incoterms 2020 rule code."""
    return isinstance(code, str) and code in INCOTERMS


def incoterm_name(code: str) -> str:
    """The rule's short name, e.g. "Free Carrier" for FCA; KeyError for an unknown code."""
    return INCOTERMS[code]
