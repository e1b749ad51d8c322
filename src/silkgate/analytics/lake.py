"""The lake on disk: layout, per-dataset manifests committed atomically, and a DuckDB reader.

Layout: ``<lake>/<dataset>/owner_country=CN/crossing=KHG-NZH/month=2025-11/part-<run>-<n>
.parquet`` plus ``<lake>/<dataset>/_manifest.json`` (each row keeps its day in ``date``); beside a
partition's rows, ``moved-<run>-<n>.parquet`` files mark records whose latest version lies in
another partition (``moves.py``). Files
are only ever added (compaction lists one new file in place of several); the manifest is the
truth: a file it does not list belongs to a run that crashed before its commit (or was replaced
by compaction), is never read through ``connect`` and is deleted by the next export.
"""

from __future__ import annotations

import fcntl
import hashlib
import itertools
import json
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from silkgate.analytics.datasets import DATASETS, PARTITION, STR, Dataset
from silkgate.analytics.schemas import Watermark
from silkgate.core.errors import Conflict

MANIFEST = "_manifest.json"
STAGING = "_staging"
FORMAT = 1
#: Rejected rows kept by name in a manifest (the count is kept beyond).
REJECTS_KEPT = 10_000
#: Name prefix of a partition's supersession markers (``moves.py``); data files are ``part-``.
MOVES_PREFIX = "moved-"
#: Files flushed and renamed at once when a run puts them in place.
SETTLE_THREADS = 8


@dataclass
class Manifest:
    """What a dataset's lake holds: partitions with their files, the watermark, past runs."""

    dataset: str
    watermark: Watermark | None = None
    partitions: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    rejected_total: int = 0

    def files(self) -> set[str]:
        """Every listed file, relative to the dataset directory."""
        return {f"{p}/{f['name']}" for p, part in self.partitions.items() for f in part["files"]}

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "dataset": self.dataset,
            "watermark": self.watermark.model_dump() if self.watermark else None,
            "partitions": self.partitions,
            "runs": self.runs,
            "rejected_total": self.rejected_total,
            "rejected": self.rejected,
        }


def load_manifest(lake: Path, dataset: str) -> Manifest:
    path = lake / dataset / MANIFEST
    if not path.exists():
        return Manifest(dataset)
    doc = json.loads(path.read_text())
    wm = doc.get("watermark")
    return Manifest(
        dataset=dataset,
        watermark=Watermark.model_validate(wm) if wm else None,
        partitions=doc.get("partitions", {}),
        runs=doc.get("runs", []),
        rejected=doc.get("rejected", []),
        rejected_total=doc.get("rejected_total", 0),
    )


def commit_manifest(lake: Path, manifest: Manifest, run: str) -> None:
    """Replace the dataset's manifest in one rename: readers see the old or the new, whole."""
    folder = lake / manifest.dataset
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{MANIFEST}.{run}.tmp"
    with tmp.open("w") as f:
        json.dump(manifest.as_json(), f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, folder / MANIFEST)
    fsync_dir(folder)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def locked(lake: Path) -> Iterator[None]:
    """One export, compaction, generation or verification at a time per lake (another process
    is refused, not queued)."""
    lake.mkdir(parents=True, exist_ok=True)
    with (lake / ".export.lock").open("a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict(
                "another export, compaction, generation or verification holds the lake at "
                f"{lake}; try again when it has finished"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def partition_key(owner: str, crossing: str, month: str) -> str:
    """A partition's path under its dataset: owner country, crossing, month (``YYYY-MM``).

    Monthly, not daily: a day at one crossing is a few thousand rows, and a file per day made
    readers open ~30 times as many files as rows justified (measured in docs/benchmarks.md)."""
    place = f"owner_country={quote(owner, safe='')}/crossing={quote(crossing, safe='')}"
    return f"{place}/month={month}"


def months_of(days: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Months since 1970-01 of each (non-null) date32 value."""
    ints = pc.cast(days, pa.int32()).to_numpy(zero_copy_only=False)
    return np.asarray(ints, dtype="datetime64[D]").astype("datetime64[M]").astype(np.int64)


def month_name(month: int) -> str:
    """``YYYY-MM`` of a month counted from 1970-01."""
    return str(np.datetime64(month, "M"))


def sweep(lake: Path, manifest: Manifest) -> list[str]:
    """Delete files of the dataset that its manifest does not list (a crashed run's)."""
    folder = lake / manifest.dataset
    if not folder.exists():
        return []
    listed = manifest.files()
    removed = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and rel != MANIFEST and rel not in listed:
            path.unlink()
            removed.append(rel)
    return removed


def clear_staging(lake: Path) -> None:
    shutil.rmtree(lake / STAGING, ignore_errors=True)


def settle_file(path: Path) -> str:
    """Flush a written file to disk and return its SHA-256."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
        os.fsync(f.fileno())
    return digest.hexdigest()


def is_moves(path: str | Path) -> bool:
    """Whether a lake file holds supersession markers rather than rows."""
    return Path(path).name.startswith(MOVES_PREFIX)


def split_moves(files: Iterable[Path]) -> tuple[list[Path], list[Path]]:
    """A dataset's files as (data files, marker files)."""
    data: list[Path] = []
    moves: list[Path] = []
    for f in files:
        (moves if is_moves(f) else data).append(f)
    return data, moves


def _by_declaration(ds: Dataset) -> bool:
    """Whether markers follow the declaration's version (declarations, items and lanes)."""
    return ds.latest == "max_version" or ds.moves == "declaration_version"


def record_key(ds: Dataset) -> tuple[str, ...]:
    """The columns naming what supersession markers follow, all of whose versions compete for
    "latest" (a lane follows its declaration)."""
    return ("declaration_id",) if _by_declaration(ds) else ds.key


def order_column(ds: Dataset) -> str:
    """The column a later version is greater in."""
    return "version" if _by_declaration(ds) else ds.cursor[0]


def moves_schema(ds: Dataset) -> pa.Schema:
    """Columns of a marker file: the record, the order value of its version elsewhere, the
    partition the marker sits in, the run that wrote it."""
    names = (*record_key(ds), order_column(ds), *PARTITION, "export_run")
    return pa.schema([file_schema(ds).field(n) for n in names])


class PartitionWriter:
    """Rows (already converted, partition columns filled) → Hive partitions under ``out``: one
    Parquet file per partition per chunk of ``chunk_bytes`` of Arrow data. A chunk is sorted by
    partition and written by a background thread while the next one is read, so memory holds
    two chunks at most. Rows read in time order (the usual storage order) give one file per
    partition; unordered rows one per partition and chunk. ``prefix`` begins each file name."""

    def __init__(
        self, out: Path, run: str, chunk_bytes: int = 160 << 20, prefix: str = "part-"
    ) -> None:
        self.out, self.run, self.chunk_bytes, self.prefix = out, run, chunk_bytes, prefix
        self.pending: list[pa.Table] = []
        self.pending_bytes = 0
        self.written: dict[tuple[str, str], int] = {}
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="lake-write")
        self.job: Future[None] | None = None

    def __enter__(self) -> PartitionWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.job is not None:
                self.job.result()
        finally:
            self.pool.shutdown()

    def add(self, table: pa.Table) -> None:
        if table.num_rows:
            self.pending.append(table)
            self.pending_bytes += table.nbytes
            if self.pending_bytes >= self.chunk_bytes:
                self._flush()

    def close(self) -> dict[tuple[str, str], int]:
        """Write what is left; (partition, file name) → rows of every file written."""
        self._flush()
        if self.job is not None:
            self.job.result()
        return self.written

    def _flush(self) -> None:
        if not self.pending:
            return
        table = pa.concat_tables(self.pending)
        self.pending, self.pending_bytes = [], 0
        if self.job is not None:
            self.job.result()  # one chunk being written, one being gathered
        self.job = self.pool.submit(self._write, table)

    def _write(self, table: pa.Table) -> None:
        table = table.take(pc.sort_indices(table, [(k, "ascending") for k in PARTITION]))
        owner, crossing, day = PARTITION
        months = months_of(table.column(day))
        changed = np.diff(months) != 0
        for k in (owner, crossing):
            col = table.column(k)
            changed |= pc.not_equal(col.slice(1), col.slice(0, len(col) - 1)).to_numpy()
        cuts = [0, *(np.flatnonzero(changed) + 1).tolist(), table.num_rows]
        for start, stop in itertools.pairwise(cuts):
            rows = table.slice(start, stop - start)
            first = rows.select([owner, crossing]).slice(0, 1).to_pylist()[0]
            part = partition_key(first[owner], first[crossing], month_name(int(months[start])))
            name = f"{self.prefix}{self.run}-{len(self.written)}.parquet"
            (self.out / part).mkdir(parents=True, exist_ok=True)
            pq.write_table(rows, self.out / part / name, compression="zstd")
            self.written[(part, name)] = rows.num_rows


def file_schema(ds: Dataset) -> pa.Schema:
    """Columns of a lake file: the dataset's, the partition columns, the exporting run."""
    return ds.schema.append(pa.field("export_run", STR))


def sql_string(text: str) -> str:
    """``text`` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def parquet_source(paths: Sequence[Path]) -> str:
    """DuckDB's reader over exactly these files (their partition columns are in the rows)."""
    return (
        f"read_parquet([{', '.join(sql_string(str(p)) for p in paths)}], hive_partitioning = false)"
    )


def place_files(
    folder: Path,
    out: Path,
    written: Mapping[tuple[str, str], int],
    manifest: Manifest,
    run_id: str,
) -> None:
    """Flush each new file (``written``: partition and name to rows) from ``out``, rename it
    into its partition under ``folder`` and list it (the caller commits the manifest); then
    flush the directories that gained an entry. Files in parallel: fsync waits on the disk,
    not the processor. A partition's ``rows`` counts its records' rows, not its markers."""

    def settle(item: tuple[tuple[str, str], int]) -> str:
        (part, name), _rows = item
        digest = settle_file(out / part / name)
        os.replace(out / part / name, folder / part / name)
        return digest

    if not written:
        return
    parts = {part for part, _ in written}
    for part in parts:
        (folder / part).mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(SETTLE_THREADS, thread_name_prefix="lake-settle") as pool:
        digests = list(pool.map(settle, written.items()))
        # each partition directory and its ancestors up to the dataset's (new entries)
        dirs = {folder} | {folder.joinpath(*p.split("/")[:i]) for p in parts for i in (1, 2, 3)}
        list(pool.map(fsync_dir, sorted(dirs)))
    for ((part, name), rows), digest in zip(written.items(), digests, strict=True):
        entry = manifest.partitions.setdefault(part, {"rows": 0, "files": []})
        entry["files"].append({"name": name, "rows": rows, "sha256": digest, "run": run_id})
        if not is_moves(name):
            entry["rows"] += rows


def connect(lake: Path, con: Any = None) -> Any:
    """A DuckDB connection with ``duckdb_views`` over the files each manifest lists."""
    import duckdb

    con = con or duckdb.connect()
    files = {n: sorted(lake / n / f for f in load_manifest(lake, n).files()) for n in DATASETS}
    duckdb_views(con, files)
    return con


def duckdb_views(con: Any, files: Mapping[str, Sequence[Path]]) -> None:
    """Views per dataset over exactly these files (none: empty views): ``<dataset>_all`` (every
    exported row), ``<dataset>_moves`` (supersession markers) and ``<dataset>`` (each record's
    latest version)."""
    for name, ds in DATASETS.items():
        data, moves = split_moves(files.get(name, ()))
        for view, listed, schema in (
            (f"{name}_all", data, file_schema(ds)),
            (f"{name}_moves", moves, moves_schema(ds)),
        ):
            if listed:
                source = parquet_source(listed)
            else:
                con.register(f"_{view}_empty", schema.empty_table())
                source = f"_{view}_empty"
            con.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM {source}")
        for view, sql in derived_views(ds, bool(moves)):
            con.execute(f"CREATE OR REPLACE VIEW {view} AS {sql}")


def derived_views(ds: Dataset, moves: bool) -> list[tuple[str, str]]:
    """The views every engine defines over ``<dataset>_all`` and ``<dataset>_moves``, in
    order: ``<dataset>`` (``latest_sql``) and, for lanes, ``<dataset>_current``
    (``current_sql``). ``moves``: whether the run reads any marker of the dataset."""
    views = [(ds.name, latest_sql(ds, moves))]
    if ds.moves == "declaration_version":
        views.append((f"{ds.name}_current", current_sql(ds, moves)))
    return views


def latest_sql(ds: Dataset, moves: bool = True) -> str:
    """Each record once, in its latest exported version (superseded rows stay in ``_all``), in
    SQL that DuckDB, Spark and PostgreSQL all run. A dataset whose rows never change
    (``latest="once"``: the change marker is the row's insertion time) is read as written.

    With ``moves`` (the run reads supersession markers of the dataset), a record is left out
    when a marker read beside it says a later version exists in another partition: a run that
    may not read that partition must not take the older version for the latest (``moves.py``).
    Without markers nothing is left out, and the view is the ranking alone."""
    if ds.latest == "once":
        return f"SELECT {', '.join(file_schema(ds).names)} FROM {ds.name}_all"
    cols = ", ".join(f"t.{c}" for c in file_schema(ds).names)
    keys, order = record_key(ds), order_column(ds)
    if ds.latest == "max_version":
        ranked = (
            f"SELECT *, max(version) OVER (PARTITION BY declaration_id) AS _latest "
            f"FROM {ds.name}_all"
        )
        latest = "t.version = t._latest"
    else:
        ranked = (
            f"SELECT *, row_number() OVER (PARTITION BY {', '.join(ds.key)} "
            f"ORDER BY {ds.cursor[0]} DESC, export_run DESC) AS _rank FROM {ds.name}_all"
        )
        latest = "t._rank = 1"
    if not moves or ds.moves != "record":
        return f"SELECT {cols} FROM ({ranked}) t WHERE {latest}"
    moved = (
        f"SELECT {', '.join(keys)}, max({order}) AS _moved_to FROM {ds.name}_moves "
        f"GROUP BY {', '.join(keys)}"
    )
    joined = " AND ".join(f"m.{k} = t.{k}" for k in keys)
    return (
        f"SELECT {cols} FROM ({ranked}) t LEFT JOIN ({moved}) m ON {joined} "
        f"WHERE {latest} AND (m._moved_to IS NULL OR m._moved_to <= t.{order})"
    )


def current_sql(ds: Dataset, moves: bool = True) -> str:
    """``<dataset>_current`` of a dataset whose markers follow declaration versions (lanes):
    its latest view less the rows of a declaration version that a marker read beside them
    shows to be older than a version elsewhere. A job picking a declaration's latest lane reads
    this, so that a run that may not read where the declaration went does not take its older
    version's lane; every row is still in ``<dataset>`` (model drift counts each scoring)."""
    if not moves:
        return f"SELECT * FROM {ds.name}"
    return (
        f"SELECT t.* FROM {ds.name} t LEFT JOIN (SELECT declaration_id, max(version) AS "
        f"_moved_to FROM {ds.name}_moves GROUP BY declaration_id) m "
        "ON m.declaration_id = t.declaration_id "
        "WHERE m._moved_to IS NULL OR m._moved_to <= t.version"
    )
