"""A hand lake for the output tests (CLI, API, files, charts, report), with its expected rows.

China's exports at KHG-NZH: two declarations in January 2025 (chapter 84), one of chapter 84
and one of chapter 85 in February; Kazakhstan's one import record, which no agreement lets
China process. ``currency`` can be given to put an odd value into a cell.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from silkgate.analytics import lake as lk
from silkgate.analytics.schemas import Watermark
from tests.analytics.jobs.lakes import write_lake

X = "KHG-NZH"
WATERMARK = "2025-02-28T23:59:00+00:00"
FINISHED = "2025-03-01T00:05:00+00:00"


def item(
    decl: str, trader: str, day: str, hs6: str, value: float, mass: float, **kw: Any
) -> dict[str, Any]:
    owner = kw.pop("owner", "CN")
    kind = "import" if owner == "KZ" else "export"
    return {
        "declaration_id": decl, "version": 1, "item_no": 1, "hs6": hs6, "hs_code": hs6,
        "invoice_value": value, "net_mass_kg": mass, "gross_mass_kg": mass,
        "currency": kw.pop("currency", "USD"), "type": kind, "exit_country": "CN",
        "entry_country": "KZ", "trader_ref": trader, "owner_country": owner, "crossing": X,
        "date": day, "lodging_state": owner, "crossing_code": X,
    }  # fmt: skip


def small_lake(root: Path, odd_currency: str = "USD") -> Path:
    write_lake(
        root,
        {
            "goods_items": [
                item("D1", "T1", "2025-01-10", "847130", 100, 10),
                item("D2", "T2", "2025-01-20", "847150", 50, 5),
                item("D3", "T1", "2025-02-05", "851762", 30, 3),
                item("D4", "T3", "2025-02-06", "847130", 200, 20, currency=odd_currency),
                item("K1", "T9", "2025-01-12", "847130", 80, 9, owner="KZ"),
            ]
        },
    )
    m = lk.load_manifest(root, "goods_items")
    m.watermark = Watermark(marker=WATERMARK, key=["D4", 1])
    m.runs.append({"run": "test", "finished_at": FINISHED})
    lk.commit_manifest(root, m, "test")
    return root


COLUMNS = ["hs", "flow", "reporter", "partner", "month", "currency", "value", "net_mass_kg",
           "items", "declarations", "traders", "value_growth_mom", "value_growth_yoy",
           "mass_growth_yoy"]  # fmt: skip
#: trade_flows with default parameters, computed in CN without agreements: China's own rows
#: (hs, month, currency, value, net_mass_kg, declarations); Kazakhstan's record is left out.
EXPECTED = [
    ("84", "2025-01", "USD", 150.0, 15.0, 2),
    ("84", "2025-02", "USD", 200.0, 20.0, 1),
    ("85", "2025-02", "USD", 30.0, 3.0, 1),
]
KZ_LEFT_OUT = ("goods_items", "KZ", X, 1, 1)


def picked(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    keys = ("hs", "month", "currency", "value", "net_mass_kg", "declarations")
    return [tuple(r[k] for k in keys) for r in rows]
