"""mirror_statistics against hand-computed gaps, unit values and flags; residency, small
cells, bad parameters; its value bands checked by the risk schema and the risk engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from silkgate.analytics.jobs.value_controls import bands_of, mirror_value_bands, value_bands
from silkgate.core.errors import ValidationFailed
from silkgate.core.platform import Platform
from silkgate.exchange.agreements.catalogue import Category
from silkgate.risk.selectivity.schemas import ValueBand, ValueControls
from silkgate.risk.selectivity.value_controls import BandIndex
from tests.analytics.jobs.conftest import rows, run_job, statistics_rule
from tests.analytics.jobs.lakes import write_lake

X = "KHG-NZH"
KZ_ALLOWED = [statistics_rule("KZ", Category.DECLARATION)]


def item(
    decl: str,
    trader: str,
    day: str,
    hs6: str,
    value: float | None,
    mass: float | None,
    owner: str = "CN",
    kind: str = "export",
    route: str = "CN>KZ",
    currency: str = "USD",
    item_no: int = 1,
) -> dict[str, Any]:
    exit_c, entry_c = route.split(">")
    return {
        "declaration_id": decl, "version": 1, "item_no": item_no, "hs6": hs6, "hs_code": hs6,
        "invoice_value": value, "net_mass_kg": mass, "gross_mass_kg": mass,
        "currency": currency, "type": kind, "exit_country": exit_c, "entry_country": entry_c,
        "origin_country": "CN", "trader_ref": trader, "owner_country": owner, "crossing": X,
        "date": day, "lodging_state": owner, "crossing_code": X,
    }  # fmt: skip


def kz_import(decl: str, trader: str, day: str, hs6: str, value: float, mass: float,
              **kw: Any) -> dict[str, Any]:  # fmt: skip
    return item(decl, trader, day, hs6, value, mass, owner="KZ", kind="import", **kw)


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    exports_847130 = [
        item(f"E{n}", t, f"2025-01-{5 + n:02d}", "847130", 1000, 100)
        for n, t in zip(range(1, 6), ("T1", "T2", "T3", "T3", "T4"), strict=True)
    ]
    imports_847130 = [
        kz_import(f"I{n}", f"K{n}", f"2025-01-{7 + n:02d}", "847130", 600, 120) for n in range(1, 6)
    ]
    return write_lake(
        tmp_path / "lake",
        {
            "goods_items": [
                *exports_847130,  # E1..E5 on 01-06..01-10, traders T1 T2 T3 T3 T4
                *imports_847130,  # I1..I5 on 01-08..01-12, traders K1..K5
                item("E6", "T6", "2025-01-15", "847150", 200, 10),
                item("E6", "T6", "2025-01-15", "847150", 50, 0, item_no=2),  # no mass
                kz_import("I6", "K6", "2025-01-16", "847150", 180, 10),
                kz_import("I7", "K7", "2025-01-20", "847130", 5000, 100, currency="CNY"),
                item("E7", "T1", "2025-02-03", "851762", 300, 30),
                item("E8", "T5", "2024-12-31", "847130", 400, 50),
                # not part of CN→KZ mirror statistics:
                item("N1", "T1", "2025-01-06", "847130", 999, 1, route="CN>UZ"),
                item("N2", "T1", "2025-01-06", "847130", 999, 1, kind="transit"),
                kz_import("N3", "K1", "2025-01-08", "847130", 999, 1, route="RU>KZ"),
                item("N4", "K6", "2025-01-16", "847130", 999, 1, owner="KZ", route="KZ>CN"),
                item("N5", "T1", "2025-01-06", "847130", 999, 1, kind="import", route="KZ>CN"),
            ]
        },
    )


COLS = ("hs", "month", "currency", "export_value", "import_value", "value_gap", "gap_share",
        "export_mass_kg", "import_mass_kg", "mass_gap", "export_unit_value",
        "import_unit_value", "unit_value_ratio", "flag", "export_declarations",
        "import_declarations", "export_traders", "import_traders", "export_items_no_mass",
        "import_items_no_mass")  # fmt: skip

# 847130, January, USD: exports 5 x (1000 USD, 100 kg) = 5000 USD, 500 kg, 10 USD/kg;
# imports 5 x (600 USD, 120 kg) = 3000 USD, 600 kg, 5 USD/kg. Gap 2000 = 40 % of exports,
# mass gap -100 kg, ratio 5/10 = 0.5 < 0.8 with 5 declarations each side: flagged.
# 847150: exports 200 + 50 (the 50 has no mass: in the value, not the unit value 200/10 = 20),
# imports 180 / 10 kg = 18; ratio 0.9, gap 70 = 28 % of 250.
HS6_ROWS = [
    ("847130", "2024-12", "USD", 400.0, None, None, None, 50.0, None, None, 8.0, None, None,
     False, 1, 0, 1, 0, 0, 0),
    ("847130", "2025-01", "CNY", None, 5000.0, None, None, None, 100.0, None, None, 50.0, None,
     False, 0, 1, 0, 1, 0, 0),
    ("847130", "2025-01", "USD", 5000.0, 3000.0, 2000.0, 0.4, 500.0, 600.0, -100.0, 10.0, 5.0,
     0.5, True, 5, 5, 4, 5, 0, 0),
    ("847150", "2025-01", "USD", 250.0, 180.0, 70.0, 0.28, 10.0, 10.0, 0.0, 20.0, 18.0, 0.9,
     False, 1, 1, 1, 1, 1, 0),
    ("851762", "2025-02", "USD", 300.0, None, None, None, 30.0, None, None, 10.0, None, None,
     False, 1, 0, 1, 0, 0, 0),
]  # fmt: skip


def test_hs6_gaps_unit_values_and_flag(lake: Path, engine_name: str) -> None:
    result = run_job(
        lake, "mirror_statistics", {"level": "hs6"}, engine=engine_name, rules=KZ_ALLOWED
    )
    # at a minimum cell size of 1 the CNY row, KZ data only, is shown: a side with no
    # declarations does not make a row small
    assert rows(result, *COLS) == HS6_ROWS and result.run.suppressed_cells == 0
    assert result.run.exclusions == [] and result.run.foreign_owners == ["KZ"]


def test_chapter_level_pools_subheadings(lake: Path) -> None:
    result = run_job(lake, "mirror_statistics", {"since": "2025-01-01"}, rules=KZ_ALLOWED)
    # 84, January, USD: exports 5000 + 250 = 5250 USD, 500 + 10 = 510 kg, unit value on the
    # items with mass (5000 + 200) / 510; imports 3000 + 180 = 3180 USD, 610 kg.
    # Traders T1 T2 T3 T4 T6 against K1..K6; the December export is before `since`.
    assert rows(result, *COLS) == [
        ("84", "2025-01", "CNY", None, 5000.0, None, None, None, 100.0, None, None, 50.0, None,
         False, 0, 1, 0, 1, 0, 0),
        ("84", "2025-01", "USD", 5250.0, 3180.0, 2070.0, round(2070 / 5250, 6), 510.0, 610.0,
         -100.0, round(5200 / 510, 6), round(3180 / 610, 6),
         round((3180 / 610) / (5200 / 510), 6), True, 6, 6, 5, 6, 1, 0),
        ("85", "2025-02", "USD", 300.0, None, None, None, 30.0, None, None, 10.0, None, None,
         False, 1, 0, 1, 0, 0, 0),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("params", "flagged"),
    [
        ({}, True),
        ({"ratio_threshold": 0.5}, False),  # 5 < 0.5 x 10 is false: the ratio must be below
        ({"ratio_threshold": 0.51}, True),
        ({"min_declarations": 6}, False),  # only 5 declarations on each side
    ],
)
def test_flag_threshold_and_volume(lake: Path, params: dict[str, Any], flagged: bool) -> None:
    result = run_job(
        lake, "mirror_statistics", {"level": "hs6", "hs": "847130", **params}, rules=KZ_ALLOWED
    )
    got = {(r[0], r[1], r[2]): r[3] for r in rows(result, "hs", "month", "currency", "flag")}
    assert got == {
        ("847130", "2024-12", "USD"): False,
        ("847130", "2025-01", "CNY"): False,
        ("847130", "2025-01", "USD"): flagged,
    }


def test_import_side_absent_without_kz_agreement(lake: Path) -> None:
    result = run_job(lake, "mirror_statistics", {"level": "hs6"})
    # computing in CN without a KZ agreement: KZ's partitions (01-08 with I1 and N3, 01-09,
    # 01-10, 01-11, 01-12, 01-16 with I6 and N4, 01-20) are not read, so the import side is
    # empty everywhere and nothing is flagged; the CNY row existed only on the KZ side
    got = rows(result, "hs", "month", "currency", "export_value", "import_value", "value_gap",
               "flag", "export_declarations", "import_declarations")  # fmt: skip
    assert got == [
        ("847130", "2024-12", "USD", 400.0, None, None, False, 1, 0),
        ("847130", "2025-01", "USD", 5000.0, None, None, False, 5, 0),
        ("847150", "2025-01", "USD", 250.0, None, None, False, 1, 0),
        ("851762", "2025-02", "USD", 300.0, None, None, False, 1, 0),
    ]
    [excluded] = result.run.exclusions
    assert (excluded.dataset, excluded.owner_country, excluded.crossing) == ("goods_items", "KZ", X)
    assert (excluded.partitions, excluded.rows) == (7, 9)
    assert excluded.reason == "KZ customs has no active agreement sharing 'declaration' data"
    assert result.run.foreign_owners == []


@pytest.mark.parametrize(("minimum", "kept"), [(4, True), (5, False)])
def test_smallest_side_decides_suppression(lake: Path, minimum: int, kept: bool) -> None:
    result = run_job(
        lake, "mirror_statistics", {"level": "hs6"}, rules=KZ_ALLOWED, min_cell_size=minimum
    )
    got = rows(result, "hs", "month", "currency")
    # the flagged row holds KZ data; its export side has 4 traders (T1 T2 T3 T4), the import
    # side 5: kept at a minimum of 4, gone at 5. 847150 (1 each) and the CNY row (1 import
    # declaration; its export side's 0 describes no one) are suppressed at both; CN-only rows
    # are not KZ data and always stay.
    assert (("847130", "2025-01", "USD") in got) is kept
    assert [r for r in got if r != ("847130", "2025-01", "USD")] == [
        ("847130", "2024-12", "USD"),
        ("851762", "2025-02", "USD"),
    ]
    assert result.run.suppressed_cells == (2 if kept else 3)


def test_foreign_unit_value_of_too_few_declarations_withheld(tmp_path: Path) -> None:
    """KZ's side has 3 declarations and traders but one item with a mass: large enough to
    publish, yet its unit value would be one trader's price (and the ratio and flag with it)."""
    day, hs6 = "2025-01-10", "847130"
    lake = write_lake(
        tmp_path / "lake",
        {
            "goods_items": [
                *(item(f"E{n}", f"T{n}", day, hs6, 100, 10) for n in (1, 2, 3)),
                kz_import("I1", "K1", day, hs6, 10, 10),
                kz_import("I2", "K2", day, hs6, 50, 0),
                item("I3", "K3", day, hs6, 60, None, owner="KZ", kind="import"),
            ]
        },
    )
    shown = ("import_declarations", "import_traders", "export_unit_value", "import_unit_value",
             "unit_value_ratio", "flag")  # fmt: skip
    params = {"level": "hs6", "min_declarations": 1}
    result = run_job(lake, "mirror_statistics", params, rules=KZ_ALLOWED, min_cell_size=2)
    assert rows(result, *shown) == [(3, 3, 10.0, None, None, False)]
    result = run_job(lake, "mirror_statistics", params, rules=KZ_ALLOWED, min_cell_size=1)
    assert rows(result, *shown) == [(3, 3, 10.0, 1.0, 0.1, True)]


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"hs": "9999"}, "/params/hs", "unknown_hs"),
        ({"since": "2025-02-01", "until": "2025-01-31"}, "/params/until", "inverted_range"),
        ({"exporter": "XX"}, "/params/exporter", "unknown_country"),
        ({"importer": "cn"}, "/params/importer", "same_country"),
        ({"ratio_threshold": 1.5}, "/params/ratio_threshold", "too_large"),
        ({"min_declarations": 0}, "/params/min_declarations", "too_small"),
        ({"min_declarations": 10**40}, "/params/min_declarations", "too_large"),
        ({"level": "hs8"}, "/params/level", "not_a_choice"),
    ],
)
def test_bad_params_named(lake: Path, params: dict[str, Any], field: str, code: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        run_job(lake, "mirror_statistics", params)
    assert [(e.field, e.code) for e in exc.value.errors] == [(field, code)]


# ---------------------------------------------------------------------------- value bands


def test_value_bands_from_a_run_feed_the_risk_engine(lake: Path) -> None:
    result = run_job(lake, "mirror_statistics", {"level": "hs6"}, rules=KZ_ALLOWED)
    made = bands_of(result, "USD")
    # the flagged 847130 row: 0.8 x 10 USD/kg from 5 export declarations, origin the exporter
    assert made.bands == [
        ValueBand(hs6="847130", origin="CN", min_per_kg=8.0, source="history", count=5)
    ]
    assert (made.flagged_rows, made.other_currency_rows) == (1, 0)
    controls = ValueControls.model_validate({"bands": [b.model_dump() for b in made.bands]})
    index = BandIndex(controls.bands)
    declared = {"hs_code": "84713000", "origin": "CN", "net_mass": 100}
    hit = index.check({**declared, "value": 600})  # 6 USD/kg, as KZ recorded
    assert hit is not None and (hit.side, hit.bound) == ("below", 8.0)
    assert index.check({**declared, "value": 900}) is None  # 9 USD/kg


def mirror_table(rows_: list[tuple[Any, ...]]) -> pa.Table:
    names = ("hs", "month", "currency", "flag", "export_unit_value", "export_mass_kg",
             "export_declarations")  # fmt: skip
    return pa.Table.from_pylist([dict(zip(names, r, strict=True)) for r in rows_])


def test_value_bands_weigh_flagged_months_by_export_mass() -> None:
    table = mirror_table([
        ("847130", "2025-01", "USD", True, 10.0, 500.0, 5),
        ("847130", "2025-02", "USD", True, 12.0, 250.0, 3),
        ("847130", "2025-03", "USD", False, 30.0, 250.0, 9),  # not flagged: not used
        ("847150", "2025-01", "EUR", True, 20.0, 10.0, 6),  # another currency
    ])  # fmt: skip
    # (10 x 500 + 12 x 250) / 750 = 8000 / 750 USD/kg, x 0.8; 5 + 3 declarations
    [band] = value_bands(table, ratio_threshold=0.8, origin="CN", currency="USD")
    assert (band.hs6, band.origin, band.count) == ("847130", "CN", 8)
    assert band.min_per_kg == pytest.approx(0.8 * 8000 / 750)
    [eur] = value_bands(table, ratio_threshold=0.7, origin="*", currency="EUR")
    assert (eur.hs6, eur.origin, eur.min_per_kg, eur.count) == ("847150", "*", 14.0, 6)


def test_value_bands_need_hs6_rows() -> None:
    table = mirror_table([("84", "2025-01", "USD", True, 10.0, 500.0, 5)])
    with pytest.raises(ValueError, match="per HS6; the result has HS 84"):
        value_bands(table, ratio_threshold=0.8, origin="CN", currency="USD")
    with pytest.raises(ValueError, match="no column export_unit_value"):
        value_bands(table.drop_columns(["export_unit_value"]), ratio_threshold=0.8,
                    origin="CN", currency="USD")  # fmt: skip


def test_service_bands_use_the_platforms_agreements_and_cell_size(
    platform: Platform, lake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert platform.settings.lake_dir == lake
    # the database holds no KZ agreement for declarations: KZ is left out and named
    made = mirror_value_bands(platform, {"hs": "8471"})
    assert made.bands == [] and made.run.compute_country == "CN"
    assert [e.owner_country for e in made.run.exclusions] == ["KZ"]
    # under one, the platform's minimum cell size (5) suppresses the flagged row (4 traders),
    # 847150 and the CNY row
    from silkgate.analytics.jobs import service

    monkeypatch.setattr(service, "agreement_rules", lambda _platform: KZ_ALLOWED)
    made = mirror_value_bands(platform, {"hs": "8471"})
    assert made.bands == [] and made.run.suppressed_cells == 3 and made.run.min_cell_size == 5
    monkeypatch.setattr(platform.settings, "analytics_min_cell_size", 4)
    made = mirror_value_bands(platform, {"hs": "8471"}, currency="usd")
    assert [(b.hs6, b.min_per_kg, b.count) for b in made.bands] == [("847130", 8.0, 5)]
    with pytest.raises(ValidationFailed) as exc:
        mirror_value_bands(platform, {"level": "chapter", "hs": "9999"}, currency="XYZ")
    assert [(e.field, e.code) for e in exc.value.errors] == [
        ("/params/hs", "unknown_hs"),
        ("/params/level", "not_hs6"),
        ("/currency", "unknown_currency"),
    ]
