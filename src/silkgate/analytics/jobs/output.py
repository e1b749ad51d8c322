"""A job run's result as files: CSV (UTF-8, header), Parquet, or the JSON ``JobRun`` document.

Every writer takes a ``service.Result`` (cells already suppressed). JSON and CSV hold the same
values: dates and times as ISO 8601, a missing value as JSON ``null`` / an empty CSV field (a
non-finite float, which JSON cannot hold, likewise). Parquet keeps the Arrow types and carries
the run's description (without rows) in the file's metadata under ``silkgate.job_run``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import os
import uuid
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from silkgate.analytics.jobs.schemas import JobRun

if TYPE_CHECKING:
    import pyarrow as pa

    from silkgate.analytics.jobs.service import Result

FORMATS = ("csv", "parquet", "json")
EXTENSIONS = {".csv": "csv", ".parquet": "parquet", ".json": "json"}
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
    "json": "application/json",
}
PARQUET_METADATA_KEY = b"silkgate.job_run"


def json_value(v: Any) -> Any:
    """A cell as JSON holds it: dates/times ISO 8601, decimals as floats, NaN/inf as null."""
    if isinstance(v, dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, dt.timedelta):
        return v.total_seconds()
    if isinstance(v, Decimal):
        v = float(v)
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, bytes):
        return v.hex()
    return v


def rows_of(table: pa.Table) -> list[dict[str, Any]]:
    return [{k: json_value(v) for k, v in row.items()} for row in table.to_pylist()]


def document(result: Result) -> JobRun:
    """The run's description with its rows filled in (the service leaves ``rows`` empty)."""
    return result.run.model_copy(update={"rows": rows_of(result.table)})


def to_json(result: Result) -> bytes:
    return document(result).model_dump_json(indent=1).encode() + b"\n"


def to_csv(result: Result) -> bytes:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    table = result.table
    writer.writerow(table.column_names)
    for row in rows_of(table):
        writer.writerow(["" if v is None else v for v in row.values()])
    return buf.getvalue().encode("utf-8")


def to_parquet(result: Result) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    about = result.run.model_dump_json(exclude={"rows"}).encode()
    table = result.table.replace_schema_metadata(
        {**(result.table.schema.metadata or {}), PARQUET_METADATA_KEY: about}
    )
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return bytes(sink.getvalue().to_pybytes())


def render(result: Result, fmt: str) -> bytes:
    """The result in ``fmt`` (one of ``FORMATS``)."""
    writers = {"csv": to_csv, "parquet": to_parquet, "json": to_json}
    return writers[fmt](result)


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` in one rename: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with tmp.open("xb") as f:  # created with the user's umask, like any file they write
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write(result: Result, fmt: str, path: Path) -> None:
    write_atomically(path, render(result, fmt))


def cell_text(v: Any) -> str:
    """A cell as people read it in a table: thousands separated, a few decimals, '' for none."""
    v = json_value(v)
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:,.2f}" if abs(v) >= 1 else f"{v:.4g}"
    return str(v)
