"""`silkgate declarations import|export`: bulk files in JSON Lines or CSV."""

from __future__ import annotations

import csv
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.progress import Progress
from rich.table import Table

from silkgate.core.cli_support import console, err_console, platform_session
from silkgate.core.errors import ValidationFailed
from silkgate.core.validation import load_json
from silkgate.declarations import flatfile, reading, service
from silkgate.registry.service import caller_for

app = typer.Typer(help="Goods declarations: bulk import and export.", no_args_is_help=True)
CHUNK = 500


class FileFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


def _guess(path: Path, fmt: FileFormat | None) -> FileFormat:
    if fmt is not None:
        return fmt
    return FileFormat.CSV if path.suffix.lower() == ".csv" else FileFormat.JSONL


def _records(path: Path, fmt: FileFormat) -> list[tuple[int, Any]]:
    if fmt is FileFormat.CSV:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            return [(n, _strip_meta(d)) for n, d in flatfile.read_csv(fh)]
    out: list[tuple[int, Any]] = []
    with path.open("rb") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                parsed = load_json(line)  # the strict reader: repeated keys, NaN are refused
            except ValidationFailed:
                out.append((n, line))  # the service reports the malformed line
                continue
            out.append((n, _strip_meta(parsed) if isinstance(parsed, dict) else line))
    return out


def _strip_meta(d: dict[str, Any]) -> dict[str, Any]:
    """Drop export metadata (``_id``, ``_status`` …) so an export can be imported again."""
    return {k: v for k, v in d.items() if not k.startswith("_")}


@app.command("import")
def import_file(
    file: Path = typer.Argument(exists=True, dir_okay=False, readable=True),
    as_org: str = typer.Option(
        ..., "--as", help="Member id of the declarant, e.g. CN/COM/91650000…"
    ),
    fmt: FileFormat | None = typer.Option(
        None, "--format", help="Default: from the file extension"
    ),
    report: Path | None = typer.Option(None, help="Write the per-row report here (JSON Lines)"),
) -> None:
    """Lodge every declaration in FILE; each row is accepted or rejected on its own."""
    fmt = _guess(file, fmt)
    accepted = rejected = 0
    lines_out: list[dict[str, Any]] = []
    with platform_session() as platform:
        records = _records(file, fmt)  # a malformed file is refused here, naming the line
        caller = caller_for(platform, as_org)
        with Progress(console=err_console) as progress:
            task = progress.add_task(f"importing {file.name}", total=len(records))
            for i in range(0, len(records), CHUNK):
                chunk = records[i : i + CHUNK]
                result = service.create_batch(platform, caller, [r for _, r in chunk])
                for line in result.lines:
                    row_no = chunk[line.line - 1][0]
                    lines_out.append({"row": row_no, **line.model_dump(exclude={"line"})})
                accepted += result.accepted
                rejected += result.rejected
                progress.advance(task, len(chunk))
    if report is not None:
        with report.open("w") as fh:
            for row in lines_out:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    bad = [row for row in lines_out if row["outcome"] == "rejected"]
    if bad:
        table = Table("row", "lrn", "field", "reason", title="rejected rows")
        for row in bad[:50]:
            for e in row["errors"]:
                table.add_row(
                    str(row["row"]),
                    row["lrn"] or "-",
                    e.get("field", "(whole input)"),
                    e["message"],
                )
        console.print(table)
        if len(bad) > 50:
            console.print(f"… and {len(bad) - 50} more rejected rows (use --report)")
    console.print(f"{accepted} accepted, {rejected} rejected")
    if rejected:
        raise typer.Exit(1)


@app.command("export")
def export_file(
    output: Path | None = typer.Option(None, "--output", "-o", help="Default: standard output"),
    fmt: FileFormat = typer.Option(FileFormat.JSONL, "--format"),
    declarant: str | None = typer.Option(None, help="Only this declarant's declarations"),
) -> None:
    """Write current declarations (operator export: every declaration, or one declarant's)."""
    with platform_session() as platform:
        rows = reading.export_all(platform, declarant)
        fh = output.open("w", newline="", encoding="utf-8") if output else sys.stdout
        try:
            if fmt is FileFormat.JSONL:
                for d in rows:
                    fh.write(json.dumps(d, ensure_ascii=False) + "\n")
            else:
                flat = list(flatfile.to_rows(rows))
                columns: dict[str, None] = {}
                for r in flat:
                    columns.update(dict.fromkeys(r))
                writer = csv.DictWriter(fh, fieldnames=list(columns))
                writer.writeheader()
                writer.writerows(flat)
        finally:
            if output:
                fh.close()
