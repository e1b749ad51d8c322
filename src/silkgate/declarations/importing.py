"""Reading declaration files for import: every row is either read or reported, never dropped.

A line that is not UTF-8, a JSON line nested too deeply to read, or the point where a CSV file
stops being CSV becomes an ``Unreadable`` row naming the file and line; the rows around it are
still read. JSON that does not parse is passed on as text, so the lodging check reports it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from silkgate.core.errors import FieldError, ValidationFailed
from silkgate.core.validation import load_json
from silkgate.declarations import flatfile


class FileFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


@dataclass(frozen=True)
class Unreadable:
    """A row of a file that could not be read, with the reason."""

    row: int
    error: FieldError

    def report_row(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "lrn": None,
            "outcome": "rejected",
            "id": None,
            "errors": [self.error.as_dict()],
        }


Record = tuple[int, Any]  # (row number, declaration dict or the raw line)


def read_records(path: Path, fmt: FileFormat) -> tuple[list[Record], list[Unreadable]]:
    """The declarations of a file, each with its row number, and the rows that were unreadable."""
    raw = path.read_bytes()
    if fmt is FileFormat.CSV:
        return _read_csv(raw, path.name)
    return _read_jsonl(raw, path.name)


def _lines(raw: bytes, name: str) -> Iterator[tuple[int, str, Unreadable | None]]:
    """Physical lines as text (UTF-8, a leading BOM allowed), keeping their line ends; a line
    that is not UTF-8 comes with its report and with U+FFFD in place of the bad bytes."""
    for n, line in enumerate(io.BytesIO(raw), start=1):
        if n == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        try:
            yield n, line.decode("utf-8"), None
        except UnicodeDecodeError as exc:
            bad = FieldError(
                "",
                "encoding",
                f"{name} line {n} is not UTF-8: {exc.reason} at byte {exc.start + 1} "
                f"(0x{line[exc.start]:02x})",
            )
            yield n, line.decode("utf-8", errors="replace"), Unreadable(n, bad)


def _read_jsonl(raw: bytes, name: str) -> tuple[list[Record], list[Unreadable]]:
    records: list[Record] = []
    unreadable: list[Unreadable] = []
    for n, line, bad in _lines(raw, name):
        if bad is not None:
            unreadable.append(bad)
            continue
        if not line.strip(" \t\r\n"):
            continue
        if not line.strip():  # only separators or controls that Python counts as space
            unreadable.append(
                Unreadable(n, FieldError("", "malformed_json", f"{name} line {n} holds no JSON"))
            )
            continue
        try:
            parsed = load_json(line)  # the API's strict reader: repeated keys, NaN refused
        except ValidationFailed as exc:
            if any(e.code == "too_deep" for e in exc.errors):
                unreadable.append(
                    Unreadable(
                        n, FieldError(None, "too_deep", f"{name} line {n} is nested too deeply")
                    )
                )
            else:
                records.append((n, line))  # the lodging check names what is malformed
            continue
        records.append((n, _strip_meta(parsed) if isinstance(parsed, dict) else line))
    return records, unreadable


def _read_csv(raw: bytes, name: str) -> tuple[list[Record], list[Unreadable]]:
    bad: dict[int, Unreadable] = {}
    text: list[str] = []
    for n, line, unread in _lines(raw, name):
        text.append(line)  # a bad line keeps its place; its declaration is refused below
        if unread is not None:
            bad[n] = unread
    if 1 in bad:
        return [], [bad[1]]  # without a header no row can be read
    found: list[Record] = []
    unreadable: list[Unreadable] = []
    try:
        for start, declaration in flatfile.read_csv(io.StringIO("".join(text), newline="")):
            found.append((start, _strip_meta(declaration)))
    except ValidationFailed as exc:  # the file stops being CSV here: what came before is kept
        line = (exc.errors[0].field or "").rsplit("/", 1)[-1]
        row = int(line) if line.isdigit() else len(text)
        unreadable.append(Unreadable(row, exc.errors[0]))
    # A declaration spans the rows from its first row to the next declaration's first row.
    ends = [s for s, _ in found[1:]]
    if found:
        ends.append(len(text) + 1)
    records: list[Record] = []
    for (start, declaration), end in zip(found, ends, strict=True):
        inside = [n for n in bad if start <= n < end]
        if inside:
            unreadable.append(Unreadable(start, bad[inside[0]].error))
            for n in inside:
                bad.pop(n)
        else:
            records.append((start, declaration))
    unreadable += bad.values()  # unreadable lines outside any declaration
    return records, unreadable


def _strip_meta(d: dict[str, Any]) -> dict[str, Any]:
    """Drop export metadata (``_id``, ``_status`` …) so an export can be imported again."""
    return {k: v for k, v in d.items() if not k.startswith("_")}
