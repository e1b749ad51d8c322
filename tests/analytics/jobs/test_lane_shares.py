"""lane_shares against hand-computed shares, overrides and hit rates; residency, small cells,
filters and bad parameters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from silkgate.core.errors import ValidationFailed
from silkgate.exchange.agreements.catalogue import Category
from tests.analytics.jobs.conftest import all_categories, rows, run_job, statistics_rule
from tests.analytics.jobs.lakes import write_lake
from tests.analytics.jobs.risk_rows import (
    declaration,
    inspection,
    items,
    lane,
    one_trader_inspected,
)

KHG, ALA, NUR = "CN-KHORGOS", "CN-ALASHANKOU", "KZ-NURZHOLY"


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    """China at Khorgos: January D1-D7, February D8-D9; D10 at Alashankou; Kazakhstan's
    Nurzhol K1-K3 in January."""
    lanes = [
        # D1 v1 (chapter 84) was green and inspected clean, then amended: v2 (chapter 85 by
        # value, 300 > 100) is red and found a discrepancy. Only v2 counts.
        lane("D1", "2025-01-05", "green"),
        lane("D1", "2025-01-10", "red", version=2),
        # D2 v2 (chapter 94) is lodged but not assessed yet: v1's goods (84) count
        lane("D2", "2025-01-06", "green"),
        lane("D3", "2025-01-07", "green"),
        lane("D4", "2025-01-08", "green", override="yellow"),
        lane("D5", "2025-01-09", "red"),
        lane("D6", "2025-01-11", "red"),
        lane("D7", "2025-01-12", "green"),
        lane("D8", "2025-02-03", "blue"),
        lane("D9", "2025-02-04", "red"),
        lane("D10", "2025-01-15", "green", office=ALA),
        lane("K1", "2025-01-05", "green", office=NUR),
        lane("K2", "2025-01-05", "green", office=NUR),
        lane("K3", "2025-01-06", "red", office=NUR),
    ]
    decls = [
        declaration("D1", "2025-01-04", "T1", "broker", version=2),
        declaration("D2", "2025-01-05", "T2", "broker", version=2),
        declaration("D3", "2025-01-06", "T1", "broker"),
        declaration("D4", "2025-01-07", "T3", "broker"),
        declaration("D5", "2025-01-08", "T2", "broker"),
        declaration("D6", "2025-01-10", "T4", "broker"),
        declaration("D7", "2025-01-11", "T5", "carrier"),
        declaration("D8", "2025-02-02", "T6", None),
        declaration("D9", "2025-02-03", "T1", "broker"),
        declaration("D10", "2025-01-14", "T7", "broker", office=ALA),
        declaration("K1", "2025-01-04", "T8", "broker", office=NUR),
        declaration("K2", "2025-01-04", "T9", "broker", office=NUR),
        declaration("K3", "2025-01-05", "T9", "broker", office=NUR),
    ]
    goods = [
        *items("D1", "2025-01-04", ("847130", 100)),
        *items("D1", "2025-01-04", ("847130", 100), ("851762", 300), version=2),
        *items("D2", "2025-01-05", ("847130", 200), ("847150", 50)),
        *items("D2", "2025-01-05", ("940320", 500), version=2),
        *[items(d, "2025-01-06", ("847130", 10))[0] for d in ("D3", "D4", "D5", "D6", "D7")],
        *items("D8", "2025-02-02", ("847130", 10)),
        *items("D9", "2025-02-03", ("940320", 10)),
        *items("D10", "2025-01-14", ("847130", 10), office=ALA),
        *[items(k, "2025-01-04", ("847130", 10), office=NUR)[0] for k in ("K1", "K2", "K3")],
    ]
    checks = [
        inspection("D1", "2025-01-05", "no_discrepancy"),
        inspection("D1", "2025-01-10", "discrepancy", version=2),
        inspection("D4", "2025-01-08", "no_discrepancy"),
        inspection("D5", "2025-01-09", "discrepancy"),
        inspection("D6", "2025-01-11", "no_discrepancy"),
        inspection("D8", "2025-02-03", "pending"),  # not an outcome the platform records
        inspection("D9", "2025-02-04", "discrepancy"),
        inspection("K3", "2025-01-06", "discrepancy", office=NUR),
    ]
    return write_lake(
        tmp_path / "lake",
        {"lanes": lanes, "declarations": decls, "goods_items": goods, "inspections": checks},
    )


COLS = ("office", "chapter", "trader_category", "month", "lane", "declarations", "traders",
        "share", "overrides", "inspected", "hits", "hit_rate", "unrecognised_outcomes")  # fmt: skip
KZ_ALLOWED = all_categories("KZ")


def test_shares_and_hit_rates_by_office_chapter_category(lake: Path, engine_name: str) -> None:
    result = run_job(lake, "lane_shares", engine=engine_name, rules=KZ_ALLOWED)
    assert rows(result, *COLS) == [
        (ALA, "84", "broker", "2025-01", "green", 1, 1, 1.0, 0, 0, 0, None, 0),
        # Khorgos, 84, broker, January: D2 D3 green, D5 D6 red, D4 yellow by override = 5
        (KHG, "84", "broker", "2025-01", "green", 2, 2, 0.4, 0, 0, 0, None, 0),
        (KHG, "84", "broker", "2025-01", "red", 2, 2, 0.4, 0, 2, 1, 0.5, 0),  # D5 hit, D6 not
        (KHG, "84", "broker", "2025-01", "yellow", 1, 1, 0.2, 1, 1, 0, 0.0, 0),
        (KHG, "84", "carrier", "2025-01", "green", 1, 1, 1.0, 0, 0, 0, None, 0),
        # D8 (no role recorded): its inspection's outcome is not one the platform knows
        (KHG, "84", "unknown", "2025-02", "blue", 1, 1, 1.0, 0, 0, 0, None, 1),
        (KHG, "85", "broker", "2025-01", "red", 1, 1, 1.0, 0, 1, 1, 1.0, 0),  # D1 v2
        (KHG, "94", "broker", "2025-02", "red", 1, 1, 1.0, 0, 1, 1, 1.0, 0),  # D9
        # Nurzhol: K1 K2 green (traders T8 T9), K3 red (T9), inspected, a hit
        (NUR, "84", "broker", "2025-01", "green", 2, 2, round(2 / 3, 6), 0, 0, 0, None, 0),
        (NUR, "84", "broker", "2025-01", "red", 1, 1, round(1 / 3, 6), 0, 1, 1, 1.0, 0),
    ]  # fmt: skip
    assert result.run.exclusions == [] and result.run.foreign_owners == ["KZ"]


def test_by_office_and_kazakh_lanes_excluded_without_agreement(lake: Path) -> None:
    result = run_job(lake, "lane_shares", {"by": "office"})
    assert rows(result, *COLS) == [
        (ALA, "*", "*", "2025-01", "green", 1, 1, 1.0, 0, 0, 0, None, 0),
        # Khorgos January: D1..D7 = 7; green D2 D3 D7, red D1 D5 D6 (2 hits of 3), yellow D4
        (KHG, "*", "*", "2025-01", "green", 3, 3, round(3 / 7, 6), 0, 0, 0, None, 0),
        (KHG, "*", "*", "2025-01", "red", 3, 3, round(3 / 7, 6), 0, 3, 2, round(2 / 3, 6), 0),
        (KHG, "*", "*", "2025-01", "yellow", 1, 1, round(1 / 7, 6), 1, 1, 0, 0.0, 0),
        (KHG, "*", "*", "2025-02", "blue", 1, 1, 0.5, 0, 0, 0, None, 1),
        (KHG, "*", "*", "2025-02", "red", 1, 1, 0.5, 0, 1, 1, 1.0, 0),
    ]  # fmt: skip
    excluded = {(e.dataset, e.owner_country, e.crossing): e for e in result.run.exclusions}
    assert set(excluded) == {
        (ds, "KZ", "KHG-NZH") for ds in ("lanes", "declarations", "goods_items", "inspections")
    }
    lanes = excluded["lanes", "KZ", "KHG-NZH"]
    assert (lanes.partitions, lanes.rows) == (2, 3)  # K1 K2 on the 5th, K3 on the 6th
    assert lanes.reason == "KZ customs has no active agreement sharing 'risk_lane' data"
    assert result.run.foreign_owners == []


def test_filters_keep_the_filtered_value_and_the_main_chapter(lake: Path) -> None:
    params = {"office": KHG, "hs": "8471", "trader_category": "broker", "by": "chapter"}
    result = run_job(lake, "lane_shares", params)
    # brokers' declarations with goods under 8471: D1 (v2: 847130 and 851762, main chapter 85),
    # D2 (v1's goods; v2's 940320 is not assessed), D3-D6; not D9 (940320 only)
    assert rows(result, *COLS[:8]) == [
        (KHG, "84", "broker", "2025-01", "green", 2, 2, 0.4),
        (KHG, "84", "broker", "2025-01", "red", 2, 2, 0.4),
        (KHG, "84", "broker", "2025-01", "yellow", 1, 1, 0.2),
        (KHG, "85", "broker", "2025-01", "red", 1, 1, 1.0),
    ]  # fmt: skip


def test_days_and_unknown_category(lake: Path) -> None:
    february = run_job(lake, "lane_shares", {"since": "2025-02-01", "until": "2025-02-28"})
    assert rows(february, "chapter", "trader_category", "month", "lane") == [
        ("84", "unknown", "2025-02", "blue"),
        ("94", "broker", "2025-02", "red"),
    ]
    # D1's green v1 (5 January) is not counted on its own day: D1 counts at v2 (10 January)
    early = run_job(lake, "lane_shares", {"until": "2025-01-05", "by": "office"})
    assert rows(early) == []
    unknown = run_job(lake, "lane_shares", {"trader_category": "unknown", "by": "office"})
    assert rows(unknown, "office", "trader_category", "lane", "declarations") == [
        (KHG, "unknown", "blue", 1)
    ]


def test_small_foreign_cells_suppressed_and_shares_beside_them_withheld(lake: Path) -> None:
    result = run_job(lake, "lane_shares", rules=KZ_ALLOWED, min_cell_size=2)
    got = rows(result, *COLS)
    # Nurzhol's red (1 declaration) is suppressed; its green (2 declarations, 2 traders) stays
    # but without a share (it would give red's count); China's own small cells stay
    assert [r for r in got if r[0] == NUR] == [
        (NUR, "84", "broker", "2025-01", "green", 2, 2, None, 0, 0, 0, None, 0)
    ]
    assert (KHG, "85", "broker", "2025-01", "red", 1, 1, 1.0, 0, 1, 1, 1.0, 0) in got
    assert len(got) == 9 and result.run.suppressed_cells == 1


@pytest.mark.parametrize(
    ("job", "columns"),
    [
        ("lane_shares", ("declarations", "traders", "inspected", "hits", "hit_rate")),
        ("model_drift", ("declarations", "traders", "red_yellow_inspected", "red_yellow_hits",
                         "red_yellow_precision")),
    ],
)  # fmt: skip
def test_hit_rates_over_too_few_traders_inspections_withheld(
    tmp_path: Path, job: str, columns: tuple[str, ...], engine_name: str
) -> None:
    """Four red declarations at Nurzhol from three traders, a row big enough at 2; the two
    inspected are one trader's, so their hit rate (what customs found on that trader's goods)
    is withheld at 2 and shown at 1. A third inspection, of another trader, shows it at 2."""
    one_trader = write_lake(tmp_path / "one", one_trader_inspected())
    got = run_job(one_trader, job, rules=KZ_ALLOWED, min_cell_size=2, engine=engine_name)
    assert rows(got, *columns) == [(4, 3, 2, None, None)]
    if engine_name != "duckdb":
        return
    assert rows(run_job(one_trader, job, rules=KZ_ALLOWED, min_cell_size=1), *columns) == [
        (4, 3, 2, 1, 0.5)
    ]
    two_traders = write_lake(tmp_path / "two", one_trader_inspected(third=True))
    assert rows(run_job(two_traders, job, rules=KZ_ALLOWED, min_cell_size=2), *columns) == [
        (4, 3, 3, 2, round(2 / 3, 6))
    ]


def pooled_lanes() -> dict[str, list[dict[str, Any]]]:
    """Red lanes pooling China's offices with Kazakhstan's (the test below says which)."""
    decls = {
        "C1": ("2025-01-10", KHG, "T1", "no_discrepancy"),
        "C2": ("2025-01-10", KHG, "T2", "no_discrepancy"),
        "C3": ("2025-01-10", KHG, "T3", "no_discrepancy"),
        "K0": ("2025-01-10", NUR, "K0", "discrepancy"),
        "C4": ("2025-02-10", KHG, "T1", "no_discrepancy"),
        "C5": ("2025-02-10", KHG, "T2", "no_discrepancy"),
        "C6": ("2025-02-10", KHG, "T3", "no_discrepancy"),
        "K1": ("2025-02-10", NUR, "K1", "discrepancy"),
        "K2": ("2025-02-10", NUR, "K2", None),
        "K3": ("2025-02-10", NUR, "K3", None),
    }
    return {
        "lanes": [lane(d, day, "red", office=o) for d, (day, o, _, _) in decls.items()],
        "declarations": [
            declaration(d, day, t, "broker", office=o) for d, (day, o, t, _) in decls.items()
        ],
        "inspections": [
            inspection(d, day, found, office=o) for d, (day, o, _, found) in decls.items() if found
        ],
    }


def test_a_pooled_rows_foreign_part_is_held_to_the_minimum(tmp_path: Path) -> None:
    """By chapter, China's and Kazakhstan's offices pool into one row, and China knows its own
    part. January, red: three Chinese declarations inspected clean and one Kazakh one with a
    discrepancy; the row (4 declarations, 4 traders) would tell that one Kazakh trader's
    outcome: suppressed at 3. February, red: three Chinese inspected clean and three Kazakh,
    only K1 inspected: the row stays, its hits withheld (they would be K1's)."""
    lake = write_lake(tmp_path / "lake", pooled_lanes())
    cols = ("month", "lane", "declarations", "traders", "inspected", "hits", "hit_rate")
    every = run_job(lake, "lane_shares", {"by": "chapter"}, rules=KZ_ALLOWED)
    assert rows(every, *cols) == [
        ("2025-01", "red", 4, 4, 4, 1, 0.25),
        ("2025-02", "red", 6, 6, 4, 1, 0.25),
    ]
    held = run_job(lake, "lane_shares", {"by": "chapter"}, rules=KZ_ALLOWED, min_cell_size=3)
    assert rows(held, *cols) == [("2025-02", "red", 6, 6, 4, None, None)]
    assert held.run.suppressed_cells == 1
    # by office nothing is pooled: China's own rows stay whole, Kazakhstan's are its own
    by_office = run_job(lake, "lane_shares", {"by": "office"}, rules=KZ_ALLOWED, min_cell_size=3)
    assert rows(by_office, "office", "month", "declarations", "hits") == [
        (KHG, "2025-01", 3, 0),
        (KHG, "2025-02", 3, 0),
        (NUR, "2025-02", 3, None),
    ]


@pytest.mark.parametrize("job", ["lane_shares", "model_drift"])
def test_traders_not_read_are_unknown_not_none(tmp_path: Path, job: str) -> None:
    """Six red declarations of one trader at Nurzhol, its lanes shared but not its
    declarations: the traders are unknown (null), and an unknown count is small, so the
    foreign cell is withheld — counted as none, it went out as six declarations and no
    trader. With the declarations shared, one trader is too few for 5 and enough for 1."""
    ids = [f"K{i}" for i in range(1, 7)]
    small = write_lake(
        tmp_path / "lake",
        {
            "lanes": [lane(d, "2025-01-05", "red", office=NUR) for d in ids],
            "declarations": [
                declaration(d, "2025-01-04", "T-ONE", "broker", office=NUR) for d in ids
            ],
        },
    )
    lanes_only = [statistics_rule("KZ", c) for c in (Category.RISK_LANE, Category.RISK_SCORE)]
    both = [*lanes_only, statistics_rule("KZ", Category.DECLARATION)]
    for rules, minimum in ((lanes_only, 5), (both, 5), (lanes_only, 1)):
        hidden = run_job(small, job, rules=rules, min_cell_size=minimum)
        assert rows(hidden) == [] and hidden.run.suppressed_cells == 1, (rules, minimum)
    assert rows(run_job(small, job, rules=both), "declarations", "traders") == [(6, 1)]


def test_bad_parameters_named(lake: Path) -> None:
    bad = {"by": "lane", "trader_category": "shipper", "office": "CN-NOWHERE", "hs": "84x",
           "since": "2025-13-01", "lane": "red"}  # fmt: skip
    with pytest.raises(ValidationFailed) as caught:
        run_job(lake, "lane_shares", bad)
    fields = {e.field: e.code for e in caught.value.errors}
    assert fields == {
        "/params/by": "not_a_choice",
        "/params/trader_category": "not_a_choice",
        "/params/office": "not_a_choice",
        "/params/hs": "unknown_hs",
        "/params/since": "bad_date",
        "/params/lane": "unknown_param",
    }
    with pytest.raises(ValidationFailed) as caught:
        run_job(lake, "lane_shares", {"since": "2025-02-01", "until": "2025-01-31"})
    assert [(e.field, e.code) for e in caught.value.errors] == [("/params/until", "inverted_range")]
