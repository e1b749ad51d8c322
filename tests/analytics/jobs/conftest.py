"""Job tests run on both engines: DuckDB in process, Spark in local mode (one session, on one
xdist worker: tests using it are grouped)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from silkgate.analytics.jobs import service
from silkgate.analytics.jobs.engines import DuckDBEngine, Engine, SparkEngine
from silkgate.exchange.agreements.catalogue import Category
from silkgate.exchange.agreements.policy import Rule

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def statistics_rule(
    provider: str,
    category: Category,
    places: tuple[str, ...] = ("CN",),
    consumers: tuple[str, ...] = ("CN",),
    crossings: tuple[str, ...] = (),
    purposes: tuple[str, ...] = ("statistics",),
    condition: str | None = None,
    valid_until: datetime | None = None,
) -> Rule:
    """An active agreement as residency reads it."""
    return Rule(
        agreement_id=f"test-{provider}-{category}",
        version=1,
        provider=provider,
        consumers=frozenset(consumers),
        category=category,
        fields=frozenset(),
        purposes=frozenset(purposes),
        places=frozenset(places),
        crossings=frozenset(crossings),
        valid_from=datetime(2020, 1, 1, tzinfo=UTC),
        valid_until=valid_until,
        condition=condition,
        personal_data=False,
    )


def all_categories(provider: str, place: str = "CN") -> list[Rule]:
    return [statistics_rule(provider, c, places=(place,)) for c in Category]


def make_engine(name: str) -> Engine:
    return (
        SparkEngine(master="local[2]", shuffle_partitions=4) if name == "spark" else DuckDBEngine()
    )


@pytest.fixture(params=["duckdb", pytest.param("spark", marks=pytest.mark.xdist_group("spark"))])
def engine_name(request: pytest.FixtureRequest) -> Iterator[str]:
    yield request.param


def run_job(
    lake: Path,
    name: str,
    params: dict[str, Any] | None = None,
    engine: str = "duckdb",
    compute_country: str = "CN",
    rules: list[Rule] | None = None,
    min_cell_size: int = 1,
) -> service.Result:
    request = service.check(name, params or {}, engine, compute_country)
    return service.run_on_lake(
        lake,
        request,
        rules=rules or [],
        compute_country=compute_country,
        min_cell_size=min_cell_size,
        now=NOW,
        engine=make_engine(engine),
    )


def rows(result: service.Result, *columns: str) -> list[tuple[Any, ...]]:
    """The result's rows as tuples of the named columns (floats rounded to 6 places)."""
    table = result.table.select(list(columns)) if columns else result.table
    return [
        tuple(round(v, 6) if isinstance(v, float) else v for v in r.values())
        for r in table.to_pylist()
    ]
