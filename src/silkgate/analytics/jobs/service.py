"""Run a job: check the request, decide what may be read where it runs, query, suppress cells.

The order matters: parameters are checked before anything is opened; residency decides the
files before an engine sees any; the engine sees only those files; small cells of data not
the reader's own (``home_country``) are removed before anything is returned or written.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from silkgate.analytics.jobs import params as checking
from silkgate.analytics.jobs.catalogue import JOBS
from silkgate.analytics.jobs.engines import ENGINES, DuckDBEngine, Engine, SparkEngine
from silkgate.analytics.jobs.residency import Residency, decide
from silkgate.analytics.jobs.schemas import JobInfo, JobRun, ParamInfo
from silkgate.analytics.jobs.spec import Job
from silkgate.codelists.countries import is_country
from silkgate.core.errors import FieldError, ValidationFailed
from silkgate.core.platform import Platform
from silkgate.exchange.agreements.policy import Rule
from silkgate.registry.schemas import Role
from silkgate.registry.service import Caller

FOREIGN = "foreign_data"


@dataclass(frozen=True)
class Request:
    """A checked request: the job, typed parameter values, engine and compute country."""

    job: Job
    values: dict[str, Any]
    engine: str
    compute_country: str | None


@dataclass
class Result:
    """A run's table (cells already suppressed) and its description."""

    table: pa.Table
    run: JobRun


def info(job: Job) -> JobInfo:
    return JobInfo(
        name=job.name,
        title=job.title,
        description=job.description,
        datasets=list(job.datasets),
        keys=list(job.keys),
        cells=list(job.cells),
        params=[
            ParamInfo(
                name=p.name,
                kind=p.kind.value,
                description=p.description,
                default=p.default.isoformat() if hasattr(p.default, "isoformat") else p.default,
                required=p.required,
                choices=list(p.choices),
            )
            for p in job.params
        ],
        notes=list(job.notes),
    )


def catalogue() -> list[JobInfo]:
    """Every job, for analysts (``silkgate analytics jobs``, ``GET /analytics/jobs``)."""
    return [info(j) for j in JOBS.values()]


def job_named(name: str) -> Job:
    if name not in JOBS:
        raise ValidationFailed(
            [FieldError("/job", "unknown_job", f"unknown job {name!r}; known: {', '.join(JOBS)}")]
        )
    return JOBS[name]


def check(
    name: str,
    given: Mapping[str, Any] | None,
    engine: str = "duckdb",
    compute_country: str | None = None,
) -> Request:
    """Everything a run needs from its caller, checked together (all problems named at once)."""
    errors: list[FieldError] = []
    job = None
    values: dict[str, Any] = {}
    try:
        job = job_named(name)
        values = checking.check(job, given)
    except ValidationFailed as exc:
        errors.extend(exc.errors)
    if engine not in ENGINES:
        errors.append(
            FieldError("/engine", "unknown_engine", f"{engine!r}: choose {' or '.join(ENGINES)}")
        )
    country = compute_country.strip().upper() if compute_country else None
    if country is not None and not is_country(country):
        errors.append(
            FieldError(
                "/compute_country",
                "unknown_country",
                f"{compute_country!r} is not an ISO 3166 alpha-2 code",
            )
        )
    if errors or job is None:
        raise ValidationFailed(errors)
    return Request(job, values, engine, country)


def exported(platform: Platform, job: Job) -> bool:
    """Whether the lake holds any partition of the job's datasets (else nothing was exported
    yet, and a run would answer no rows for that reason alone)."""
    from silkgate.analytics.lake import load_manifest

    lake = platform.settings.lake_dir
    return any(load_manifest(lake, name).partitions for name in job.datasets)


def make_engine(platform: Platform | None, engine: str) -> Engine:
    if engine == "spark":
        s = platform.settings if platform else None
        return SparkEngine(
            master=(s.analytics_spark_master or None) if s else "local[*]",
            shuffle_partitions=s.analytics_spark_shuffle_partitions if s else 8,
            driver_memory=s.analytics_spark_driver_memory if s else "4g",
        )
    return DuckDBEngine()


def agreement_rules(platform: Platform) -> list[Rule]:
    """The active agreements residency decides by, read from the operational database."""
    from silkgate.exchange.agreements.service import active_rules

    with platform.db.session() as s:
        return active_rules(s)


def run(
    platform: Platform,
    request: Request,
    reader: Caller | None = None,
    engine: Engine | None = None,
) -> Result:
    """Run a checked request against the platform's lake, under its agreements."""
    settings = platform.settings
    return run_on_lake(
        settings.lake_dir,
        request,
        rules=agreement_rules(platform),
        compute_country=request.compute_country or settings.analytics_compute_country,
        min_cell_size=settings.analytics_min_cell_size,
        now=platform.clock(),
        reader=reader,
        engine=engine or make_engine(platform, request.engine),
    )


def run_on_lake(
    lake: Path,
    request: Request,
    rules: Sequence[Rule],
    compute_country: str,
    min_cell_size: int,
    now: datetime | None = None,
    reader: Caller | None = None,
    engine: Engine | None = None,
) -> Result:
    """Decide residency, query the allowed files, suppress small cells not the reader's own."""
    began = time.perf_counter()
    job = request.job
    when = now or datetime.now(UTC)
    place = decide(lake, job.datasets, compute_country, rules, when, reader, job.also_governed_by)
    engine = engine or make_engine(None, request.engine)
    extra = {
        "compute_country": checking.literal(compute_country),
        "home_country": checking.literal(home_country(compute_country, reader)),
        "min_cell_size": checking.literal(min_cell_size),
    }
    sql = checking.render(job, request.values, extra)
    keys = ", ".join(job.keys)
    try:
        engine.load(place.files)
        table = normalize(engine.query(f"SELECT * FROM ({sql}) q ORDER BY {keys}"))
    finally:
        engine.close()
    table, suppressed = suppress(job, table, min_cell_size)
    return Result(
        table, describe(job, request, place, table, suppressed, min_cell_size, lake, began)
    )


def home_country(compute_country: str, reader: Caller | None) -> str:
    """The country whose data a run may show in cells of any size: to the platform itself (no
    reader) the compute country's; to a customs authority its own country's; to any other
    reader (analysts and administrators) none — every row leaves its owner."""
    if reader is None:
        return compute_country
    return reader.country if reader.has(Role.CUSTOMS) else ""


def suppress(job: Job, table: pa.Table, minimum: int) -> tuple[pa.Table, int]:
    """Drop rows of data not the reader's own that describe fewer than ``minimum`` units, in
    all or in their foreign part (``Job.foreign_cells``, dropped from the result).

    A cell of 0 describes no one and does not make a row small: a row of mirror statistics
    that one side never recorded is decided by the other side's counts. Unknown (null) is small.
    """
    cells = (*job.cells, *job.foreign_cells)
    missing = [c for c in (*cells, FOREIGN) if c not in table.column_names]
    if missing:
        raise RuntimeError(f"job {job.name} does not return {', '.join(missing)}")

    def small_cell(column: str) -> pa.ChunkedArray:
        few = pc.and_(pc.less(table[column], minimum), pc.not_equal(table[column], 0))
        return pc.fill_null(few, True)

    small = small_cell(cells[0])
    for column in cells[1:]:
        small = pc.or_(small, small_cell(column))
    drop = pc.and_(pc.equal(pc.fill_null(table[FOREIGN], 1), 1), small)
    suppressed = int(pc.sum(pc.cast(drop, pa.int64())).as_py() or 0)
    kept = table.filter(pc.invert(drop))
    return kept.drop_columns([FOREIGN, *job.foreign_cells]), suppressed


def normalize(table: pa.Table) -> pa.Table:
    """One type per kind of value whichever engine answered: whole decimals as int64, other
    decimals as float64, timestamps in UTC (DuckDB sums integers to 128-bit decimals)."""
    fields = []
    for f in table.schema:
        t = f.type
        if pa.types.is_decimal(t):
            t = pa.int64() if t.scale == 0 else pa.float64()
        elif pa.types.is_integer(t):
            t = pa.int64()
        elif pa.types.is_floating(t):
            t = pa.float64()
        elif pa.types.is_timestamp(t):
            t = pa.timestamp("us", tz="UTC")
        elif pa.types.is_large_string(t):
            t = pa.string()
        fields.append(pa.field(f.name, t))
    return table.cast(pa.schema(fields))


def describe(
    job: Job,
    request: Request,
    place: Residency,
    table: pa.Table,
    suppressed: int,
    min_cell_size: int,
    lake: Path,
    began: float,
) -> JobRun:
    return JobRun(
        job=job.name,
        title=job.title,
        engine=request.engine,
        compute_country=place.compute_country,
        params={
            k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in request.values.items()
        },
        columns=table.column_names,
        rows=[],
        row_count=table.num_rows,
        exclusions=place.exclusions,
        foreign_owners=sorted(place.foreign_owners),
        min_cell_size=min_cell_size,
        suppressed_cells=suppressed,
        seconds=round(time.perf_counter() - began, 3),
        lake=str(lake),
    )
