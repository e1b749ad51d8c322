"""Reconcile the lake with the operational database: every row is in the lake, left for the next
export, or named as rejected; any other row is reported missing.

The export reads by change cursor, so a row whose marker is at or below the watermark (a
simulated clock, a clock step, a hand edit) or is not a timestamp at all is never read, and
nothing says so. This check reads every row's change marker and key inside one snapshot and
joins them with the lake's rows in DuckDB (no row becomes a Python object; memory is bounded
and spills to a temporary directory).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from silkgate.analytics import lake as lk
from silkgate.analytics import service
from silkgate.analytics.datasets import DATASETS, STR, Dataset
from silkgate.analytics.export import lake_typed
from silkgate.analytics.schemas import DatasetVerification, MissingRow, VerifyReport
from silkgate.core.platform import Platform

#: Missing rows named per dataset (all are counted).
NAMED = 20
BATCH = 50_000
#: DuckDB's memory for one dataset's join; beyond it, it spills to disk.
MEMORY = "512MB"


def run(
    platform: Platform, names: list[str], on_progress: service.OnProgress | None = None
) -> VerifyReport:
    """Verify ``names`` against the database, one dataset after another, in one snapshot."""
    lake = platform.settings.lake_dir
    started = time.perf_counter()
    # under the lake's lock: no export moves a watermark and no compaction sweeps a listed file
    # while the lake is read; a row the platform commits meanwhile is after the snapshot
    with lk.locked(lake):
        manifests = {n: lk.load_manifest(lake, n) for n in names}
        with service.snapshot(platform) as snap, tempfile.TemporaryDirectory() as spill:
            done = [
                _dataset(snap, lake, DATASETS[n], manifests[n], Path(spill), on_progress)
                for n in names
            ]
    missing = sum(d.missing for d in done)
    return VerifyReport(
        lake=str(lake),
        ok=missing == 0,
        datasets=done,
        rows=sum(d.rows for d in done),
        missing=missing,
        seconds=round(time.perf_counter() - started, 3),
    )


def _dataset(
    snap: service.Snapshot,
    lake: Path,
    ds: Dataset,
    manifest: lk.Manifest,
    spill: Path,
    on_progress: service.OnProgress | None,
) -> DatasetVerification:
    """Load the database's markers and keys into DuckDB, then classify them against the lake."""
    import duckdb

    started = time.perf_counter()
    total = service.count_changes(snap, ds, None, None, todo=True)[0] if on_progress else 0
    con = duckdb.connect(config={"memory_limit": MEMORY, "temp_directory": str(spill)})
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")
        schema = _schema(ds)
        con.register("_empty", schema.empty_table())
        con.execute("CREATE TABLE db AS SELECT * FROM _empty")
        for batch in service.stream_cursors(snap, ds, manifest.watermark, BATCH):
            con.register("_batch", _converted(ds, batch, schema))
            con.execute("INSERT INTO db SELECT * FROM _batch")
            con.unregister("_batch")
            if on_progress:
                on_progress(ds.name, batch.num_rows, total)
        rep = _classify(con, lake, ds, manifest)
    finally:
        con.close()
    rep.seconds = round(time.perf_counter() - started, 3)
    return rep


def _schema(ds: Dataset) -> pa.Schema:
    """The rows loaded: marker and key in the lake's types, whether the next export reads the
    row, why it cannot be exported (None: it can) and its marker as stored when unreadable."""
    lake = lk.file_schema(ds)
    cols = [lake.field(c) for c in (ds.cursor[0], *ds.key)]
    return pa.schema([*cols, ("_pending", pa.bool_()), ("_why", STR), ("_stored", STR)])


def _converted(ds: Dataset, batch: pa.RecordBatch, schema: pa.Schema) -> pa.Table:
    """A batch as read → ``schema``, converted as the export converts (``lake_typed``); only
    the rows that cannot be read become Python values, to name them."""
    n, marker = batch.num_rows, ds.cursor[0]
    which = np.zeros(n, dtype=np.int64)  # 0: readable; i: reasons[i - 1]
    reasons: list[tuple[str, str | None]] = []  # (why, marker as stored)

    def name(rows: np.ndarray, why: Any) -> None:
        for i in rows[which[rows] == 0]:
            reasons.append(why(int(i)))
            which[i] = len(reasons)

    if "_bad" in batch.schema.names and batch.column("_bad").null_count < n:
        bad = batch.column("_bad")  # SQLite: ``column class value`` of a wrong storage class
        name(np.flatnonzero(bad.is_valid().to_numpy(zero_copy_only=False)),
             lambda i: _stored_wrong(ds, str(bad[i].as_py())))  # fmt: skip
    arrays = {}
    for column in (marker, *ds.key):
        values = batch.column(column)
        arrays[column], wrong = lake_typed(values, schema.field(column).type)
        if wrong is not None:
            name(np.flatnonzero(wrong), lambda i, c=column, v=values: _unreadable(ds, c, v[i]))
    named = pa.array([(None, None), *reasons], pa.struct([("w", STR), ("s", STR)]))
    picked = named.take(pa.array(which))
    return pa.table(
        [
            *arrays.values(),
            pc.equal(batch.column("_pending"), 1),
            picked.field("w"),
            picked.field("s"),
        ],
        schema=schema,
    )


def _stored_wrong(ds: Dataset, bad: str) -> tuple[str, str | None]:
    column, stored, value = bad.split(" ", 2)
    if column == ds.cursor[0]:
        why = f"change marker {value:.60} is not a timestamp (SQLite stored it as {stored})"
        return why, value.strip("'")
    typ = dict(ds.columns)[column]
    return f"{column} {value:.60} is not a {typ} (SQLite stored it as {stored})", None


def _unreadable(ds: Dataset, column: str, value: pa.Scalar) -> tuple[str, str | None]:
    stored = value.as_py()
    if column == ds.cursor[0]:
        return f"change marker {stored!r:.60} is not a timestamp", str(stored)
    return f"{column} {stored!r:.60} is not a {dict(ds.columns)[column]}", None


def _classify(con: Any, lake: Path, ds: Dataset, manifest: lk.Manifest) -> DatasetVerification:
    """Counts per category and the first missing rows, in one join with the lake's data files
    (every row compaction kept: it rewrites files, never drops a version)."""
    marker, keys = ds.cursor[0], ds.key
    data = lk.split_moves(lake / ds.name / f for f in sorted(manifest.files()))[0]
    if data:
        source = lk.parquet_source(data)
    else:
        con.register("_lake_empty", lk.file_schema(ds).empty_table())
        source = "_lake_empty"
    named = [e["key"] for e in manifest.rejected if e.get("dataset", ds.name) == ds.name]
    con.register("_rejected", pa.table({"key": pa.array(named, STR)}))
    cols = ", ".join(keys)

    def on(other: str) -> str:
        return " AND ".join(f"d.{k} = {other}.{k}" for k in keys)

    # a record's rows (latest="key") are its versions: the database's is the lake's newest
    # unless a change was passed over; other datasets' keys name one version each. A row the
    # export cannot read and named stays rejected, though each rerun reads it again (SQLite)
    held = f"t._top = d.{marker}"
    if ds.latest != "key":  # a semi-join: a row held twice is not counted twice
        held = f"EXISTS (SELECT 1 FROM lake h WHERE {on('h')} AND h._m = d.{marker})"
    key_text = f"concat_ws('/', {', '.join(f'CAST(d.{k} AS VARCHAR)' for k in keys)})"
    con.execute(f"""
    CREATE TEMP VIEW classified AS
    WITH lake AS (SELECT {cols}, {marker} AS _m FROM {source})
    SELECT d.*, t._top, CASE
        WHEN d._why IS NULL AND {held} THEN 'in_lake'
        WHEN (d._why IS NOT NULL OR NOT d._pending)
             AND {key_text} IN (SELECT key FROM _rejected) THEN 'rejected'
        WHEN d._pending THEN 'pending'
        ELSE 'missing' END AS _state
    FROM db d
    LEFT JOIN (SELECT {cols}, max(_m) AS _top FROM lake GROUP BY ALL) t ON {on("t")}
    """)
    counts = dict(con.execute("SELECT _state, count(*) FROM classified GROUP BY 1").fetchall())
    rep = DatasetVerification(
        dataset=ds.name, watermark=manifest.watermark,
        **{c: counts.get(c, 0) for c in ("in_lake", "pending", "rejected", "missing")},
    )  # fmt: skip
    rep.rows = rep.in_lake + rep.pending + rep.rejected + rep.missing
    if rep.missing:
        rows = con.execute(
            f"SELECT {marker}, {cols}, _stored, _why, _top FROM classified "
            f"WHERE _state = 'missing' ORDER BY {marker} NULLS FIRST, {cols} LIMIT {NAMED}"
        ).fetchall()
        rep.missing_rows = [_missing(ds, manifest, r) for r in rows]
    return rep


def _missing(ds: Dataset, manifest: lk.Manifest, row: tuple[Any, ...]) -> MissingRow:
    at, *key, stored, why, top = row
    marker = stored if at is None else at.isoformat()
    if why is None:
        mark = manifest.watermark.marker if manifest.watermark else "none"
        held = "not in the lake" if top is None else f"in the lake as changed at {top.isoformat()}"
        why = f"{held}; changed at or below the watermark ({mark}): no export will read it"
    values = {k: v if isinstance(v, str | int) or v is None else str(v)
              for k, v in zip(ds.key, key, strict=True)}  # fmt: skip
    return MissingRow(dataset=ds.name, key=values, marker=marker, reason=why)
