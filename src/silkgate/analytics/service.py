"""Analytics operations: check an export's parameters, read changed rows in a stream, export.

Rows are read through ``stream_changes`` (the export) and ``stream_cursors`` (the lake's
verification) only, as Arrow record batches from an ADBC driver (PostgreSQL: binary COPY;
SQLite: the C API), inside the run's one ``Snapshot``, so a table of 10 million rows never sits
in memory and no value becomes a Python object.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import (
    Float,
    String,
    Text,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    tuple_,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session

from silkgate.analytics import lake as lk
from silkgate.analytics.datasets import (
    BOOL,
    DATASETS,
    DATE,
    DECLARANT_ROLE_ORDER,
    F64,
    INT,
    STR,
    TS,
    Dataset,
    Where,
)
from silkgate.analytics.schemas import CompactionReport, ExportReport, VerifyReport, Watermark
from silkgate.analytics.sqlite_reader import SqliteReader, pin
from silkgate.core.errors import FieldError, ValidationFailed
from silkgate.core.platform import Platform
from silkgate.registry.models import Organization

OnProgress = Callable[[str, int, int], None]  # dataset, rows done in this call, rows expected


def check_datasets(names: Sequence[str] | None) -> list[str]:
    """The datasets to export, in the lake's order; all when none are named."""
    if not names:
        return list(DATASETS)
    errors = [
        FieldError(
            f"/datasets/{i}",
            "unknown_dataset",
            f"unknown dataset {n!r}; known: {', '.join(DATASETS)}",
        )
        for i, n in enumerate(names)
        if n not in DATASETS
    ]
    if errors:
        raise ValidationFailed(errors)
    return [n for n in DATASETS if n in names]


def check_until(value: str | dt.date | None) -> dt.date | None:
    """``--until``: a calendar day (YYYY-MM-DD) of the years 2000-2999 (the platform's dates);
    changes after its end wait for a later run."""
    if value is None:
        return value
    if isinstance(value, dt.date):
        day = value
    else:
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise ValidationFailed(
                [FieldError("/until", "bad_date", f"{value!r} is not a date (YYYY-MM-DD)")]
            ) from None
    if not 2000 <= day.year <= 2999:
        raise ValidationFailed(
            [FieldError("/until", "out_of_range", f"{day} is not in the years 2000-2999")]
        )
    return day


#: The longest settle time an export takes (a day, as the setting's own bound).
SETTLE_MAX = 86_400


def check_settle(settle: float | None) -> None:
    if settle is not None and not settle >= 0:
        raise ValidationFailed(
            [FieldError("/settle", "negative", f"settle seconds must be 0 or more, not {settle}")]
        )
    if settle is not None and not settle <= SETTLE_MAX:
        msg = f"settle seconds must be at most {SETTLE_MAX} (a day), not {settle}"
        raise ValidationFailed([FieldError("/settle", "out_of_range", msg)])


def horizon_for(platform: Platform, settle: float | None, until: dt.date | None) -> datetime | None:
    """The newest change marker this run exports; None: every committed change."""
    check_settle(settle)
    settle = platform.settings.analytics_settle_seconds if settle is None else settle
    bounds = []
    if settle > 0:
        bounds.append(datetime.now(UTC) - timedelta(seconds=settle))
    if until is not None:
        # the end of the day at the crossings (their UTC offset), as a UTC instant
        offset = timedelta(hours=platform.settings.queue_utc_offset_hours)
        start = datetime.combine(until + timedelta(days=1), dt.time(), tzinfo=UTC)
        bounds.append(start - offset - timedelta(microseconds=1))
    return min(bounds) if bounds else None


def _window(ds: Dataset, after: Watermark | None, horizon: datetime | None, kind: str) -> Where:
    """The rows after the watermark, up to the horizon, as a WHERE of ``kind``'s dialect."""
    cols = ds.cursor_sql()
    where: Where = []
    if after is not None:
        values = [datetime.fromisoformat(after.marker), *after.key]
        bound = [literal(v, c.type) for v, c in zip(values, cols, strict=True)]
        # the marker's own bound, implied by the tuple's, lets both databases range-scan the
        # marker's index (a tuple spanning two tables is none's index)
        where.append(cols[0] >= bound[0])
        where.append(tuple_(*cols) > tuple_(*bound))
    if horizon is not None:
        upto = cols[0] <= literal(horizon, cols[0].type)
        # nearly every row is before the horizon: SQLite, which keeps no histogram, would
        # otherwise walk the whole marker index of a first run instead of the table
        where.append(func.likely(upto) if kind == "sqlite" else upto)
    return where


class Snapshot:
    """Every read of one export run, on one Arrow-native (ADBC) connection inside one
    read-only transaction: all datasets see the same committed state (PostgreSQL REPEATABLE
    READ; SQLite one WAL read transaction), and rows arrive as Arrow batches, never as a
    Python object per value.

    SQLite is read in child processes (``sqlite_reader``); ``readers`` of them begin their
    read transactions together (``sqlite_reader.pin``), for siblings."""

    def __init__(
        self,
        platform: Platform,
        shared: str | None = None,
        readers: int = 1,
        pinned: SqliteReader | None = None,
    ) -> None:
        engine = platform.db.engine
        self.platform = platform
        self.kind = engine.dialect.name
        url = engine.url
        self.reader: _PgReader | SqliteReader
        self.spares: list[SqliteReader] = []  # SQLite readers pinned with this one
        if self.kind == "sqlite":
            self.dialect: Any = engine.dialect
            if pinned is not None:
                self.reader = pinned
            else:
                path = url.database or ""
                lock_wait = platform.settings.db_lock_timeout
                self.reader, *self.spares = pin(path, max(1, readers), lock_wait)
        elif self.kind == "postgresql":
            from sqlalchemy.dialects.postgresql import psycopg

            # a dialect that renders literals for a driver that does not treat % specially
            self.dialect = psycopg.dialect(paramstyle="named")
            uri = url.set(drivername="postgresql").render_as_string(False)
            self.reader = _PgReader(uri, shared)
        else:
            raise ValueError(f"the lake export reads SQLite or PostgreSQL, not {self.kind}")

    def sibling(self) -> Snapshot | None:
        """Another connection seeing exactly this snapshot, to read a second dataset at the
        same time: PostgreSQL's exported snapshot, or a SQLite reader pinned with this one;
        None where no more can be had."""
        if isinstance(self.reader, _PgReader):
            return Snapshot(self.platform, self.reader.exported())
        if self.spares:
            return Snapshot(self.platform, pinned=self.spares.pop())
        return None

    def sql(self, stmt: Any) -> str:
        """The statement as SQL text; its values (watermark, horizon) rendered as literals."""
        return str(stmt.compile(dialect=self.dialect, compile_kwargs={"literal_binds": True}))

    def rows(self, stmt: Any) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        for b in self.reader.batches(self.sql(stmt), 10_000):
            out += zip(*(c.to_pylist() for c in b.columns), strict=True)
        return out

    def batches(self, stmt: Any, batch: int) -> Iterator[pa.RecordBatch]:
        return self.reader.batches(self.sql(stmt), batch)

    def close(self) -> None:
        for reader in [self.reader, *self.spares]:
            reader.close()


class _PgReader:
    """ADBC's PostgreSQL driver (binary COPY into Arrow) in a REPEATABLE READ transaction."""

    def __init__(self, uri: str, shared: str | None = None) -> None:
        import adbc_driver_postgresql.dbapi as adbc_pg

        self.conn = adbc_pg.connect(uri, autocommit=True)
        try:
            self._run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            if shared is not None:  # before any query of the transaction
                self._run(f"SET TRANSACTION SNAPSHOT '{shared}'")
        except BaseException:  # a snapshot no longer shared: the connection is not kept open
            self.conn.close()
            raise
        self.snapshot_id: str | None = None

    def exported(self) -> str:
        """This transaction's snapshot, exported for other connections (valid while it lasts)."""
        if self.snapshot_id is None:
            cur = self.conn.cursor()
            try:
                cur.execute("SELECT pg_export_snapshot()")
                row = cur.fetchone()
            finally:
                cur.close()
            assert row is not None
            self.snapshot_id = str(row[0])
        return self.snapshot_id

    def _run(self, sql: str) -> None:
        cur = self.conn.cursor()
        try:
            cur.execute(sql)
        finally:
            cur.close()

    def batches(self, sql: str, batch: int) -> Iterator[pa.RecordBatch]:
        cur = self.conn.cursor()
        try:
            cur.execute(sql)
            yield from cur.fetch_record_batch()
        finally:
            cur.close()

    def close(self) -> None:
        try:
            self._run("ROLLBACK")
        finally:
            self.conn.close()


#: A SQLite export reads with more than one process only from this size of database (with its
#: write-ahead log) and this many rows to read: below, a second reader saves little or no time
#: (docs/benchmarks.md) and costs 0.4 CPU-seconds to start, which a busy machine feels.
SQLITE_PARALLEL_FROM_BYTES = 64 * 1024 * 1024
SQLITE_PARALLEL_FROM_ROWS = 100_000


def readers_for(platform: Platform, names: Sequence[str]) -> int:
    """How many datasets an export reads at once: ``analytics_export_readers``, but one on
    SQLite where there is little to read (a small database, or a rerun after few changes,
    counted through the change-marker indexes before the run's snapshot: an estimate)."""
    want = min(platform.settings.analytics_export_readers, len(names))
    engine = platform.db.engine
    if want < 2 or engine.dialect.name != "sqlite":
        return want
    path = engine.url.database or ""
    stored = sum(os.path.getsize(f) for f in (path, path + "-wal") if os.path.exists(f))
    if stored < SQLITE_PARALLEL_FROM_BYTES:
        return 1
    todo = 0
    with engine.connect() as conn:
        for name in names:
            ds = DATASETS[name]
            after = lk.load_manifest(platform.settings.lake_dir, name).watermark
            rows = (  # counted up to what is still missing: a first run's tables are large
                ds.query(_window(ds, after, None, "sqlite"), None)
                .with_only_columns(literal(1), maintain_column_froms=True)
                .limit(SQLITE_PARALLEL_FROM_ROWS - todo)
                .subquery()
            )
            todo += conn.execute(select(func.count()).select_from(rows)).scalar_one()
            if todo >= SQLITE_PARALLEL_FROM_ROWS:
                return want
    return 1


@contextmanager
def snapshot(platform: Platform, readers: int = 1) -> Iterator[Snapshot]:
    snap = Snapshot(platform, readers=readers)
    try:
        yield snap
    finally:
        snap.close()


def declarant_roles(snap: Snapshot) -> dict[int, str | None]:
    """Organization id → the declarant role it lodges in (first of ``DECLARANT_ROLE_ORDER`` it
    holds; None: it holds none)."""
    o = Organization
    out: dict[int, str | None] = {}
    for org_id, roles in snap.rows(select(o.id, type_coerce(o.roles, String))):
        held = set(json.loads(roles)) if roles else set()
        out[int(org_id)] = next((r for r in DECLARANT_ROLE_ORDER if r in held), None)
    return out


def count_changes(
    snap: Snapshot, ds: Dataset, after: Watermark | None, horizon: datetime | None, todo: bool
) -> tuple[int, int]:
    """Rows this run will read (when ``todo``: a scan, for the progress bar only), and rows
    changed after the horizon (left for a later run)."""

    def count(where: Where) -> int:
        stmt = ds.query(where, None).with_only_columns(func.count(), maintain_column_froms=True)
        return int(snap.rows(stmt)[0][0])

    n = count(_window(ds, after, horizon, snap.kind)) if todo else 0
    if todo and after is not None and snap.kind == "sqlite":
        n += count([_stored_as_number(ds)])  # read too (``changes_statement``)
    held = 0
    if horizon is not None:
        marker = ds.cursor_sql()[0]
        held = count([*_window(ds, after, None, snap.kind), marker > literal(horizon, marker.type)])
    return n, held


def _stored_as_number(ds: Dataset) -> Any:
    """SQLite: the dataset's change marker is stored as a number (sorted before any text)."""
    return ds.cursor_sql()[0] < literal_column("''")


def changes_statement(
    snap: Snapshot, ds: Dataset, after: Watermark | None, horizon: datetime | None
) -> Any:
    """The statement ``stream_changes`` reads ``ds``'s changes with (on SQLite, typed)."""
    stmt: Any = ds.query(_window(ds, after, horizon, snap.kind), snap.kind)
    if snap.kind != "sqlite":
        return stmt
    if after is not None:
        # SQLite sorts a marker stored as a number (not a timestamp the platform wrote) before
        # every text, so after any watermark: such rows are read on every run, to be rejected
        # by name, not passed over (a second read, through the marker's index, not an OR that
        # would hide the index from the first)
        numbers = ds.query([_stored_as_number(ds)], snap.kind)
        stmt = union_all(stmt, numbers)
    return _sqlite_typed(ds, stmt)


def stream_changes(
    snap: Snapshot,
    ds: Dataset,
    after: Watermark | None,
    horizon: datetime | None,
    batch: int = 50_000,
) -> Iterator[pa.RecordBatch]:
    """Rows changed after ``after`` up to ``horizon`` as Arrow batches of the dataset's
    ``columns`` (unordered). On SQLite, which stores any value in any column, each value
    of the wrong storage class is read as null and named in ``_bad`` (the row is rejected),
    and a first typed row (dropped here) fixes the types the driver infers."""
    yield from _read(snap, changes_statement(snap, ds, after, horizon), batch)


def stream_cursors(
    snap: Snapshot, ds: Dataset, after: Watermark | None, batch: int = 50_000
) -> Iterator[pa.RecordBatch]:
    """Every row the dataset's query yields, as its change marker and key only (the columns
    ``analytics verify`` compares with the lake), with ``_pending`` 1 where the next export
    reads the row (``changes_statement``'s rows after ``after``, without a horizon; every row
    when None) and, on SQLite, ``_bad`` naming a value of any column of the wrong storage
    class (checked in the query, as the export does; only the name travels)."""
    names = (ds.cursor[0], *ds.key)
    read: Any = and_(True, *_window(ds, after, None, snap.kind))
    if snap.kind == "sqlite" and after is not None:
        read = or_(read, _stored_as_number(ds))  # read by every rerun (``changes_statement``)
    stmt: Any = ds.query([], snap.kind).add_columns(case((read, 1), else_=0).label("_pending"))
    if snap.kind == "sqlite":
        stmt = _sqlite_typed(ds, stmt, keep=names, extra=("_pending",))
    else:
        q = stmt.subquery("q")
        stmt = select(*(q.c[n] for n in names), q.c["_pending"])
    yield from _read(snap, stmt, batch)


def _read(snap: Snapshot, stmt: Any, batch: int) -> Iterator[pa.RecordBatch]:
    """``stmt``'s rows as Arrow batches; on SQLite less ``_sqlite_typed``'s first typed row."""
    if snap.kind != "sqlite":
        yield from snap.batches(stmt, batch)
        return
    for b in snap.batches(stmt, batch):
        keep = pc.equal(b.column("_first"), 0)
        yield (
            b.filter(keep).drop_columns(["_first"])
            if not pc.all(keep).as_py()
            else b.drop_columns(["_first"])
        )


#: SQLite storage classes a column of each lake type may hold (null always).
_CLASSES = {TS: ("text",), DATE: ("text",), INT: ("integer",), BOOL: ("integer",),
            F64: ("integer", "real")}  # fmt: skip
_FIRST = {TS: "", DATE: "", STR: "", INT: 0, BOOL: 0, F64: 0.5}


def _sqlite_typed(
    ds: Dataset, stmt: Any, keep: Sequence[str] | None = None, extra: Sequence[str] = ()
) -> Any:
    """``stmt`` with each value checked against its column's storage class: the first wrong
    one per row is named in ``_bad`` (column, class, value) and read as null; preceded by one
    typed row (``_first`` = 1) so the ADBC driver, which infers types from the first rows,
    never meets a column it took for another type (a leading run of nulls reads as int64).
    ``keep``: the dataset's columns read (default all; every one is checked); ``extra``:
    integer columns of ``stmt`` passed through."""
    q = stmt.subquery("q")
    cols: list[Any] = []
    first: list[Any] = []
    bad = []
    for name, typ in ds.columns:
        src = INT if name == ds.declarant_role else typ
        c = q.c[name]
        value: Any = cast(c, Text)
        if src != STR:
            ok = func.typeof(c).in_([*_CLASSES[src], "null"])
            value = case((ok, cast(c, Float) if src == F64 else c))
            bad.append((~ok, literal(name + " ") + func.typeof(c) + " " + func.quote(c)))
        if keep is None or name in keep:
            cols.append(value.label(name))
            first.append(literal(_FIRST[src]).label(name))
    cols += [q.c[n] for n in extra]
    first += [literal(0).label(n) for n in extra]
    body = select(*cols, (case(*bad) if bad else null()).label("_bad"), literal(0).label("_first"))
    head = select(*first, literal("").label("_bad"), literal(1).label("_first"))
    return union_all(head, body.select_from(q))


def export(
    platform: Platform,
    datasets: Sequence[str] | None = None,
    until: str | dt.date | None = None,
    settle: float | None = None,
    on_progress: OnProgress | None = None,
) -> ExportReport:
    """Export what changed since each dataset's watermark to the lake (``analytics.export``)."""
    from silkgate.analytics import export as exporting

    names = check_datasets(datasets)
    horizon = horizon_for(platform, settle, check_until(until))
    return exporting.run(platform, names, horizon, on_progress)


def verify(
    platform: Platform, datasets: Sequence[str] | None = None, on_progress: OnProgress | None = None
) -> VerifyReport:
    """Reconcile the lake with the database: each row in the lake, pending, rejected or missing
    (``analytics.verify``)."""
    from silkgate.analytics import verify as verifying

    return verifying.run(platform, check_datasets(datasets), on_progress)


def check_min_files(min_files: int) -> None:
    if not 1 <= min_files <= 100_000:
        raise ValidationFailed(
            [FieldError("/min_files", "out_of_range", f"{min_files} is not between 1 and 100,000")]
        )


def compact(
    lake: Path, datasets: Sequence[str] | None = None, min_files: int = 2
) -> CompactionReport:
    """Rewrite each partition of ``min_files`` files or more as one file, and fold legacy daily
    partitions into their month (``analytics.compaction``)."""
    from silkgate.analytics import compaction

    names = check_datasets(datasets)
    check_min_files(min_files)
    return compaction.compact(lake, names, min_files)


def count_rows(s: Session, table: Any) -> int:
    """Rows of a table (for tests and the benchmark's cross-checks)."""
    return int(s.execute(select(func.count()).select_from(table)).scalar_one())
