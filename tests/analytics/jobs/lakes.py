"""Hand-made lakes for job tests: rows written straight to Parquet with manifests (a column not
given is null). Partitions are daily (``date=``), the layout lakes had before the monthly one the
export writes now: readers take a partition's owner and crossing from its path and nothing else,
so the job tests also show that older lakes stay readable."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from silkgate.analytics import lake as lk
from silkgate.analytics.datasets import DATASETS

RUN = "20260101T000000Z-test"


def write_lake(root: Path, rows: dict[str, list[dict[str, Any]]]) -> Path:
    """Write each dataset's rows, one file per partition; rows need owner_country, crossing
    and date (a date or YYYY-MM-DD)."""
    for name, records in rows.items():
        ds = DATASETS[name]
        schema = lk.file_schema(ds)
        manifest = lk.Manifest(name)
        by_part: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in records:
            day = r["date"] if isinstance(r["date"], dt.date) else dt.date.fromisoformat(r["date"])
            full = {c: r.get(c) for c in schema.names} | {"date": day, "export_run": RUN}
            unknown = set(r) - set(schema.names)
            assert not unknown, f"{name} has no column {unknown}"
            key = f"owner_country={r['owner_country']}/crossing={r['crossing']}/date={day}"
            by_part[key].append(full)
        for key, part in sorted(by_part.items()):
            folder = root / name / key
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"part-{RUN}-0.parquet"
            pq.write_table(pa.Table.from_pylist(part, schema=schema), path)
            manifest.partitions[key] = {
                "rows": len(part),
                "files": [
                    {
                        "name": path.name,
                        "rows": len(part),
                        "sha256": lk.settle_file(path),
                        "run": RUN,
                    }
                ],
            }
        lk.commit_manifest(root, manifest, RUN)
    return root
