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
