"""Every job gives the same answer on DuckDB and on Spark over the same lake: each job's own
hand lake (its tests check DuckDB's numbers by hand), default parameters, Kazakh data allowed,
minimum cell size 3 so suppression is exercised on both engines too."""

from __future__ import annotations

from pathlib import Path

import pytest

from silkgate.analytics import lake as lk
from silkgate.analytics.jobs.catalogue import JOBS
from silkgate.analytics.jobs.compare import differences
from silkgate.analytics.jobs.engines import SparkEngine
from tests.analytics.jobs.conftest import all_categories, run_job
from tests.analytics.jobs.small_lake import small_lake
from tests.analytics.jobs.test_clearance_times import lake as clearance_lake  # noqa: F401
from tests.analytics.jobs.test_equeue_use import lake as equeue_lake  # noqa: F401
from tests.analytics.jobs.test_lane_shares import lake as lanes_lake  # noqa: F401
from tests.analytics.jobs.test_mirror_statistics import lake as mirror_lake  # noqa: F401
from tests.analytics.jobs.test_model_drift import lake as drift_lake  # noqa: F401
from tests.analytics.jobs.test_trade_flows import lake as flows_lake  # noqa: F401
from tests.analytics.jobs.test_unit_values import lake as unit_lake  # noqa: F401

pytestmark = pytest.mark.xdist_group("spark")

OWN = {"trade_flows": "flows_lake", "mirror_statistics": "mirror_lake", "unit_values": "unit_lake",
       "lane_shares": "lanes_lake", "model_drift": "drift_lake", "clearance_times": "clearance_lake",
       "equeue_use": "equeue_lake"}  # fmt: skip


def test_every_job_is_compared() -> None:
    assert set(OWN) == set(JOBS)


@pytest.mark.parametrize("job", sorted(OWN))
def test_same_result_on_both_engines(job: str, request: pytest.FixtureRequest) -> None:
    lake: Path = request.getfixturevalue(OWN[job])
    rules = all_categories("KZ")
    duck = run_job(lake, job, engine="duckdb", rules=rules, min_cell_size=3)
    spark = run_job(lake, job, engine="spark", rules=rules, min_cell_size=3)
    assert duck.table.num_rows > 0, f"{job} found nothing in its lake"
    assert differences(duck.table, spark.table) == []
    assert duck.run.suppressed_cells == spark.run.suppressed_cells
    assert duck.run.exclusions == spark.run.exclusions == []


def test_two_spark_runs_in_one_process_keep_their_own_files(tmp_path: Path) -> None:
    """The API runs jobs on threads of one process: a run's views must not be replaced by
    another run's load (files its residency decision excluded) nor dropped by its close."""
    lake = small_lake(tmp_path)
    items = [
        lake / "goods_items" / f for f in sorted(lk.load_manifest(lake, "goods_items").files())
    ]
    count = "SELECT count(*) AS n FROM goods_items"
    wide = SparkEngine(master="local[2]", shuffle_partitions=4)
    wide.load({"goods_items": items})
    narrow = SparkEngine(master="local[2]", shuffle_partitions=4)
    narrow.load({})  # a run allowed nothing
    try:
        assert narrow.query(count)["n"].to_pylist() == [0]
        assert wide.query(count)["n"].to_pylist() == [5]
        narrow.close()
        assert wide.query(count)["n"].to_pylist() == [5]
    finally:
        wide.close()
