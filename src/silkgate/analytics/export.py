"""Incremental export of the operational tables to the Parquet lake.

Per dataset, inside one database snapshot for the whole run: rows changed after the manifest's
watermark are streamed, converted to Arrow (a row that cannot be converted or has no owner,
crossing or date is rejected by name, never dropped silently), appended to one staging Parquet
file, split into Hive partitions by DuckDB in a staging directory, renamed into place, and only
then is the manifest with the new watermark committed. A crash at any point leaves the last
manifest and its files as they were; the next run sweeps the unlisted files and redoes the work.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from silkgate.analytics import lake as lk
from silkgate.analytics import service
from silkgate.analytics.datasets import BOOL, DATASETS, DATE, PARTITION, STR, TS, Dataset
from silkgate.analytics.schemas import DatasetReport, ExportReport, RejectedRow, Watermark
from silkgate.core.platform import Platform
from silkgate.risk.platform.offices import offices

BATCH = 50_000
REPORT_REJECTS = 1_000
_DAY_US = 86_400_000_000


class Converter:
    """Rows of one dataset → Arrow tables of the lake's schema, with the rows refused."""

    def __init__(self, ds: Dataset, utc_offset_hours: int, pseudonym_key: bytes) -> None:
        self.ds = ds
        self.offset_us = utc_offset_hours * 3_600_000_000
        self.key = pseudonym_key
        self.refs: dict[str, str] = {}
        names = [n for n, _ in ds.columns]
        self.idx = {n: i for i, n in enumerate(names)}
        self.key_idx = [self.idx[k] for k in ds.key]
        self.cursor_idx = [self.idx[c] for c in ds.cursor]

    def convert(
        self, rows: Sequence[Any], run: str
    ) -> tuple[pa.Table, list[RejectedRow], tuple[Any, ...] | None]:
        """The batch as a table, its rejected rows, and the highest cursor in it."""
        cols = [list(c) for c in zip(*rows, strict=True)]
        top = max(
            (c for c in zip(*(cols[i] for i in self.cursor_idx), strict=True) if c[0] is not None),
            default=None,
        )
        for name in self.ds.pseudonymise:
            cols[self.idx[name]] = [self._ref(v) for v in cols[self.idx[name]]]
        rejected: list[RejectedRow] = []
        try:
            arrays = [_array(v, t) for v, (_, t) in zip(cols, self.ds.columns, strict=True)]
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            arrays, cols, rejected = self._row_by_row(rows, cols)
        table, refused = self._partitioned(arrays, cols, run)
        return table, rejected + refused, top

    def _ref(self, truck: str | None) -> str | None:
        """A keyed pseudonym of ``NATIONALITY:PLATE``, the same in bookings and gate events."""
        if truck is None:
            return None
        ref = self.refs.get(truck)
        if ref is None:
            ref = hmac.new(self.key, truck.encode(), hashlib.sha256).hexdigest()[:20]
            self.refs[truck] = ref
        return ref

    def _key(self, cols: list[list[Any]], i: int) -> str:
        return "/".join(str(cols[k][i]) for k in self.key_idx)

    def _row_by_row(
        self, rows: Sequence[Any], cols: list[list[Any]]
    ) -> tuple[list[pa.Array], list[list[Any]], list[RejectedRow]]:
        """Find the rows whose values do not fit their column; keep the others."""
        rejected, keep = [], []
        for i in range(len(rows)):
            for c, (name, typ) in enumerate(self.ds.columns):
                try:
                    _array([cols[c][i]], typ)
                except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
                    reason = f"{cols[c][i]!r:.60} is not a {typ}: {str(exc).splitlines()[0]:.120}"
                    rejected.append(
                        RejectedRow(
                            dataset=self.ds.name, key=self._key(cols, i), column=name, reason=reason
                        )
                    )
                    break
            else:
                keep.append(i)
        cols = [[col[i] for i in keep] for col in cols]
        arrays = [_array(v, t) for v, (_, t) in zip(cols, self.ds.columns, strict=True)]
        return arrays, cols, rejected

    def _partitioned(
        self, arrays: list[pa.Array], cols: list[list[Any]], run: str
    ) -> tuple[pa.Table, list[RejectedRow]]:
        ds, n = self.ds, len(arrays[0])
        if ds.owner == "office":
            codes, places = _office_table()
            where = pc.index_in(arrays[self.idx["office"]], value_set=codes)
            owner, crossing = (
                places.column("country").take(where),
                places.column("crossing").take(where),
            )
        else:
            owner, crossing = arrays[self.idx[ds.owner]], arrays[self.idx[ds.crossing]]
        owner = pa.array(owner, STR) if not isinstance(owner, pa.Array) else owner
        crossing = pa.array(crossing, STR) if not isinstance(crossing, pa.Array) else crossing
        day = self._days(arrays[self.idx[ds.day_of]])
        owner_ok = pc.fill_null(pc.match_substring_regex(owner, r"^[A-Z]{2}$"), False)
        crossing_ok = pc.fill_null(pc.not_equal(crossing, ""), False)
        keep = pc.and_(pc.and_(owner_ok, crossing_ok), day.is_valid())
        table = pa.Table.from_arrays(
            [*arrays, owner, crossing, day, pa.repeat(run, n)], schema=lk.file_schema(ds)
        )
        if pc.all(keep).as_py() is not False:
            return table, []
        bad: list[RejectedRow] = []
        source = "office" if ds.owner == "office" else ds.owner
        for i in np.flatnonzero(~keep.to_numpy(zero_copy_only=False)):
            if not owner_ok[i].as_py():
                reason = f"no owning country: {owner[i].as_py()!r} is not an ISO 3166 code"
                problem = (source, reason)
            elif not crossing_ok[i].as_py():
                problem = (ds.crossing, "no crossing")
            else:
                problem = (ds.day_of, "no date")
            key = self._key(cols, int(i))
            bad.append(RejectedRow(dataset=ds.name, key=key, column=problem[0], reason=problem[1]))
        return table.filter(keep), bad

    def _days(self, values: pa.Array) -> pa.Array:
        """The crossing-local calendar day of each timestamp (dates pass through)."""
        if values.type == DATE:
            return values
        us = values.cast(pa.int64()).fill_null(0).to_numpy()
        days = np.floor_divide(us + self.offset_us, _DAY_US).astype(np.int32)
        nulls = values.is_null().to_numpy(zero_copy_only=False)
        return pa.array(days, pa.int32(), mask=nulls).cast(DATE)


def _array(values: list[Any], typ: pa.DataType) -> pa.Array:
    """One column; SQLite's timestamps and dates arrive as text and are parsed by Arrow, its
    booleans as 0/1."""
    if typ in (TS, DATE) and any(isinstance(v, str) for v in values):
        text = pa.array(values, STR)
        return text.cast(pa.timestamp("us")).cast(TS) if typ == TS else text.cast(DATE)
    if typ == BOOL and any(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return pa.array(values, pa.int64()).cast(BOOL)
    return pa.array(values, typ)


@cache
def _office_table() -> tuple[pa.Array, pa.Table]:
    """Customs office codes, and beside each its crossing and country (for ``pc.take``)."""
    known = offices()
    codes = pa.array(list(known), STR)
    places = pa.table(
        {
            "crossing": pa.array([c for c, _ in known.values()], STR),
            "country": pa.array([k for _, k in known.values()], STR),
        }
    )
    return codes, places


def pseudonym_key(platform: Platform) -> bytes:
    """Key of the truck pseudonyms: derived from the platform's secret pepper, never stored."""
    pepper = platform.settings.api_key_pepper.get_secret_value().encode()
    return hmac.new(pepper, b"silkgate analytics truck_ref v1", hashlib.sha256).digest()


def run(
    platform: Platform,
    names: list[str],
    horizon: datetime | None,
    on_progress: service.OnProgress | None = None,
) -> ExportReport:
    lake = platform.settings.lake_dir
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + "-" + secrets.token_hex(3)
    started = time.perf_counter()
    reports: list[DatasetReport] = []
    rejected: list[RejectedRow] = []
    with lk.locked(lake):
        lk.clear_staging(lake)
        with platform.db.snapshot() as s:  # every dataset from one consistent state
            for name in names:
                rep, rej = _export_dataset(platform, s, lake, DATASETS[name], run_id, horizon,
                                           on_progress)  # fmt: skip
                reports.append(rep)
                rejected += rej
        lk.clear_staging(lake)
    seconds = time.perf_counter() - started
    rows = sum(r.rows for r in reports)
    return ExportReport(
        lake=str(lake),
        run=run_id,
        horizon=horizon,
        datasets=reports,
        rejected=rejected[:REPORT_REJECTS],
        rejected_total=len(rejected),
        rows=rows,
        seconds=round(seconds, 3),
        rows_per_second=round(rows / seconds, 1) if seconds else 0.0,
    )


def _export_dataset(
    platform: Platform,
    s: Any,
    lake: Path,
    ds: Dataset,
    run_id: str,
    horizon: datetime | None,
    on_progress: service.OnProgress | None,
) -> tuple[DatasetReport, list[RejectedRow]]:
    started = time.perf_counter()
    manifest = lk.load_manifest(lake, ds.name)
    lk.sweep(lake, manifest)  # files of a run that crashed before committing this manifest
    before = manifest.watermark
    todo, held = service.count_changes(s, ds, before, horizon)
    rep = DatasetReport(dataset=ds.name, held_back=held, watermark_before=before)
    staging = lake / lk.STAGING / run_id / ds.name
    staging.mkdir(parents=True)
    conv = Converter(ds, platform.settings.queue_utc_offset_hours, pseudonym_key(platform))
    rejected: list[RejectedRow] = []
    top: tuple[Any, ...] | None = None
    stage = staging / "rows.parquet"
    with pq.ParquetWriter(stage, lk.file_schema(ds), compression="zstd") as writer:
        for part in service.stream_changes(s, ds, before, horizon, BATCH):
            table, refused, batch_top = conv.convert(part, run_id)
            if batch_top is not None and (top is None or batch_top > top):
                top = batch_top
            if table.num_rows:
                writer.write_table(table)
            rep.rows += table.num_rows
            rejected += refused
            if on_progress:
                on_progress(ds.name, len(part), todo)
    rep.rejected = len(rejected)
    if top is None:  # nothing changed: the manifest stays as it is
        rep.partitions_unchanged = len(manifest.partitions)
        return _timed(rep, started), rejected
    written = _partition(stage, staging / "out", run_id) if rep.rows else {}
    _move_into_place(lake / ds.name, staging / "out", written, manifest, run_id)
    rep.partitions_written = len({p for p, _ in written})
    rep.partitions_unchanged = len(manifest.partitions) - rep.partitions_written
    rep.files_written = len(written)
    rep.watermark = _watermark(top)
    manifest.watermark = rep.watermark
    manifest.rejected_total += len(rejected)
    room = max(0, lk.REJECTS_KEPT - len(manifest.rejected))
    manifest.rejected += [r.model_dump() | {"run": run_id} for r in rejected[:room]]
    manifest.runs.append(
        {
            "run": run_id,
            "finished_at": datetime.now(UTC).isoformat(),
            "rows": rep.rows,
            "rejected": rep.rejected,
            "files": rep.files_written,
            "horizon": horizon.isoformat() if horizon else None,
            "watermark": rep.watermark.model_dump(),
        }
    )
    lk.commit_manifest(lake, manifest, run_id)
    return _timed(rep, started), rejected


def _timed(rep: DatasetReport, started: float) -> DatasetReport:
    rep.seconds = round(time.perf_counter() - started, 3)
    rep.rows_per_second = round(rep.rows / rep.seconds, 1) if rep.seconds else 0.0
    return rep


def _watermark(top: tuple[Any, ...]) -> Watermark:
    marker = top[0]
    if isinstance(marker, str):  # SQLite text, stored as UTC
        marker = datetime.fromisoformat(marker)
    if marker.tzinfo is None:
        marker = marker.replace(tzinfo=UTC)
    return Watermark(marker=marker.astimezone(UTC).isoformat(), key=list(top[1:]))


def _partition(stage: Path, out: Path, run_id: str) -> dict[tuple[str, str], int]:
    """Split the staging file into Hive partitions; (partition, file name) → rows."""
    import duckdb

    con = duckdb.connect(
        config={"memory_limit": "1GB", "threads": 2, "preserve_insertion_order": False}
    )
    try:
        con.execute("SET enable_progress_bar = false")  # drawn on stdout: into --json output
        con.execute(
            f"COPY (SELECT * FROM read_parquet('{stage}')) TO '{out}' (FORMAT parquet, "
            f"COMPRESSION zstd, PARTITION_BY ({', '.join(PARTITION)}), "
            f"WRITE_PARTITION_COLUMNS true, FILENAME_PATTERN 'part-{run_id}-{{i}}')"
        )
    finally:
        con.close()
    written = {}
    for path in sorted(out.rglob("*.parquet")):
        rel = path.relative_to(out)
        written[(rel.parent.as_posix(), rel.name)] = pq.ParquetFile(path).metadata.num_rows
    return written


def _move_into_place(
    folder: Path,
    out: Path,
    written: dict[tuple[str, str], int],
    manifest: lk.Manifest,
    run_id: str,
) -> None:
    """Rename each new file into its partition and list it (the manifest is committed later)."""
    for (part, name), rows in written.items():
        src = out / part / name
        digest = lk.settle_file(src)
        dst = folder / part / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)
        entry = manifest.partitions.setdefault(part, {"rows": 0, "files": []})
        entry["files"].append({"name": name, "rows": rows, "sha256": digest, "run": run_id})
        entry["rows"] += rows
