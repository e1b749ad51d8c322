"""Writing generated rows into the lake exactly as the export lays it out: the lake's file
schema per dataset, Hive partitions, one new file per partition and chunk, a manifest per
dataset committed last (``lake.Manifest``, ``lake.settle_file``, ``lake.commit_manifest``).

Tables are built **from the lake's schema**: a column the schema has and the generator does not
produce, a column it produces that the schema lacks, or a type that differs, stops the run.
Columns agreed for datasets but not yet in ``datasets.DATASETS`` (``CONTRACT``) are added to the
expected schema until they land there; ``gate_event_refs`` likewise.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from silkgate.analytics import lake as lk
from silkgate.analytics import moves
from silkgate.analytics.datasets import DATASETS, DATE, STR, TS
from silkgate.analytics.generator_tables import Columns, Part
from silkgate.analytics.schemas import Watermark

#: Columns agreed with the lake's schema owner (issue 10) and generated before they land there.
CONTRACT: dict[str, tuple[tuple[str, pa.DataType], ...]] = {
    "declarations": (("trader_ref", STR), ("declarant_role", STR)),
    "goods_items": (("trader_ref", STR),),
}
#: The gate-event references dataset as agreed: one row per declaration or booking an event
#: names, partitioned like its event (its crossing and side are kept as columns, as the
#: export's ``gate_event_refs`` on branch h-lake has them); key (event_id, ref_type, ref).
REFS = "gate_event_refs"
REFS_COLUMNS = (
    ("record_time", TS),
    ("event_id", STR),
    ("ref_type", STR),
    ("ref", STR),
    ("event_time", TS),
    ("crossing_code", STR),
    ("side", STR),
)
REFS_CURSOR = ("record_time", "event_id", "ref_type", "ref")
#: Columns worth a Parquet dictionary (few distinct values); ids and numbers are not.
PLAIN = {
    "event_id",
    "declaration_id",
    "booking_id",
    "corrects",
    "ref",
    "lrn",
    "truck_ref",
    "trader_ref",
    "score",
    "assessment_id",
    "inspection_id",
}


class SchemaMismatch(Exception):
    """The generator's columns do not match the lake's schema (named in the message)."""


@dataclass(frozen=True)
class Target:
    """A dataset the generator writes: the file schema, its change cursor, and which of its
    columns the generator assumed (not in ``DATASETS`` yet)."""

    name: str
    schema: pa.Schema
    cursor: tuple[str, ...]
    assumed: tuple[str, ...]


def targets() -> dict[str, Target]:
    out = {}
    for name, ds in DATASETS.items():
        schema = lk.file_schema(ds)
        missing = [(c, t) for c, t in CONTRACT.get(name, ()) if c not in schema.names]
        for i, (col, typ) in enumerate(missing):
            schema = schema.insert(len(ds.columns) + i, pa.field(col, typ))
        out[name] = Target(name, schema, ds.cursor, tuple(c for c, _ in missing))
    if REFS not in DATASETS:
        fields = [
            *REFS_COLUMNS,
            ("owner_country", STR),
            ("crossing", STR),
            ("date", DATE),
            ("export_run", STR),
        ]
        out[REFS] = Target(REFS, pa.schema(fields), REFS_CURSOR, tuple(c for c, _ in REFS_COLUMNS))
    return out


def table_for(
    target: Target, columns: Columns, owner: pa.Array, crossing: pa.Array, day: pa.Array, run: str
) -> pa.Table:
    """The rows in the target's schema, column by column; any difference is an error."""
    given = {
        **columns,
        "owner_country": owner,
        "crossing": crossing,
        "date": day,
        "export_run": pa.repeat(run, len(owner)).cast(pa.string()),
    }
    extra = sorted(set(given) - set(target.schema.names))
    if extra:
        raise SchemaMismatch(
            f"{target.name}: generated column(s) {extra} are not in the lake's schema"
        )
    arrays = []
    for f in target.schema:
        if f.name not in given:
            raise SchemaMismatch(f"{target.name}: the lake's column {f.name!r} is not generated")
        a = given[f.name]
        if a.type != f.type:
            raise SchemaMismatch(
                f"{target.name}.{f.name}: generated {a.type}, the lake has {f.type}"
            )
        arrays.append(a)
    return pa.Table.from_arrays(arrays, schema=target.schema)


class LakeWriter:
    """Partitioned files written on worker threads while the next month is simulated."""

    def __init__(
        self, lake: Path, run: str, codes: list[str], countries: tuple[str, ...], threads: int = 4
    ) -> None:
        self.lake, self.run, self.codes, self.countries = lake, run, codes, countries
        self.targets = targets()
        self.pool = ThreadPoolExecutor(threads)
        self.batches: list[list[Future[tuple[str, str, str, int, str, int]]]] = []
        self.count: dict[str, int] = {}
        self.top: dict[str, tuple[Any, ...]] = {}
        self.rows: dict[str, int] = {n: 0 for n in self.targets}
        self.files: dict[str, list[tuple[str, str, int, str]]] = {n: [] for n in self.targets}
        self.bytes: dict[str, int] = {n: 0 for n in self.targets}

    def add(self, data: dict[str, tuple[Columns, Part]]) -> None:
        """One chunk of every dataset: checked, split by partition, queued for writing."""
        if set(data) != set(self.targets):
            raise SchemaMismatch(
                f"generated datasets {sorted(data)}, the lake's {sorted(self.targets)}"
            )
        batch = []
        for name, (columns, part) in data.items():
            owner = pa.DictionaryArray.from_arrays(
                pa.array(part.owner.astype(np.int32)), pa.array(self.countries)
            ).cast(STR)
            crossing = pa.DictionaryArray.from_arrays(
                pa.array(part.crossing.astype(np.int32)), pa.array(self.codes)
            ).cast(STR)
            table = table_for(
                self.targets[name],
                columns,
                owner,
                crossing,
                pa.array(part.day, pa.date32()),
                self.run,
            )
            self._watermark(name, table)
            month = np.asarray(part.day, dtype="datetime64[D]").astype("datetime64[M]")
            key = (
                part.owner.astype(np.int64) * len(self.codes) + part.crossing
            ) * 1_000_000 + month.astype(np.int64)
            if len(key) > 1 and not (key[1:] >= key[:-1]).all():
                order = np.argsort(key, kind="stable")
                table, key = table.take(pa.array(order)), key[order]
            bounds = np.flatnonzero(np.diff(key)) + 1
            starts = np.concatenate([[0], bounds]).astype(np.int64)
            ends = np.concatenate([bounds, [len(key)]]).astype(np.int64)
            for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
                if b == a:
                    continue
                k = int(key[a])
                oc = k // 1_000_000
                partition = lk.partition_key(
                    self.countries[oc // len(self.codes)],
                    self.codes[oc % len(self.codes)],
                    lk.month_name(k % 1_000_000),
                )
                n = self.count.get(name, 0)
                self.count[name] = n + 1
                batch.append(
                    self.pool.submit(
                        self._write,
                        name,
                        partition,
                        f"part-{self.run}-{n}.parquet",
                        table.slice(a, b - a),
                    )
                )
            self.rows[name] += table.num_rows
        self.batches.append(batch)

    def settle(self, keep: int) -> None:
        """Wait until at most ``keep`` chunks are still being written (bounds memory)."""
        while len(self.batches) > keep:
            self._collect(self.batches.pop(0))

    def _collect(self, batch: list[Future[tuple[str, str, str, int, str, int]]]) -> None:
        wait(batch)
        for f in batch:
            name, partition, file, rows, digest, size = f.result()
            self.files[name].append((partition, file, rows, digest))
            self.bytes[name] += size

    def _write(
        self, name: str, partition: str, file: str, table: pa.Table
    ) -> tuple[str, str, str, int, str, int]:
        path = self.lake / name / partition / file
        path.parent.mkdir(parents=True, exist_ok=True)
        dictionary = (
            [c for c in table.column_names if c not in PLAIN and table.schema.field(c).type == STR]
            if table.num_rows >= 2000
            else False
        )
        pq.write_table(table, path, compression="zstd", use_dictionary=dictionary)
        digest = lk.settle_file(path)
        return name, partition, file, table.num_rows, digest, path.stat().st_size

    def _watermark(self, name: str, table: pa.Table) -> None:
        cursor = self.targets[name].cursor
        if not table.num_rows:
            return
        top_marker = pc.max(table[cursor[0]])
        best = table.filter(pc.equal(table[cursor[0]], top_marker))
        best = best.sort_by([(c, "descending") for c in cursor]).slice(0, 1)
        row = tuple(best[c][0].as_py() for c in cursor)
        if name not in self.top or row > self.top[name]:
            self.top[name] = row

    def commit(self, info: dict[str, Any]) -> None:
        """Wait for every file, then commit each dataset's manifest (the data becomes visible)."""
        self.settle(0)
        self.pool.shutdown()
        for name in self.targets:
            manifest = lk.Manifest(name)
            for partition, file, rows, digest in sorted(self.files[name]):
                entry = manifest.partitions.setdefault(partition, {"rows": 0, "files": []})
                entry["files"].append(
                    {"name": file, "rows": rows, "sha256": digest, "run": self.run}
                )
                entry["rows"] += rows
            top = self.top.get(name)
            if top is not None:
                marker = top[0].astimezone(dt.UTC).isoformat()
                manifest.watermark = Watermark(marker=marker, key=list(top[1:]))
            manifest.runs.append(
                {
                    "run": self.run,
                    "finished_at": dt.datetime.now(dt.UTC).isoformat(),
                    "rows": self.rows[name],
                    "rejected": 0,
                    "files": len(self.files[name]),
                    "horizon": None,
                    "watermark": manifest.watermark.model_dump() if manifest.watermark else None,
                    "generated": info,
                }
            )
            lk.commit_manifest(self.lake, manifest, self.run)
            # an amended declaration's versions can lie in two partitions: mark them, as an
            # export would have
            moves.backfill(self.lake, DATASETS[name], self.run, in_last_run=True)

    def abort(self) -> None:
        self.pool.shutdown(cancel_futures=True)


def has_manifests(lake: Path) -> list[str]:
    """Datasets of the lake that already have a manifest."""
    return [n for n in targets() if (lake / n / lk.MANIFEST).exists()]
