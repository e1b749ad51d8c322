"""The benchmark's PostgreSQL engine (bench/analytics_pg.py) runs the jobs' very SQL and answers
what DuckDB answers: every standard job over each job's own hand lake, on the PostgreSQL the
suite runs against. (Over a generated year the benchmark compares them itself.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from analytics import standard_jobs
from analytics_pg import PostgresEngine

from silkgate.analytics.datasets import DATASETS
from silkgate.analytics.jobs import service
from silkgate.analytics.jobs.compare import differences
from silkgate.analytics.jobs.engines import DuckDBEngine
from silkgate.analytics.jobs.residency import decide
from tests.analytics.jobs.conftest import NOW
from tests.bench.test_analytics_pandas import OWN, RULES
from tests.conftest import _postgres_database


@pytest.fixture
def postgres(worker_id: str) -> Iterator[str]:
    """A fresh database for one lake (the engine loads a lake once), as a psycopg URL."""
    url = _postgres_database(f"{worker_id}_bench_pg")
    yield url.replace("postgresql+psycopg://", "postgresql://", 1)


def test_every_standard_job_has_its_own_lake() -> None:
    assert sorted(OWN) == sorted(standard_jobs())


@pytest.mark.parametrize("job", sorted(OWN))
def test_same_as_duckdb_on_its_own_lake(
    job: str, request: pytest.FixtureRequest, postgres: str
) -> None:
    lake = request.getfixturevalue(OWN[job])
    engine = PostgresEngine(postgres, timeout_s=60)
    try:
        engine.load(decide(lake, list(DATASETS), "CN", RULES, NOW).files)
        assert engine.rows_loaded > 0
        for minimum in (1, 3):
            request_ = service.check(job, {}, "duckdb", "CN")
            expected = service.run_on_lake(
                lake, request_, RULES, "CN", minimum, NOW, None, DuckDBEngine()
            )
            got = service.run_on_lake(lake, request_, RULES, "CN", minimum, NOW, None, engine)
            assert differences(expected.table, got.table, types=False) == [], (job, minimum)
            if minimum == 1:  # not a comparison of empty tables
                assert got.table.num_rows > 0
    finally:
        engine.dispose()
