"""trade_flows against hand-computed cells, growth, residency and small cells, on both engines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from silkgate.exchange.agreements.catalogue import Category
from tests.analytics.jobs.conftest import rows, run_job, statistics_rule
from tests.analytics.jobs.lakes import write_lake

X = "KHG-NZH"


def item(
    decl: str, trader: str, day: str, hs6: str, value: float, mass: float, **kw: Any
) -> dict[str, Any]:
    owner = kw.pop("owner", "CN")
    kind = kw.pop("type", "export")
    exit_c, entry_c = ("CN", "KZ") if kind != "import" or owner == "KZ" else ("KZ", "CN")
    return {
        "declaration_id": decl, "version": 1, "item_no": kw.pop("item_no", 1), "hs6": hs6,
        "hs_code": hs6, "invoice_value": value, "net_mass_kg": mass, "gross_mass_kg": mass,
        "currency": "USD", "type": kind, "exit_country": exit_c, "entry_country": entry_c,
        "trader_ref": trader, "owner_country": owner, "crossing": X, "date": day,
        "lodging_state": owner, "crossing_code": X, **kw,
    }  # fmt: skip


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    return write_lake(
        tmp_path / "lake",
        {
            "goods_items": [
                item("D1", "T1", "2025-01-10", "847130", 100, 10),
                item("D1", "T1", "2025-01-10", "847150", 50, 5, item_no=2),
                item("D2", "T2", "2025-01-20", "851762", 30, 3),
                item("D3", "T1", "2025-02-05", "847130", 300, 20),
                item("D4", "T3", "2026-01-15", "847130", 200, 10),
                # Kazakhstan's import records: one declaration in January, two in February
                item("K1", "T9", "2025-01-12", "847130", 80, 9, owner="KZ", type="import"),
                item("K2", "T8", "2025-02-12", "847130", 90, 9, owner="KZ", type="import"),
                item("K3", "T7", "2025-02-13", "847130", 70, 7, owner="KZ", type="import"),
            ]
        },
    )


COLS = ("hs", "flow", "reporter", "partner", "month", "value", "net_mass_kg", "items",
        "declarations", "traders", "value_growth_mom", "value_growth_yoy")  # fmt: skip
KZ_ALLOWED = [statistics_rule("KZ", Category.DECLARATION)]


def test_cells_and_growth_by_chapter(lake: Path, engine_name: str) -> None:
    result = run_job(lake, "trade_flows", engine=engine_name, rules=KZ_ALLOWED)
    assert rows(result, *COLS) == [
        ("84", "export", "CN", "KZ", "2025-01", 150.0, 15.0, 2, 1, 1, None, None),
        ("84", "export", "CN", "KZ", "2025-02", 300.0, 20.0, 1, 1, 1, 1.0, None),
        ("84", "export", "CN", "KZ", "2026-01", 200.0, 10.0, 1, 1, 1, None, round(200 / 150 - 1, 6)),
        ("84", "import", "KZ", "CN", "2025-01", 80.0, 9.0, 1, 1, 1, None, None),
        ("84", "import", "KZ", "CN", "2025-02", 160.0, 16.0, 2, 2, 2, 1.0, None),
        ("85", "export", "CN", "KZ", "2025-01", 30.0, 3.0, 1, 1, 1, None, None),
    ]  # fmt: skip
    assert result.run.exclusions == [] and result.run.foreign_owners == ["KZ"]


def test_filters_and_levels(lake: Path) -> None:
    result = run_job(
        lake, "trade_flows",
        {"level": "hs6", "hs": "8471", "since": "2025-01-01", "until": "2025-01-31", "reporter": "CN"},
    )  # fmt: skip
    assert rows(result, "hs", "month", "value") == [
        ("847130", "2025-01", 100.0), ("847150", "2025-01", 50.0),
    ]  # fmt: skip


def test_foreign_partitions_excluded_without_agreement(lake: Path) -> None:
    result = run_job(lake, "trade_flows")
    assert {r[2] for r in rows(result, *COLS)} == {"CN"}
    [excluded] = result.run.exclusions
    assert (excluded.dataset, excluded.owner_country, excluded.crossing) == ("goods_items", "KZ", X)
    assert (excluded.partitions, excluded.rows) == (3, 3)
    assert excluded.reason == "KZ customs has no active agreement sharing 'declaration' data"


def test_small_foreign_cells_suppressed_and_growth_on_them_withheld(lake: Path) -> None:
    result = run_job(lake, "trade_flows", rules=KZ_ALLOWED, min_cell_size=2)
    got = rows(result, *COLS)
    # KZ's January cell (1 declaration) is gone; February's growth against it is withheld;
    # China's own single-declaration cells stay (they do not leave China)
    assert ("84", "import", "KZ", "CN", "2025-02", 160.0, 16.0, 2, 2, 2, None, None) in got
    assert not any(r[2] == "KZ" and r[4] == "2025-01" for r in got)
    assert len(got) == 5 and result.run.suppressed_cells == 1


@pytest.mark.parametrize(
    ("since", "until", "growth"),
    [
        ("2025-01-01", "2025-02-28", 1.0),  # both months whole: 300 against 150
        ("2025-01-05", "2025-02-28", None),  # January cut at its start
        ("2025-01-01", "2025-02-27", None),  # February cut at its end
    ],
)
def test_growth_only_between_whole_months(
    lake: Path, since: str, until: str, growth: float | None
) -> None:
    """A part of a month against a whole one is no growth (a range from the 20th made the
    next month look like a rise)."""
    result = run_job(lake, "trade_flows", {"since": since, "until": until, "reporter": "CN"})
    [february] = [r for r in rows(result, *COLS) if r[0] == "84" and r[4] == "2025-02"]
    assert february[5] == 300.0 and february[10] == growth
