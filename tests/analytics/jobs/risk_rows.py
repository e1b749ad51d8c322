"""Rows of the risk datasets for hand-made lakes: lanes, declarations, goods items, inspections
(the columns the selectivity jobs read; partitions as the export writes them)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from typing import Any

#: Office → (country, crossing), as ``risk.platform.offices`` gives them.
OFFICES = {
    "CN-KHORGOS": ("CN", "KHG-NZH"),
    "CN-ALASHANKOU": ("CN", "ALA-DOS"),
    "KZ-NURZHOLY": ("KZ", "KHG-NZH"),
}
_ids = itertools.count(1)


def _at(day: str, hour: int = 12) -> datetime:
    d = date.fromisoformat(day)
    return datetime(d.year, d.month, d.day, hour, tzinfo=UTC)


def lane(
    decl: str,
    day: str,
    lane: str,
    *,
    version: int = 1,
    office: str = "CN-KHORGOS",
    override: str | None = None,
    score: float | None = None,
    model: str | None = None,
) -> dict[str, Any]:
    """One assessment; ``override`` is the officer's lane (the final lane then)."""
    country, crossing = OFFICES[office]
    at = _at(day)
    return {
        "changed_at": at, "assessment_id": next(_ids), "declaration_id": decl,
        "version": version, "office": office, "direction": "export", "assessed_lane": lane,
        "override_lane": override, "final_lane": override or lane,
        "source": "model" if model else "random", "score": score, "model_id": model,
        "assessed_at": at, "overridden_at": at if override else None,
        "owner_country": country, "crossing": crossing, "date": day,
    }  # fmt: skip


def declaration(
    decl: str,
    day: str,
    trader: str,
    role: str | None,
    *,
    version: int = 1,
    office: str = "CN-KHORGOS",
) -> dict[str, Any]:
    country, crossing = OFFICES[office]
    return {
        "updated_at": _at(day), "declaration_id": decl, "lrn": f"LRN-{decl}", "type": "export",
        "status": "risk_assessed", "version": version, "crossing_code": crossing,
        "exit_country": country, "lodging_state": country, "trader_ref": trader,
        "declarant_role": role, "owner_country": country, "crossing": crossing, "date": day,
    }  # fmt: skip


def items(
    decl: str, day: str, *goods: tuple[str, float], version: int = 1, office: str = "CN-KHORGOS"
) -> list[dict[str, Any]]:
    """The goods items of one version: (hs6, invoice value) each."""
    country, crossing = OFFICES[office]
    part = {"owner_country": country, "crossing": crossing, "date": day, "currency": "USD"}
    return [
        {"version_created_at": _at(day), "declaration_id": decl, "version": version,
         "item_no": n, "hs6": hs6, "hs_code": hs6, "invoice_value": value, **part}
        for n, (hs6, value) in enumerate(goods, start=1)
    ]  # fmt: skip


def inspection(
    decl: str, day: str, outcome: str, *, version: int = 1, office: str = "CN-KHORGOS"
) -> dict[str, Any]:
    country, crossing = OFFICES[office]
    return {
        "recorded_at": _at(day, 15), "inspection_id": next(_ids), "declaration_id": decl,
        "version": version, "office": office, "outcome": outcome,
        "findings": 1 if outcome == "discrepancy" else 0,
        "owner_country": country, "crossing": crossing, "date": day,
    }  # fmt: skip


def one_trader_inspected(third: bool = False) -> dict[str, list[dict[str, Any]]]:
    """Four red Nurzhol declarations of three traders (T-A twice); the two inspected are T-A's
    (``third``: K3, T-B's, inspected too): a foreign row big enough at minimum 2 whose hit
    rate, without ``third``, is one trader's."""
    traders = {"K1": "T-A", "K2": "T-A", "K3": "T-B", "K4": "T-C"}
    nur = "KZ-NURZHOLY"
    checks = [
        inspection("K1", "2025-01-05", "discrepancy", office=nur),
        inspection("K2", "2025-01-05", "no_discrepancy", office=nur),
    ]
    if third:
        checks.append(inspection("K3", "2025-01-05", "discrepancy", office=nur))
    return {
        "lanes": [lane(d, "2025-01-05", "red", office=nur) for d in traders],
        "declarations": [
            declaration(d, "2025-01-04", t, "broker", office=nur) for d, t in traders.items()
        ],
        "inspections": checks,
    }
