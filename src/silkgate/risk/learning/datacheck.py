"""Checks on training and evaluation files: every unreadable value is named, none is guessed.

A number column holding text, a date that does not parse, an outcome that is neither a
positive nor a negative value of the mapping, a row with fewer or more fields than the header,
a file with a header and no rows: each is a :class:`RowProblem` naming the line (CSV; the
header is line 1) or row (Parquet), the column and the value. A file with any problem is
refused as a whole with :class:`DataFileError`, listing the first problems and their count —
nothing is dropped or counted as 0 behind the user's back.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

#: problems listed in the error message (all are kept on the exception)
SHOWN = 10


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One unreadable value: where (``line`` in the file, ``column``), what and why."""

    line: int
    column: str | None
    value: str | None
    reason: str
    unit: str = "line"

    def __str__(self) -> str:
        where = f"{self.unit} {self.line}" if self.line > 0 else "file"
        col = f", column {self.column!r}" if self.column else ""
        val = f": {self.value!r}" if self.value is not None else ""
        return f"{where}{col}{val} {self.reason}" if val else f"{where}{col}: {self.reason}"


class DataFileError(ValueError):
    """A data file that cannot be used as it is; ``problems`` lists every finding."""

    def __init__(self, source: str, problems: list[RowProblem]) -> None:
        self.source = source
        self.problems = problems
        shown = "; ".join(str(p) for p in problems[:SHOWN])
        more = f" (and {len(problems) - SHOWN} more)" if len(problems) > SHOWN else ""
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"{source}: {count}: {shown}{more}")


def check_csv_shape(path: Path) -> tuple[list[RowProblem], list[int]]:
    """Rows whose field count differs from the header's, bytes that are not UTF-8, no rows;
    and the line on which each data row ends (what pandas numbers 0, 1, ...)."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return [RowProblem(line, None, None, f"is not UTF-8 text ({exc.reason})")], []
    problems: list[RowProblem] = []
    lines: list[int] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            return [RowProblem(0, None, None, "is empty (no header line)")], []
        width = len(header)
        for row in reader:
            if not row:  # a blank line, skipped by the reader too
                continue
            lines.append(reader.line_num)
            if len(row) != width:
                kind = "truncated row" if len(row) < width else "too many fields"
                problems.append(
                    RowProblem(
                        reader.line_num,
                        None,
                        None,
                        f"{kind}: {len(row)} fields, the header has {width}",
                    )
                )
    except csv.Error as exc:
        return [*problems, RowProblem(reader.line_num, None, None, f"is not CSV ({exc})")], []
    if not lines:
        problems.append(RowProblem(0, None, None, "has a header but no rows"))
    return problems, lines


def require_both_outcomes(labels: Sequence[float], source: str, purpose: str) -> None:
    """Refuse a file whose rows all have the same outcome (no model, no AUC can come of it)."""
    values = {float(v) for v in labels if v == v}
    if len(values) < 2:
        what = (
            "has no rows with an outcome"
            if not values
            else f"has only rows with outcome {'discrepancy' if values == {1.0} else 'none'}"
        )
        raise DataFileError(
            source, [RowProblem(0, None, None, f"{what}; {purpose} needs both outcomes")]
        )
