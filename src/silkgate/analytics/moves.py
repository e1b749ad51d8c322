"""Supersession markers: a record's older version must not pass for its latest where the newer
one cannot be read.

Residency reads or leaves whole partitions, and each record's latest version is decided over
the partitions a run reads. When a declaration amended from Khorgos to Alashankou has version
1 in one partition and version 2 in another, a run allowed only the first would take version 1
for the latest and count it. So each export, for every record it wrote, leaves in every other
partition where an older version of it is still visible a marker — the record's key and the
order value (version, or change marker) of its latest version — in a ``moved-`` file. The
latest views (``lake.latest_sql``) drop a row a marker beside it shows to be superseded. A
marker names no place: a reader learns that the record changed, not where it went.

It rests on a record's versions carrying strictly increasing order values from run to run (the
export's cursor re-exports a key only with a later change marker; versions only grow): a tie
would hide nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from silkgate.analytics import lake as lk
from silkgate.analytics.datasets import Dataset


def markers(
    ds: Dataset,
    lake_files: Sequence[Path],
    new_files: Sequence[Path],
    run: str,
    every_record: bool = False,
) -> pa.Table:
    """Marker rows (``lk.moves_schema``) this run must add: for each record in ``new_files``
    (``every_record``: in the whole lake), one in each partition of ``lake_files`` +
    ``new_files`` (data and markers) other than its latest version's whose newest row would
    still be read as the latest."""
    import duckdb

    schema = lk.moves_schema(ds)
    new_data = lk.split_moves(new_files)[0]
    old_data, old_moves = lk.split_moves(lake_files)
    if ds.latest == "once" or not (new_data or (every_record and old_data)):
        return schema.empty_table()
    # a run exports a keyed record once: only one of its versions (declarations) can be new
    if not every_record and lk.record_key(ds) == ds.key and not old_data:
        return schema.empty_table()
    keys = lk.record_key(ds)
    cols, order = ", ".join(keys), lk.order_column(ds)

    def on(a: str, b: str) -> str:
        return " AND ".join(f"{a}.{k} = {b}.{k}" for k in keys)

    rows = [f"SELECT {cols}, {order} AS _order, export_run, 0 AS _marker, {_PLACE} "
            f"FROM {lk.parquet_source([*old_data, *new_data])}"]  # fmt: skip
    if old_moves:
        rows.append(
            f"SELECT {cols}, {order}, export_run, 1, {_PLACE} FROM {lk.parquet_source(old_moves)}"
        )
    every = " UNION ALL ".join(rows)
    # the first export reads every row anyway: no need to pick out the records it touched
    touched = (
        f"SELECT * FROM ({every}) r WHERE EXISTS (SELECT 1 FROM (SELECT DISTINCT {cols} "
        f"FROM {lk.parquet_source(new_data)}) t WHERE {on('t', 'r')})"
        if old_data and not every_record
        else every
    )
    sql = f"""
    WITH touched AS ({touched}
    ), spread AS (
      SELECT {cols} FROM touched GROUP BY {cols}
      HAVING count(DISTINCT owner_country || '/' || crossing || '/' || _month) > 1
    ), versions AS (
      SELECT * FROM touched r WHERE EXISTS (SELECT 1 FROM spread t WHERE {on("t", "r")})
    ), latest AS (
      SELECT * FROM (
        SELECT *, row_number() OVER (PARTITION BY {cols}
                                     ORDER BY _order DESC, export_run DESC) AS _rank
        FROM versions WHERE _marker = 0
      ) t WHERE _rank = 1
    ), places AS (
      SELECT {cols}, owner_country, crossing, _month,
             max(CASE WHEN _marker = 0 THEN _order END) AS _top,
             max(CASE WHEN _marker = 1 THEN _order END) AS _moved_to,
             max(CASE WHEN _marker = 0 THEN date END) AS date
      FROM versions GROUP BY {cols}, owner_country, crossing, _month
    )
    SELECT {", ".join(f"p.{k}" for k in keys)}, l._order AS {order},
           p.owner_country, p.crossing, p.date, {lk.sql_string(run)} AS export_run
    FROM places p JOIN latest l ON {on("p", "l")}
    WHERE NOT (p.owner_country = l.owner_country AND p.crossing = l.crossing
               AND p._month = l._month)
      AND p._top < l._order AND (p._moved_to IS NULL OR p._moved_to <= p._top)
    ORDER BY p.owner_country, p.crossing, p.date, {", ".join(f"p.{k}" for k in keys)}
    """  # ordered: the same lake gives the same marker files, byte for byte
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        # key columns of every row at worst (a backfill): spill rather than double the peak
        # of the process running it (the generator's 0.7 GB to 1.9 GB at 10 million items)
        con.execute("SET memory_limit = '512MB'")
        table: pa.Table = con.sql(sql).to_arrow_table()
    finally:
        con.close()
    return table.cast(schema)


def unmarked(manifest: lk.Manifest) -> bool:
    """Whether a dataset was written before supersession markers existed: it has runs and none
    of them looked for moves (every export since records ``markers``, a backfill too)."""
    return bool(manifest.runs) and not any("markers" in r for r in manifest.runs)


def backfill(lake: Path, ds: Dataset, run: str, in_last_run: bool = False) -> int:
    """Mark every record of a dataset written before markers existed (the caller holds the
    lake's lock): the markers its exports would have left, in files of their own, listed in
    one manifest commit that also records the backfill, so it is done once — as a run of its
    own, or (``in_last_run``: the generator's) in the manifest's last run. How many."""
    manifest = lk.load_manifest(lake, ds.name)  # files it does not list are never read
    if not unmarked(manifest):
        return 0
    folder = lake / ds.name
    found = markers(ds, [folder / f for f in sorted(manifest.files())], [], run, every_record=True)
    if found.num_rows:
        staging = lake / lk.STAGING / run / ds.name
        with lk.PartitionWriter(staging, run, prefix=lk.MOVES_PREFIX) as writer:
            writer.add(found)
            written = writer.close()
        lk.place_files(folder, staging, written, manifest, run)
    if in_last_run:
        manifest.runs[-1]["markers"] = found.num_rows
    else:
        manifest.runs.append(
            {"run": run, "finished_at": datetime.now(UTC).isoformat(), "markers": found.num_rows}
        )
    lk.commit_manifest(lake, manifest, run)
    return found.num_rows


#: A row's partition: owner, crossing and month (``lk.partition_key``), and its day.
_PLACE = "owner_country, crossing, date, strftime(date, '%Y-%m') AS _month"
