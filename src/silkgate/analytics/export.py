"""Incremental export of the operational tables to the Parquet lake.

Per dataset, inside one database snapshot for the whole run: rows changed after the manifest's
watermark stream in as Arrow batches, are converted a column at a time (a row that cannot be
converted or has no owner, crossing, date, trader or declarant role is rejected by name, never
dropped silently), written into Hive partitions in a staging directory
(``lake.PartitionWriter``), flushed and renamed into place, and only then is the manifest with
the new watermark committed. A crash at any point leaves the last manifest and its files as
they were; the next run sweeps the unlisted files and redoes the work.
"""

from __future__ import annotations

import hashlib
import hmac
import queue
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import cache, partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from silkgate.analytics import compaction, moves, service
from silkgate.analytics import lake as lk
from silkgate.analytics.datasets import DATASETS, DATE, INT, STR, TS, Dataset
from silkgate.analytics.schemas import DatasetReport, ExportReport, RejectedRow, Watermark
from silkgate.core.platform import Platform
from silkgate.risk.platform.offices import offices

BATCH = 50_000
REPORT_REJECTS = 1_000
#: Pseudonyms remembered across batches (a truck or trader recurs); cleared when full.
REFS_KEPT = 500_000
_DAY_US = 86_400_000_000
_PROBLEM = pa.ArrowException, TypeError, ValueError, OverflowError


class Converter:
    """Arrow batches as read → tables of the lake's schema, with the rows refused, a column at
    a time (values become Python objects only for distinct pseudonymised values and for rows
    that are refused)."""

    def __init__(
        self,
        ds: Dataset,
        utc_offset_hours: int,
        pseudonym_key: bytes,
        roles: dict[int, str | None] | None = None,
    ) -> None:
        self.ds = ds
        self.offset_us = utc_offset_hours * 3_600_000_000
        self.key = pseudonym_key
        self.refs: dict[str, str] = {}
        role_ids = sorted(roles or {})
        self.role_ids = pa.array(role_ids, INT)
        self.role_names = pa.array([(roles or {})[i] for i in role_ids], STR)

    def convert(
        self, batch: pa.RecordBatch, run: str
    ) -> tuple[pa.Table, list[RejectedRow], tuple[Any, ...] | None]:
        """The batch as a table, its rejected rows, and the highest cursor in it."""
        ds, n = self.ds, batch.num_rows
        problems: list[tuple[np.ndarray, Describe]] = []  # rows, then (column, reason) of row i
        if "_bad" in batch.schema.names:  # SQLite: a value of the wrong storage class
            bad = batch.column("_bad")
            if bad.null_count < n:
                problems.append((_mask(bad.is_valid()), partial(self._stored_wrong, bad)))
        arrays: dict[str, pa.Array] = {}
        for name, typ in ds.columns:
            values = batch.column(name)
            if name == ds.declarant_role:
                arrays[name] = self._roles(values)
            elif name in ds.pseudonymise:
                arrays[name] = self._refs(values.cast(STR))
            else:
                arrays[name], wrong = lake_typed(values, typ)
                if wrong is not None:
                    problems.append((wrong, partial(_not_a, name, typ, values)))
        for name, reason in ds.required:
            if arrays[name].null_count:
                problems.append((_mask(arrays[name].is_null()), partial(_fixed, name, reason)))
        top = self._top(batch, arrays[ds.cursor[0]])
        owner, crossing = self._places(arrays)
        day = self._days(arrays[ds.day_of])
        owner_ok = _mask(pc.match_substring_regex(owner, r"^[A-Z]{2}$"))
        source = "office" if ds.owner == "office" else ds.owner
        problems.append((~owner_ok, partial(_no_owner, source, owner)))
        crossing_ok = _mask(pc.not_equal(crossing, ""))
        problems.append((~crossing_ok, partial(_fixed, ds.crossing, "no crossing")))
        problems.append((~_mask(day.is_valid()), partial(_fixed, ds.day_of, "no date")))
        table = pa.Table.from_arrays(
            [*(arrays[c] for c, _ in ds.columns), owner, crossing, day, pa.repeat(run, n)],
            schema=lk.file_schema(ds),
        )
        refused = np.zeros(n, dtype=bool)
        rejected: list[RejectedRow] = []
        for rows, describe in problems:  # the first problem of a row names it
            new = rows & ~refused
            if new.any():
                rejected += self._named(batch, np.flatnonzero(new), describe)
                refused |= new
        if not refused.any():
            return table, [], top
        return table.filter(pa.array(~refused)), rejected, top

    def _top(self, batch: pa.RecordBatch, marker: pa.Array) -> tuple[Any, ...] | None:
        """The highest cursor among rows whose change marker could be read (``marker``, in the
        lake's type): an unreadable one (SQLite text that is no timestamp) is rejected by name,
        and must not become the watermark, which it cannot be."""
        highest = pc.max(marker)
        if not highest.is_valid:
            return None
        at = pc.fill_null(pc.equal(marker, highest), False)
        rest = batch.filter(at)
        cols = [
            marker.filter(at).to_pylist(),
            *(rest.column(c).to_pylist() for c in self.ds.cursor[1:]),
        ]
        return max(zip(*cols, strict=True))

    def _refs(self, values: pa.Array) -> pa.Array:
        """Keyed pseudonyms (HMAC-SHA256, first 20 hex digits) of each distinct value."""
        enc = values.dictionary_encode()
        distinct = enc.dictionary.to_pylist()
        if len(self.refs) > REFS_KEPT:
            self.refs.clear()
        refs = self.refs
        out = []
        for v in distinct:
            ref = refs.get(v)
            if ref is None:
                ref = refs[v] = hmac.digest(self.key, v.encode(), "sha256").hex()[:20]
            out.append(ref)
        return pa.array(out, STR).take(enc.indices)

    def _roles(self, org_ids: pa.Array) -> pa.Array:
        where = pc.index_in(org_ids.cast(INT), value_set=self.role_ids)
        return self.role_names.take(where)

    def _places(self, arrays: dict[str, pa.Array]) -> tuple[pa.Array, pa.Array]:
        ds = self.ds
        if ds.owner != "office":
            return arrays[ds.owner], arrays[ds.crossing]
        codes, places = _office_table()
        where = pc.index_in(arrays["office"], value_set=codes)
        return places.column("country").take(where), places.column("crossing").take(where)

    def _days(self, values: pa.Array) -> pa.Array:
        """The crossing-local calendar day of each timestamp (dates pass through)."""
        if values.type == DATE:
            return values
        us = values.cast(pa.int64()).fill_null(0).to_numpy()
        days = np.floor_divide(us + self.offset_us, _DAY_US).astype(np.int32)
        nulls = values.is_null().to_numpy(zero_copy_only=False)
        return pa.array(days, pa.int32(), mask=nulls).cast(DATE)

    def _stored_wrong(self, bad: pa.Array, i: int) -> tuple[str, str]:
        """From ``_bad`` (``column class quoted-value``): the column and the reason."""
        name, stored, value = str(bad[i].as_py()).split(" ", 2)
        typ = dict(self.ds.columns)[name]
        return name, f"{value:.60} is not a {typ} (SQLite stored it as {stored})"

    def _named(
        self, batch: pa.RecordBatch, rows: np.ndarray, describe: Describe
    ) -> list[RejectedRow]:
        keys = batch.select(list(self.ds.key)).take(pa.array(rows)).to_pylist()
        out = []
        for i, k in zip(rows, keys, strict=True):
            column, reason = describe(int(i))
            key = "/".join(str(k[c]) for c in self.ds.key)
            out.append(RejectedRow(dataset=self.ds.name, key=key, column=column, reason=reason))
        return out


Describe = Callable[[int], tuple[str, str]]


def _fixed(column: str, reason: str, _i: int) -> tuple[str, str]:
    return column, reason


def _not_a(column: str, typ: pa.DataType, values: pa.Array, i: int) -> tuple[str, str]:
    return column, f"{values[i].as_py()!r:.60} is not a {typ}"


def _no_owner(column: str, owner: pa.Array, i: int) -> tuple[str, str]:
    return column, f"no owning country: {owner[i].as_py()!r} is not an ISO 3166 code"


def _mask(values: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def lake_typed(values: pa.Array, typ: pa.DataType) -> tuple[pa.Array, np.ndarray | None]:
    """One column in the lake's type, and which rows could not be converted (None: all were).
    SQLite's timestamps and dates arrive as text, its booleans as integers."""
    if values.type == typ:
        return values, None
    try:
        return _cast(values, typ), None
    except _PROBLEM:
        pass
    wrong = np.zeros(len(values), dtype=bool)  # rare: find the values, one at a time
    for i, v in enumerate(values):
        try:
            _cast(pa.array([v.as_py()], values.type), typ)
        except _PROBLEM:
            wrong[i] = True
    kept = pc.if_else(pa.array(wrong), pa.nulls(len(values), values.type), values)
    return _cast(kept, typ), wrong


def _cast(values: pa.Array, typ: pa.DataType) -> pa.Array:
    if typ == TS and pa.types.is_string(values.type):
        return values.cast(pa.timestamp("us")).cast(TS)
    return values.cast(typ)


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
    """Key of the truck and trader pseudonyms: derived from the platform's secret pepper,
    never stored."""
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
    with lk.locked(lake):
        lk.clear_staging(lake)
        try:
            reports, rejected = _export_all(platform, lake, names, run_id, horizon, on_progress)
        finally:  # a failed run's partial copies of trade data are not left in staging
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


def _export_all(
    platform: Platform,
    lake: Path,
    names: list[str],
    run_id: str,
    horizon: datetime | None,
    on_progress: service.OnProgress | None,
) -> tuple[list[DatasetReport], list[RejectedRow]]:
    """Every named dataset from one consistent state of the database (the caller holds the
    lake's lock)."""
    reports: list[DatasetReport] = []
    rejected: list[RejectedRow] = []
    readers = service.readers_for(platform, names)
    with service.snapshot(platform, readers) as snap:
        roles = service.declarant_roles(snap)

        def one(reader: service.Snapshot, name: str) -> tuple[DatasetReport, list[RejectedRow]]:
            # a dataset exported before markers existed gets them first, once
            marked = moves.backfill(lake, DATASETS[name], run_id + "-moves")
            rep, rej = _export_dataset(platform, reader, roles, lake, DATASETS[name], run_id,
                                       horizon, on_progress)  # fmt: skip
            rep.markers_written += marked
            if platform.settings.analytics_compact_files and rep.files_written:
                done = compaction.compact_dataset(
                    lake, name, run_id + "-compact", platform.settings.analytics_compact_files
                )
                rep.partitions_compacted = done.partitions_compacted
            return rep, rej

        for rep, rej in _in_parallel(snap, names, readers, one):
            reports.append(rep)
            rejected += rej
    return reports, rejected


def _in_parallel(
    snap: service.Snapshot,
    names: list[str],
    readers: int,
    one: Callable[[service.Snapshot, str], tuple[DatasetReport, list[RejectedRow]]],
) -> list[tuple[DatasetReport, list[RejectedRow]]]:
    """``one`` for every dataset, in the order named, on up to ``readers`` connections that
    share ``snap``'s snapshot (one, in turn, where the database cannot share it)."""
    free: queue.SimpleQueue[service.Snapshot] = queue.SimpleQueue()
    free.put(snap)
    extra: list[service.Snapshot] = []

    def task(name: str) -> tuple[DatasetReport, list[RejectedRow]]:
        reader = free.get()
        try:
            return one(reader, name)
        finally:
            free.put(reader)

    try:  # a connection refused after others were opened closes those
        for _ in range(min(readers, len(names)) - 1):
            sibling = snap.sibling()
            if sibling is None:
                break
            extra.append(sibling)
            free.put(sibling)
        if not extra:
            return [task(n) for n in names]
        with ThreadPoolExecutor(len(extra) + 1, thread_name_prefix="lake-export") as pool:
            futures = [pool.submit(task, n) for n in names]
            try:
                return [f.result() for f in futures]
            except BaseException:  # the first failure ends the run: datasets not begun wait
                for f in futures:
                    f.cancel()
                raise
    finally:
        for sibling in extra:
            sibling.close()


def _export_dataset(
    platform: Platform,
    snap: service.Snapshot,
    roles: dict[int, str | None],
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
    todo, held = service.count_changes(snap, ds, before, horizon, todo=on_progress is not None)
    rep = DatasetReport(dataset=ds.name, held_back=held, watermark_before=before)
    staging = lake / lk.STAGING / run_id / ds.name
    staging.mkdir(parents=True)
    conv = Converter(ds, platform.settings.queue_utc_offset_hours, pseudonym_key(platform), roles)
    rejected: list[RejectedRow] = []
    top: tuple[Any, ...] | None = None

    with lk.PartitionWriter(staging / "out", run_id) as writer:
        for batch in service.stream_changes(snap, ds, before, horizon, BATCH):
            table, refused, batch_top = conv.convert(batch, run_id)
            if batch_top is not None and (top is None or batch_top > top):
                top = batch_top
            writer.add(table)
            rep.rows += table.num_rows
            rejected += refused
            if on_progress:
                on_progress(ds.name, batch.num_rows, todo)
        written = writer.close()
    rep.markers_written = _mark_moves(lake, ds, manifest, staging / "out", written, run_id)
    rep.rejected = len(rejected)
    if top is None:  # nothing changed: the manifest stays as it is
        rep.partitions_unchanged = len(manifest.partitions)
        return _timed(rep, started), rejected
    lk.place_files(lake / ds.name, staging / "out", written, manifest, run_id)
    rep.partitions_written = len({p for p, name in written if not lk.is_moves(name)})
    rep.partitions_unchanged = len(manifest.partitions) - len({p for p, _ in written})
    rep.files_written = len(written)
    rep.watermark = _watermark(top)
    manifest.watermark = rep.watermark
    _keep_rejections(manifest, rejected, run_id)
    manifest.runs.append(
        {
            "run": run_id,
            "finished_at": datetime.now(UTC).isoformat(),
            "rows": rep.rows,
            "rejected": rep.rejected,
            "files": rep.files_written,
            "markers": rep.markers_written,
            "horizon": horizon.isoformat() if horizon else None,
            "watermark": rep.watermark.model_dump(),
        }
    )
    lk.commit_manifest(lake, manifest, run_id)
    return _timed(rep, started), rejected


def _mark_moves(
    lake: Path,
    ds: Dataset,
    manifest: lk.Manifest,
    out: Path,
    written: dict[tuple[str, str], int],
    run_id: str,
) -> int:
    """Write this run's supersession markers (``moves.py``) beside its rows in ``out`` and
    list them in ``written``; how many."""
    if ds.latest == "once" or not written:
        return 0
    found = moves.markers(
        ds,
        [lake / ds.name / f for f in sorted(manifest.files())],
        [out / part / name for part, name in written],
        run_id,
    )
    if found.num_rows:
        with lk.PartitionWriter(out, run_id, prefix=lk.MOVES_PREFIX) as writer:
            writer.add(found)
            written.update(writer.close())
    return found.num_rows


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


def _keep_rejections(manifest: lk.Manifest, rejected: list[RejectedRow], run_id: str) -> None:
    """Name each rejected row once in the manifest: a row rejected again (a marker SQLite stores
    as a number is read on every run until mended) updates its entry's last run and count
    instead of filling the kept entries with copies. ``rejected_total`` counts every rejection."""
    manifest.rejected_total += len(rejected)
    kept = {(e["dataset"], e["key"], e.get("column"), e["reason"]): e for e in manifest.rejected}
    for r in rejected:
        entry = kept.get((r.dataset, r.key, r.column, r.reason))
        if entry is not None:
            entry["last_run"] = run_id
            entry["times"] = int(entry.get("times", 1)) + 1
        elif len(manifest.rejected) < lk.REJECTS_KEPT:
            entry = r.model_dump() | {"run": run_id}
            manifest.rejected.append(entry)
            kept[(r.dataset, r.key, r.column, r.reason)] = entry
