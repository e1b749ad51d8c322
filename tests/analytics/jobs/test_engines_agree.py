"""Every job gives the same answer on DuckDB and on Spark over the same lake: each job's own
hand lake (its tests check DuckDB's numbers by hand), default parameters, Kazakh data allowed,
minimum cell size 3 so suppression is exercised on both engines too."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pytest

from silkgate.analytics.jobs.catalogue import JOBS
from tests.analytics.jobs.conftest import all_categories, run_job
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


def differences(a: pa.Table, b: pa.Table) -> list[str]:
    """What differs between two results (floats equal to 1e-9 relative)."""
    if a.schema != b.schema:
        return [f"schema {a.schema} vs {b.schema}"]
    if a.num_rows != b.num_rows:
        return [f"{a.num_rows} vs {b.num_rows} rows"]
    out = []
    for name in a.column_names:
        for i, (x, y) in enumerate(zip(a[name].to_pylist(), b[name].to_pylist(), strict=True)):
            close = (
                math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9)
                if isinstance(x, float) and isinstance(y, float)
                else x == y
            )
            if not close:
                out.append(f"{name} row {i}: {x!r} vs {y!r}")
    return out[:10]


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
