"""Shapes of an export: what was asked, and the report of what was written or refused; and of
the lake's verification against the database."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class Watermark(BaseModel):
    """The highest change cursor exported: marker (UTC, ISO 8601) then the key parts."""

    marker: str
    key: list[str | int]


class RejectedRow(BaseModel):
    """A row that could not be exported, named by its key, with the column and the reason."""

    dataset: str
    key: str
    column: str | None = None
    reason: str


class DatasetReport(BaseModel):
    dataset: str
    rows: int = 0
    rejected: int = 0
    held_back: int = Field(
        0, description="Rows changed after the horizon, left for the next run (not lost)."
    )
    partitions_written: int = Field(0, description="Partitions given new rows by this run.")
    partitions_unchanged: int = Field(
        0, description="Partitions this run added no file to (neither rows nor markers)."
    )
    files_written: int = Field(
        0, description="Files this run added: row files and supersession-marker files."
    )
    markers_written: int = Field(
        0,
        description="Records whose older version, in another partition, was marked superseded "
        "(so a run that cannot read the newer version does not count the older one); in the "
        "first export into a dataset written before markers existed, its earlier records too.",
    )
    partitions_compacted: int = Field(
        0, description="Partitions rewritten as one file after this export (see compaction)."
    )
    watermark_before: Watermark | None = None
    watermark: Watermark | None = None
    seconds: float = 0.0
    rows_per_second: float = 0.0


class ExportReport(BaseModel):
    lake: str
    run: str
    horizon: dt.datetime | None = Field(
        None, description="Rows whose change marker lies after this were left for a later run."
    )
    datasets: list[DatasetReport]
    rejected: list[RejectedRow] = Field(
        default_factory=list, description="Named rejected rows (the first 1,000 of this run)."
    )
    rejected_total: int = 0
    rows: int = 0
    seconds: float = 0.0
    rows_per_second: float = 0.0


class DatasetCompaction(BaseModel):
    """What compaction did to one dataset's partitions."""

    dataset: str
    partitions_compacted: int = 0
    rows: int = Field(0, description="Rows copied into the new files (none is changed or lost).")
    files_before: int = 0
    files_after: int = 0
    files_swept: int = Field(
        0,
        description="Unlisted files deleted first (replaced by an earlier compaction, or left "
        "by a crashed run).",
    )
    markers_written: int = Field(
        0,
        description="Supersession markers a lake exported before them lacked, written first "
        "(see the export's markers_written).",
    )


class CompactionReport(BaseModel):
    lake: str
    run: str
    datasets: list[DatasetCompaction]
    seconds: float = 0.0


class MissingRow(BaseModel):
    """A database row the lake should hold and does not, and that no export reported."""

    dataset: str
    key: dict[str, str | int | None]
    marker: str | None = Field(
        None, description="The change marker as stored (ISO 8601 when it reads as a timestamp)."
    )
    reason: str


class DatasetVerification(BaseModel):
    """One dataset's rows by what became of them (``rows`` is the sum of the four)."""

    dataset: str
    rows: int = 0
    in_lake: int = Field(0, description="The lake holds the row's key with its change marker.")
    pending: int = Field(0, description="Changed after the watermark: the next export reads it.")
    rejected: int = Field(
        0, description="Not in the lake, and named among the manifest's rejected rows."
    )
    missing: int = Field(
        0, description="None of those: the export passed over it and never said so."
    )
    missing_rows: list[MissingRow] = Field(
        default_factory=list, description="The first 20 missing rows, by change marker."
    )
    watermark: Watermark | None = None
    seconds: float = 0.0


class VerifyReport(BaseModel):
    lake: str
    ok: bool = Field(description="No row is missing in any dataset verified.")
    datasets: list[DatasetVerification]
    rows: int = 0
    missing: int = 0
    seconds: float = 0.0
