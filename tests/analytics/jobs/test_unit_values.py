"""unit_values against hand-computed percentiles, Tukey fences and outliers; items without a
unit value counted; filters, residency, small cells, bad parameters."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from silkgate.core.errors import ValidationFailed
from silkgate.exchange.agreements.catalogue import Category
from tests.analytics.jobs.conftest import rows, run_job, statistics_rule
from tests.analytics.jobs.lakes import write_lake

X = "KHG-NZH"
KZ_ALLOWED = [statistics_rule("KZ", Category.DECLARATION)]


def item(
    decl: str,
    trader: str,
    hs6: str,
    origin: str | None,
    value: float | None,
    mass: float | None,
    item_no: int = 1,
    currency: str = "USD",
    owner: str = "CN",
    kind: str = "export",
    day: str = "2025-01-10",
) -> dict[str, Any]:
    return {
        "declaration_id": decl, "version": 1, "item_no": item_no, "hs6": hs6, "hs_code": hs6,
        "origin_country": origin, "invoice_value": value, "net_mass_kg": mass,
        "gross_mass_kg": mass, "currency": currency, "type": kind, "exit_country": "CN",
        "entry_country": "KZ", "trader_ref": trader, "owner_country": owner, "crossing": X,
        "date": day, "lodging_state": owner, "crossing_code": X,
    }  # fmt: skip


# Group 847130 / CN / USD: nine unit values 2^k USD/kg (10 kg each) for
# k = -8, 1, 2, 2, 3, 3, 4, 4, 12, in declarations U1 (k -8, 1), U2 (2, 2), U3 (3, 3), U4 (4),
# U5 (4), U6 (12); U7 has two items without net mass (0 and missing), U8 two without a value
# (0 and missing). Traders A1 (U1-U3, U8), A2 (U4-U6), A3 (U7).
KS = [(-8, "U1", "A1"), (1, "U1", "A1"), (2, "U2", "A1"), (2, "U2", "A1"), (3, "U3", "A1"),
      (3, "U3", "A1"), (4, "U4", "A2"), (4, "U5", "A2"), (12, "U6", "A2")]  # fmt: skip


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    group_a = [
        item(decl, trader, "847130", "CN", 10 * 2.0**k, 10, item_no=n)
        for n, (k, decl, trader) in enumerate(KS, start=1)
    ]
    return write_lake(
        tmp_path / "lake",
        {
            "goods_items": [
                *group_a,
                item("U7", "A3", "847130", "CN", 100, 0),
                item("U7", "A3", "847130", "CN", 50, None, item_no=2),
                item("U8", "A1", "847130", "CN", 0, 5),
                item("U8", "A1", "847130", "CN", None, 5, item_no=2),
                # 847130 / DE / USD: 10, 20, 40 USD/kg
                item("V1", "B1", "847130", "DE", 20, 2),
                item("V1", "B1", "847130", "DE", 40, 2, item_no=2),
                item("V2", "B1", "847130", "DE", 80, 2),
                # 847130 / CN / CNY: one KZ import, 7 CNY/kg
                item("W1", "K1", "847130", "CN", 70, 10, currency="CNY", owner="KZ", kind="import"),
                # 847150 / CN / USD: 5, 5, 5, 5, 6 USD/kg
                *[
                    item("F1", "A1", "847150", "CN", v, 1, item_no=n)
                    for n, v in enumerate((5, 5, 5, 5, 6), start=1)
                ],
                # 851762 / origin not declared / USD, in February: 10 USD/kg and one without mass
                item("G1", "A2", "851762", None, 30, 3, day="2025-02-03"),
                item("G1", "A2", "851762", None, 30, None, item_no=2, day="2025-02-03"),
            ]
        },
    )


COLS = ("hs6", "origin_country", "currency", "items", "items_no_mass", "items_no_value",
        "declarations", "traders", "p05", "p25", "median", "p75", "p95", "low_fence",
        "high_fence", "low_outliers", "high_outliers")  # fmt: skip

# Group A: sorted unit values 2^-8, 2, 4, 4, 8, 8, 16, 16, 4096. percentile_cont at position
# q x 8: p05 = 2^-8 + 0.4 x (2 - 2^-8) = 0.80234375, p25 = 4, median 8, p75 16,
# p95 = 16 + 0.6 x (4096 - 16) = 2464. On logs: q1 = 2 ln 2, q3 = 4 ln 2, IQR 2 ln 2; fences
# (factor 3) at (2 - 6) ln 2 and (4 + 6) ln 2: 2^-4 = 0.0625 and 2^10 = 1024; below: 2^-8,
# above: 2^12.
GROUP_A = ("847130", "CN", "USD", 9, 2, 2, 8, 3, 0.802344, 4.0, 8.0, 16.0, 2464.0, 0.0625,
           1024.0, 1, 1)  # fmt: skip
# Group B: 10, 20, 40 at positions q x 2: p05 = 10 + 0.1 x 10, p25 15, median 20, p75 30,
# p95 = 20 + 0.9 x 20; 3 unit values < min_items 5: no fences, no outlier counts.
GROUP_B = ("847130", "DE", "USD", 3, 0, 0, 2, 1, 11.0, 15.0, 20.0, 30.0, 38.0, None, None,
           None, None)  # fmt: skip
GROUP_C = ("847130", "CN", "CNY", 1, 0, 0, 1, 1, 7.0, 7.0, 7.0, 7.0, 7.0, None, None, None,
           None)  # fmt: skip
# Group F: 5, 5, 5, 5, 6; p95 at position 3.8 = 5.8. IQR of logs 0: widened to 0.1, fences
# 5 e^-0.3 and 5 e^0.3; 6 lies inside.
GROUP_F = ("847150", "CN", "USD", 5, 0, 0, 1, 1, 5.0, 5.0, 5.0, 5.0, 5.8,
           round(5 * math.exp(-0.3), 6), round(5 * math.exp(0.3), 6), 0, 0)  # fmt: skip
GROUP_G = ("851762", "", "USD", 1, 1, 0, 1, 1, 10.0, 10.0, 10.0, 10.0, 10.0, None, None, None,
           None)  # fmt: skip


def test_percentiles_fences_and_outliers(lake: Path, engine_name: str) -> None:
    result = run_job(lake, "unit_values", {"min_items": 5}, engine=engine_name, rules=KZ_ALLOWED)
    assert rows(result, *COLS) == [GROUP_C, GROUP_A, GROUP_B, GROUP_F, GROUP_G]
    assert result.run.foreign_owners == ["KZ"] and result.run.suppressed_cells == 0


def test_default_min_items_leaves_small_groups_without_fences(lake: Path) -> None:
    result = run_job(lake, "unit_values", {"hs": "847130", "origin": "CN", "flow": "export"})
    # nine unit values < 20: the distribution is shown, fences and outlier counts are not
    assert rows(result, *COLS) == [(*GROUP_A[:13], None, None, None, None)]


@pytest.mark.parametrize(
    ("params", "fences"),
    [
        # q1 - 0.25 x IQR = 1.5 ln 2, q3 + 0.25 x IQR = 4.5 ln 2; below: 2^-8 and 2; above: 2^12
        ({"iqr_factor": 0.25}, (round(2**1.5, 6), round(2**4.5, 6), 2, 1)),
        # group F without the floor on the IQR: both fences at 5, and 6 is an outlier
        ({"hs": "847150", "min_log_width": 0}, (5.0, 5.0, 0, 1)),
    ],
)
def test_fence_parameters(lake: Path, params: dict[str, Any], fences: tuple[Any, ...]) -> None:
    result = run_job(
        lake, "unit_values", {"hs": "847130", "origin": "CN", "min_items": 5, **params}
    )
    [got] = [r for r in rows(result, "low_fence", "high_fence", "low_outliers", "high_outliers",
                             "currency") if r[4] == "USD"]  # fmt: skip
    assert got[:4] == fences


@pytest.mark.parametrize(
    ("params", "groups"),
    [
        ({"origin": "DE"}, [("847130", "DE", "USD")]),
        ({"hs": "8517"}, [("851762", "", "USD")]),
        ({"since": "2025-02-01"}, [("851762", "", "USD")]),
        ({"until": "2025-01-31", "hs": "847150"}, [("847150", "CN", "USD")]),
        ({"flow": "import"}, [("847130", "CN", "CNY")]),
        ({"reporter": "KZ"}, [("847130", "CN", "CNY")]),
    ],
)
def test_filters(lake: Path, params: dict[str, Any], groups: list[tuple[str, ...]]) -> None:
    result = run_job(lake, "unit_values", params, rules=KZ_ALLOWED)
    assert rows(result, "hs6", "origin_country", "currency") == groups


def test_kz_partitions_excluded_and_small_foreign_cells_suppressed(lake: Path) -> None:
    result = run_job(lake, "unit_values", {"hs": "847130"})
    assert [r[2] for r in rows(result, *COLS)] == ["USD", "USD"]
    [excluded] = result.run.exclusions
    assert (excluded.owner_country, excluded.partitions, excluded.rows) == ("KZ", 1, 1)
    assert excluded.reason == "KZ customs has no active agreement sharing 'declaration' data"
    # allowed, the KZ group has 1 declaration: gone at a minimum of 2; China's own small
    # groups (847130/DE: 2 declarations, 1 trader) stay
    result = run_job(lake, "unit_values", {"hs": "847130"}, rules=KZ_ALLOWED, min_cell_size=2)
    assert rows(result, "origin_country", "currency") == [("CN", "USD"), ("DE", "USD")]
    assert result.run.suppressed_cells == 1


def test_foreign_unit_values_of_too_few_declarations_withheld(tmp_path: Path) -> None:
    """A KZ group of 3 declarations and traders whose only unit value is W1's: published, but
    its percentiles would be one trader's price."""
    kz = {"currency": "CNY", "owner": "KZ", "kind": "import"}
    lake = write_lake(
        tmp_path / "lake",
        {
            "goods_items": [
                item("W1", "K1", "847130", "CN", 70, 10, **kz),
                item("W2", "K2", "847130", "CN", 50, 0, **kz),
                item("W3", "K3", "847130", "CN", 60, None, **kz),
                item("C1", "A1", "847130", "CN", 40, 4),  # China's own: never withheld
                item("C2", "A2", "847130", "CN", 40, None),
            ]
        },
    )
    shown = ("currency", "declarations", "traders", "items", "p05", "median", "p95")
    result = run_job(lake, "unit_values", rules=KZ_ALLOWED, min_cell_size=2)
    assert rows(result, *shown) == [
        ("CNY", 3, 3, 1, None, None, None),
        ("USD", 2, 2, 1, 10.0, 10.0, 10.0),
    ]
    assert result.run.suppressed_cells == 0
    result = run_job(lake, "unit_values", rules=KZ_ALLOWED, min_cell_size=1)
    assert rows(result, *shown)[0] == ("CNY", 3, 3, 1, 7.0, 7.0, 7.0)


def pooled_goods() -> dict[str, list[dict[str, Any]]]:
    """Groups pooling China's items with Kazakhstan's (the test below says which is which)."""
    kz = {"owner": "KZ", "kind": "import"}
    goods = []
    for hs in ("847130", "850440", "851762"):
        goods += [item(f"C{n}-{hs}", f"A{n}", hs, "CN", 10.0 + n, 1) for n in range(4)]
    goods += [
        item("K1-847130", "K1", "847130", "CN", 37, 1, **kz),
        item("K1-850440", "K1", "850440", "CN", 37, 1, **kz),
        item("K2-850440", "K2", "850440", "CN", 37, None, **kz),
        item("K3-850440", "K3", "850440", "CN", 37, 0, **kz),
    ] + [item(f"K{n}-851762", f"K{n}", "851762", "CN", 37, 1, **kz) for n in range(3)]
    return {"goods_items": goods}


def test_a_pooled_groups_foreign_part_is_held_to_the_minimum(tmp_path: Path) -> None:
    """Both countries' items pooled in one group: China knows its own four items, so the group
    would give away Kazakhstan's part by subtraction unless that part is large enough itself.
    847130: four CN items (10-13 USD/kg) and one KZ item (37 USD/kg): the pooled group has 5
    declarations of 5 traders, but its KZ part is one declaration: suppressed at 3. 850440:
    the same four CN items and three KZ declarations of three traders, only one of them with a
    unit value: published, its percentiles withheld (they would be that one KZ item's price
    next to China's known ones). 851762: three KZ items with unit values: published whole."""
    lake = write_lake(tmp_path / "lake", pooled_goods())
    shown = ("hs6", "declarations", "traders", "items", "median", "p95")
    result = run_job(lake, "unit_values", rules=KZ_ALLOWED, min_cell_size=3)
    assert rows(result, *shown) == [
        ("850440", 7, 7, 5, None, None),
        ("851762", 7, 7, 7, 13.0, 37.0),
    ]
    assert result.run.suppressed_cells == 1
    assert not [c for c in result.table.column_names if c.startswith("foreign")]
    everything = run_job(lake, "unit_values", rules=KZ_ALLOWED, min_cell_size=1)
    assert rows(everything, "hs6", "declarations", "p95")[0] == ("847130", 5, 32.2)


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"hs": "9999"}, "/params/hs", "unknown_hs"),
        ({"since": "2025-03-01", "until": "2025-01-01"}, "/params/until", "inverted_range"),
        ({"origin": "XX"}, "/params/origin", "unknown_country"),
        ({"reporter": "XX"}, "/params/reporter", "unknown_country"),
        ({"flow": "re-export"}, "/params/flow", "not_a_choice"),
        ({"min_items": 2}, "/params/min_items", "too_small"),
        ({"min_items": "1" + "0" * 40}, "/params/min_items", "too_large"),
        ({"iqr_factor": 0}, "/params/iqr_factor", "too_small"),
        ({"level": "hs6"}, "/params/level", "unknown_param"),
    ],
)
def test_bad_params_named(lake: Path, params: dict[str, Any], field: str, code: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        run_job(lake, "unit_values", params)
    assert [(e.field, e.code) for e in exc.value.errors] == [(field, code)]
