"""Compaction: each partition's many small files (one per export run) rewritten as one.

Every export adds a file to each partition it touches, so a lake exported hourly holds ~720
files per partition and month, and a reader pays per file opened. Compaction copies a
partition's rows unchanged (``export_run`` included, so the ``latest`` views decide exactly as
before) into one new file, commits a manifest listing it instead of the files it replaces, and
leaves those on disk: a job that listed them a moment earlier still reads them; the next export
or compaction sweeps them. Daily partitions of lakes written before the monthly layout
(``date=YYYY-MM-DD``) are folded into their month's partition the same way. A crash at any point
leaves the last committed manifest and its files as they were.
"""

from __future__ import annotations

import os
import secrets
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from silkgate.analytics import lake as lk
from silkgate.analytics import moves
from silkgate.analytics.datasets import DATASETS
from silkgate.analytics.schemas import CompactionReport, DatasetCompaction

#: Rows gathered before a row group is written (bounds memory; fewer groups read faster).
ROW_GROUP = 1_000_000


def compact(lake: Path, names: list[str], min_files: int) -> CompactionReport:
    """Compact every partition of ``names`` holding at least ``min_files`` files, and fold every
    legacy daily partition into its month, one dataset after another, under the export lock;
    first, write the supersession markers a lake exported before them lacks (``moves.py``)."""
    run = "compact-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + "-" + secrets.token_hex(3)
    began = time.perf_counter()
    with lk.locked(lake):
        lk.clear_staging(lake)
        done = []
        for name in names:  # markers first: a lake exported before them gets them, compacted
            marked = moves.backfill(lake, DATASETS[name], run + "-moves")
            done.append(compact_dataset(lake, name, run, min_files, fold_daily=True))
            done[-1].markers_written = marked
        lk.clear_staging(lake)
    return CompactionReport(
        lake=str(lake), run=run, datasets=done, seconds=round(time.perf_counter() - began, 3)
    )


def compact_dataset(
    lake: Path, name: str, run: str, min_files: int, fold_daily: bool = False
) -> DatasetCompaction:
    """One dataset (the caller holds the lake's lock): monthly partitions of ``min_files`` files
    or more, and with ``fold_daily`` the legacy daily ones."""
    manifest = lk.load_manifest(lake, name)
    swept = lk.sweep(lake, manifest)  # a crashed run's files, or files replaced last time
    report = DatasetCompaction(dataset=name, files_swept=len(swept))
    groups: dict[str, list[str]] = defaultdict(list)
    for part in manifest.partitions:
        groups[_target(part)].append(part)
    todo: dict[str, list[str]] = {}
    for target, parts in sorted(groups.items()):
        if not fold_daily:
            parts = [p for p in parts if p == target]
        if parts and (parts != [target] or _most_of_a_kind(manifest, target) >= min_files):
            todo[target] = parts
    if not todo:
        report.files_after = len(manifest.files())
        report.files_before = report.files_after
        return report
    report.files_before = len(manifest.files())
    staging = lake / lk.STAGING / run / name
    folder = lake / name
    ds = DATASETS[name]
    for n, (target, parts) in enumerate(todo.items()):
        entries = [(p, f) for p in parts for f in manifest.partitions[p]["files"]]
        files = []
        # rows and supersession markers (``moves.py``) each into a file of their own kind
        kinds = (("part-", lk.file_schema(ds)), (lk.MOVES_PREFIX, lk.moves_schema(ds)))
        for prefix, schema in kinds:
            kind = [(p, f) for p, f in entries if lk.is_moves(f["name"]) == (prefix != "part-")]
            if kind:
                files.append(_compact_files(folder, target, staging, kind, prefix, run, n, schema))
        for p in parts:
            del manifest.partitions[p]
        rows = sum(f["rows"] for f in files if not lk.is_moves(f["name"]))
        manifest.partitions[target] = {"rows": rows, "files": files}
        report.partitions_compacted += 1
        report.rows += rows
    # each target partition and its ancestors (a folded month can be a new directory)
    for directory in sorted(
        {folder} | {folder.joinpath(*t.split("/")[:i]) for t in todo for i in (1, 2, 3)}
    ):
        lk.fsync_dir(directory)
    manifest.runs.append(
        {
            "run": run,
            "finished_at": datetime.now(UTC).isoformat(),
            "compacted": report.partitions_compacted,
            "rows": report.rows,
            "files_before": report.files_before,
            "files_after": len(manifest.files()),
        }
    )
    lk.commit_manifest(lake, manifest, run)
    report.files_after = len(manifest.files())
    return report


def _most_of_a_kind(manifest: lk.Manifest, partition: str) -> int:
    """The partition's data files or its marker files, whichever are more (a compacted
    partition keeps one of each: that is not two files to compact)."""
    names = [f["name"] for f in manifest.partitions[partition]["files"]]
    moves = sum(lk.is_moves(n) for n in names)
    return max(moves, len(names) - moves)


def _compact_files(
    folder: Path,
    target: str,
    staging: Path,
    entries: list[tuple[str, dict[str, Any]]],
    prefix: str,
    run: str,
    n: int,
    schema: pa.Schema,
) -> dict[str, Any]:
    """``entries`` (partition, file) rewritten as one file moved into ``target``; its entry."""
    file = f"{prefix}{run}-{n}.parquet"
    rows = _rewrite([folder / p / f["name"] for p, f in entries], staging / file, schema)
    listed = sum(int(f["rows"]) for _, f in entries)
    if rows != listed:
        raise RuntimeError(
            f"{folder.name}/{target}: read {rows} rows from files the manifest says hold "
            f"{listed}; nothing was changed"
        )
    digest = lk.settle_file(staging / file)
    (folder / target).mkdir(parents=True, exist_ok=True)
    os.replace(staging / file, folder / target / file)
    return {"name": file, "rows": rows, "sha256": digest, "run": run}


def _target(partition: str) -> str:
    """The monthly partition a partition's files belong in (itself unless it is daily)."""
    keys: dict[str, Any] = dict(p.split("=", 1) for p in partition.split("/"))
    if "date" not in keys:
        return partition
    return (
        f"owner_country={keys['owner_country']}/crossing={keys['crossing']}/"
        f"month={keys['date'][:7]}"
    )


def _rewrite(sources: list[Path], out: Path, schema: pa.Schema) -> int:
    """Copy the rows of ``sources`` (oldest first, as listed) into one file; rows copied."""
    out.parent.mkdir(parents=True, exist_ok=True)
    rows, pending, held = 0, [], 0
    with pq.ParquetWriter(out, schema, compression="zstd") as writer:
        for path in sources:
            table = pq.read_table(path, schema=schema)
            pending.append(table)
            held += table.num_rows
            if held >= ROW_GROUP:
                writer.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP)
                rows, pending, held = rows + held, [], 0
        if pending:
            writer.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP)
            rows += held
    return rows
