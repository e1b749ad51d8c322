"""The benchmark's pandas jobs (bench/analytics_pandas*.py) answer exactly what DuckDB answers:
every standard job over the job tests' main hand lakes (their rows, nulls and edge cases), at
minimum cell sizes 1 and 3, with non-default parameters, and over the disclosure tests' lakes
at 1, 2 and 3. (Over a generated year the benchmark itself compares
every engine's answers with DuckDB's: bench/analytics.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import analytics_pandas
import pytest
from analytics import standard_jobs

from silkgate.analytics.jobs import service
from silkgate.analytics.jobs.compare import differences
from silkgate.analytics.jobs.engines import DuckDBEngine
from silkgate.analytics.jobs.residency import decide
from silkgate.exchange.agreements.catalogue import Category
from tests.analytics.jobs.conftest import NOW, all_categories
from tests.analytics.jobs.lakes import write_lake
from tests.analytics.jobs.risk_rows import one_trader_inspected
from tests.analytics.jobs.small_lake import small_lake
from tests.analytics.jobs.test_clearance_times import (
    lodged_in_kazakhstan,
    one_declaration_measured,
    one_red_declaration_three_trucks,
    one_traders_declarations_measured,
    one_traders_red_declarations,
    one_truck_measured,
)
from tests.analytics.jobs.test_equeue_use import walk_ins_alone
from tests.analytics.jobs.test_lane_shares import pooled_lanes
from tests.analytics.jobs.test_model_drift import pooled_rules_only, thinly_scored
from tests.analytics.jobs.test_unit_values import pooled_goods

RULES = all_categories("KZ")
LAKES = ["flows_lake", "unit_lake", "mirror_lake", "equeue_lake", "lanes_lake", "drift_lake",
         "clearance_lake", "small"]  # fmt: skip
OWN = {"trade_flows": "flows_lake", "mirror_statistics": "mirror_lake", "unit_values": "unit_lake",
       "lane_shares": "lanes_lake", "model_drift": "drift_lake", "clearance_times": "clearance_lake",
       "equeue_use": "equeue_lake"}  # fmt: skip
#: Parameters besides the defaults, per job (each run on every lake too).
MORE: dict[str, list[dict[str, Any]]] = {
    "trade_flows": [
        {"level": "hs6"},
        {"level": "heading", "since": "2025-02-01"},
        {"hs": "8471", "reporter": "CN", "partner": "KZ"},
    ],
    "mirror_statistics": [
        {"level": "hs6", "min_declarations": 1},
        {"exporter": "KZ", "importer": "CN", "hs": "84", "ratio_threshold": 0.5},
    ],
    "unit_values": [
        {"min_items": 3, "iqr_factor": 0.5, "min_log_width": 0.0},
        {"until": "2025-01-31", "hs": "8471", "origin": "CN", "flow": "export", "reporter": "CN"},
    ],
    "lane_shares": [{"by": "office"}, {"by": "chapter", "since": "2025-01-08"}],
    "model_drift": [{"since": "2025-02-01"}, {"model_id": "rules only"}],
    "clearance_times": [
        {"period": "week"},
        {"target_hours": 3.0, "until": "2025-01-20", "crossing": "KHG-NZH"},
    ],
    "equeue_use": [{"period": "month", "crossing": "KHG-NZH"}, {"since": "2025-03-11"}],
}


def compare(
    lake: Path,
    frames: dict[str, Any],
    job: str,
    params: dict[str, Any],
    minimum: int,
    rules: list[Any] = RULES,
) -> int:
    """Assert the pandas result over ``frames`` equals DuckDB's over ``lake``; its row count."""
    request = service.check(job, params, "duckdb", "CN")
    expected = service.run_on_lake(lake, request, rules, "CN", minimum, NOW, None, DuckDBEngine())
    got = analytics_pandas.run(job, frames, request.values, "CN", minimum)
    got, _ = service.suppress(request.job, service.normalize(got), minimum)
    assert got.schema == expected.table.schema
    assert differences(expected.table, got, types=False) == [], (job, params, minimum)
    return got.num_rows


def load(lake: Path, rules: list[Any] = RULES) -> dict[str, Any]:
    place = decide(lake, list(analytics_pandas.DATASETS), "CN", rules, NOW)
    return analytics_pandas.load(place.files)


def test_every_standard_job_has_a_pandas_version() -> None:
    assert sorted(standard_jobs()) == sorted(analytics_pandas.JOBS)


@pytest.mark.parametrize("lake_name", LAKES)
def test_same_as_duckdb_on_hand_lakes(
    lake_name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Every job on every lake at minimum cell size 3; on its own lake at 1 too, and with its
    other parameters."""
    if lake_name == "small":
        lake = small_lake(tmp_path / "small")
    else:
        lake = request.getfixturevalue(lake_name)
    frames = load(lake)
    for job in MORE:
        own = lake_name == OWN[job]
        for params in [{}, *(MORE[job] if own else [])]:
            minima = (1, 3) if own else (3,)
            counts = [compare(lake, frames, job, params, minimum) for minimum in minima]
            if own and not params:  # the comparison is not one of empty tables
                assert counts[0] > 0


#: The disclosure tests' lakes: rows pooling both countries, figures over few units. Each with
#: the jobs and parameters it was written for.
DISCLOSURE_LAKES = {
    "pooled_goods": (pooled_goods, [("unit_values", {})]),
    "pooled_lanes": (pooled_lanes, [("lane_shares", {"by": "chapter"}), ("model_drift", {})]),
    "pooled_rules_only": (pooled_rules_only, [("model_drift", {}), ("lane_shares", {})]),
    "thinly_scored": (thinly_scored, [("model_drift", {})]),
    "one_truck_measured": (one_truck_measured, [("clearance_times", {})]),
    "one_red_declaration": (one_red_declaration_three_trucks, [("clearance_times", {})]),
    "one_declaration_measured": (one_declaration_measured, [("clearance_times", {})]),
    "one_traders_red": (one_traders_red_declarations, [("clearance_times", {})]),
    "one_traders_measured": (one_traders_declarations_measured, [("clearance_times", {})]),
    "walk_ins_alone": (walk_ins_alone, [("equeue_use", {})]),
}


@pytest.mark.parametrize("name", sorted(DISCLOSURE_LAKES))
def test_same_as_duckdb_where_small_parts_are_withheld(name: str, tmp_path: Path) -> None:
    """The pandas versions withhold and suppress as the SQL does, at minimum 1, 2 and 3."""
    build, runs = DISCLOSURE_LAKES[name]
    lake = write_lake(tmp_path / name, build())
    frames = load(lake)
    for job, params in runs:
        counts = [compare(lake, frames, job, params, minimum) for minimum in (1, 2, 3)]
        assert counts[0] > 0


@pytest.mark.parametrize("third", [False, True])
def test_hit_rates_withheld_as_duckdb_withholds_them(third: bool, tmp_path: Path) -> None:
    """A foreign row whose inspections are one trader's (or, ``third``, two traders'): hits
    and rates withheld or shown at minimum 2 as the SQL decides, and shown at 1."""
    lake = write_lake(tmp_path / "lake", one_trader_inspected(third))
    frames = load(lake)
    for job in ("lane_shares", "model_drift"):
        assert [compare(lake, frames, job, {}, minimum) for minimum in (1, 2)] == [1, 1]


def test_lane_share_filters_not_implemented_rather_than_answered(tmp_path: Path) -> None:
    frames = load(small_lake(tmp_path / "small"))
    values = service.check("lane_shares", {"office": "CN-KHORGOS"}).values
    with pytest.raises(NotImplementedError, match="office"):
        analytics_pandas.run("lane_shares", frames, values, "CN", 1)


@pytest.mark.parametrize("name", ["bookings", "goods_items"])
def test_latest_frames_honour_supersession_markers(name: str, tmp_path: Path) -> None:
    """The pandas ``<dataset>`` frames drop what DuckDB's latest views drop (``moves.py``)."""
    from silkgate.analytics.datasets import DATASETS
    from tests.analytics.test_moves import PLACES, _history, _readable

    ds = DATASETS[name]
    files, latest = _history(tmp_path, ds, [[(0, 0), (1, 0), (2, 0)], [(0, 1), (1, 2)], [(0, 0)]])
    for readable in ({0}, {1}, {0, 1, 2}):
        listed = _readable(tmp_path, ds, files, readable)
        frame = analytics_pandas.load({name: listed})[name]
        key = "declaration_id" if ds.latest == "max_version" else "booking_id"
        wanted = {r for r, (_, p) in latest.items() if p in readable}
        assert set(frame[key]) == wanted, (readable, PLACES)


def test_traders_unknown_as_duckdb_leaves_them(tmp_path: Path) -> None:
    """Kazakhstan's declarations not read: their traders unknown in clearance_times, the
    foreign rows suppressed and China's own shown, as the SQL does."""
    lake = write_lake(tmp_path / "lake", lodged_in_kazakhstan())
    unread = [r for r in RULES if r.category != Category.DECLARATION]
    frames = load(lake, unread)
    counts = [compare(lake, frames, "clearance_times", {}, m, unread) for m in (1, 2)]
    assert counts == [3, 3]  # China's side: three intervals of its own
