"""`silkgate declarations import|export|transition|show|list`: bulk files in JSON Lines or
CSV, customs moving a declaration along, and reads as an organization (with --purpose)."""

from __future__ import annotations

import csv
import json
import logging
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from silkgate.core.cli_support import console, err_console, platform_session
from silkgate.core.errors import FieldError, SilkgateError
from silkgate.core.platform import Platform
from silkgate.declarations import flatfile, importing, reading, service
from silkgate.declarations.importing import FileFormat, Record
from silkgate.declarations.schemas import DeclarationOut
from silkgate.exchange.agreements.options import PlaceOpt, PurposeOpt
from silkgate.registry.service import Caller, caller_for

app = typer.Typer(help="Goods declarations: bulk import and export.", no_args_is_help=True)
CHUNK = 500
log = logging.getLogger("silkgate.declarations")


def _guess(path: Path, fmt: FileFormat | None) -> FileFormat:
    if fmt is not None:
        return fmt
    return FileFormat.CSV if path.suffix.lower() == ".csv" else FileFormat.JSONL


class _Report:
    """The per-row report, written as rows are settled so an interrupted import still has one."""

    def __init__(self, path: Path | None) -> None:
        self.fh = path.open("w", encoding="utf-8") if path is not None else None
        self.rows: list[dict[str, Any]] = []

    def add(self, rows: list[dict[str, Any]]) -> None:
        self.rows += rows
        if self.fh is not None:
            for row in rows:
                self.fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            self.fh.flush()

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()


def _not_stored(chunk: list[Record], code: str, message: str) -> list[dict[str, Any]]:
    error = FieldError("", code, message).as_dict()
    return [
        {"row": n, "lrn": None, "outcome": "rejected", "id": None, "errors": [error]}
        for n, _ in chunk
    ]


def _import_chunk(platform: Platform, caller: Caller, chunk: list[Record]) -> list[dict[str, Any]]:
    try:
        result = service.create_batch(platform, caller, [r for _, r in chunk])
    except SilkgateError as exc:  # e.g. the database was busy: nothing of this chunk stored
        return _not_stored(chunk, exc.type_slug, exc.detail or exc.title)
    except Exception as exc:  # the rows are reported and the import goes on with the next chunk
        log.exception("import chunk failed")
        return _not_stored(chunk, "not_stored", f"nothing stored: {type(exc).__name__}: {exc}")
    return [
        {"row": chunk[line.line - 1][0], **line.model_dump(exclude={"line"})}
        for line in result.lines
    ]


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
    """Lodge every declaration in FILE; each row is accepted or rejected on its own.

    Unreadable rows (not UTF-8, nested too deeply, where a CSV file breaks) are rejected rows
    of the report. The report is written as the import goes, so Ctrl-C keeps what was done.
    """
    fmt = _guess(file, fmt)
    out = _Report(report)
    done = 0
    total = 0
    interrupted = False
    try:
        with platform_session() as platform:
            caller = caller_for(platform, as_org)
            records, unreadable = importing.read_records(file, fmt)
            total = len(records) + len(unreadable)
            out.add([u.report_row() for u in unreadable])
            done = len(unreadable)
            with Progress(console=err_console) as progress:
                task = progress.add_task(f"importing {file.name}", total=total)
                progress.advance(task, done)
                for i in range(0, len(records), CHUNK):
                    chunk = records[i : i + CHUNK]
                    out.add(_import_chunk(platform, caller, chunk))
                    done += len(chunk)
                    progress.advance(task, len(chunk))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        out.close()
    _summarise(out.rows)
    if interrupted:
        console.print(
            f"interrupted: {total - done} of {total} rows not attempted"
            + (f"; the report {report} lists the rows settled" if report else ""),
            markup=False,
        )
        raise typer.Exit(130)
    if any(row["outcome"] == "rejected" for row in out.rows):
        raise typer.Exit(1)


def _summarise(rows: list[dict[str, Any]]) -> None:
    bad = sorted((r for r in rows if r["outcome"] == "rejected"), key=lambda r: r["row"])
    if bad:
        table = Table("row", "lrn", "field", "code", "reason", title="rejected rows")
        for row in bad[:50]:
            for e in row["errors"]:
                table.add_row(
                    str(row["row"]),
                    escape(row["lrn"] or "-"),
                    escape(e.get("field") or "(whole input)"),
                    escape(e["code"]),
                    escape(e["message"]),
                )
        console.print(table)
        if len(bad) > 50:
            console.print(f"… and {len(bad) - 50} more rejected rows (use --report)")
    accepted = sum(1 for r in rows if r["outcome"] == "accepted")
    console.print(f"{accepted} accepted, {len(rows) - accepted} rejected")


@app.command("export")
def export_file(
    output: Path | None = typer.Option(None, "--output", "-o", help="Default: standard output"),
    fmt: FileFormat = typer.Option(FileFormat.JSONL, "--format"),
    declarant: str | None = typer.Option(None, help="Only this declarant's declarations"),
    as_member: str | None = typer.Option(
        None, "--as", help="Export what this organization may read (through its agreements)"
    ),
    purpose: PurposeOpt = None,
    place: PlaceOpt = None,
) -> None:
    """Write current declarations: the operator's export (every declaration, or one
    declarant's), or with --as what that organization may read, decided as its reads are."""
    from silkgate.exchange.agreements.options import asking_for

    with platform_session() as platform:
        if as_member is None:
            rows: Iterable[dict[str, Any]] = reading.export_all(platform, declarant)
        else:
            who = asking_for(platform, as_member, purpose, place)
            rows = reading.export_for(platform, who, declarant)
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


@app.command("transition")
def transition(
    declaration_id: str,
    as_member: str = typer.Option(..., "--as", help="Member id of the customs organization"),
    to: str = typer.Option(..., help="at_border, released, held or rejected"),
    reason: str | None = typer.Option(None, help="Why (shown in the audit trail)"),
    purpose: PurposeOpt = None,
    place: PlaceOpt = None,
) -> None:
    """Customs moves a declaration along its lifecycle (as POST …/transitions; audited; read
    for --purpose, by default customs_control)."""
    from silkgate.core.validation import parse_model
    from silkgate.declarations.schemas import TransitionIn
    from silkgate.exchange.agreements.options import asking_for

    with platform_session() as platform:
        body = parse_model(TransitionIn, {"to": to, "reason": reason})
        who = asking_for(platform, as_member, purpose, place)
        out = service.transition(platform, who, declaration_id, body.to, body.reason)
    console.print(f"{out.id}: {out.status}")


@app.command("show")
def show(
    declaration_id: str,
    as_member: str = typer.Option(..., "--as", help="Member id of the organization reading"),
    purpose: PurposeOpt = None,
    place: PlaceOpt = None,
) -> None:
    """Print a declaration as JSON, as the organization may read it (as GET …/{id}): whole for
    its declarant and the lodging customs, else what agreements allow for --purpose."""
    from silkgate.exchange.agreements.options import asking_for

    with platform_session() as platform:
        out = reading.get(platform, asking_for(platform, as_member, purpose, place), declaration_id)
    print(out.model_dump_json(indent=1, exclude_unset=True))


@app.command("list")
def list_cmd(
    as_member: str = typer.Option(..., "--as", help="Member id of the organization reading"),
    purpose: PurposeOpt = None,
    place: PlaceOpt = None,
    status: str | None = typer.Option(None, help="Only this status"),
    crossing: str | None = typer.Option(None, help="Only this crossing"),
    limit: int = typer.Option(50, min=1, max=500),
    as_json: bool = typer.Option(False, "--json", help="JSON Lines, one declaration a line"),
) -> None:
    """Declarations the organization may read, newest first (as GET /declarations)."""
    from silkgate.exchange.agreements.options import asking_for

    with platform_session() as platform:
        who = asking_for(platform, as_member, purpose, place)
        f = reading.ListFilter(status=status, crossing=crossing)
        page = reading.list_declarations(platform, who, f, None, limit)
    if as_json:
        for d in page.items:
            print(d.model_dump_json(exclude_unset=True))
        return
    table = Table("id", "lrn", "type", "status", "crossing", "declarant", "view")
    for d in page.items:
        table.add_row(
            escape(d.id or "-"),
            escape(d.lrn or "-"),
            d.type or "-",
            d.status or "-",
            d.crossing or "-",
            escape(d.declarant or "-"),
            "pre-arrival"
            if d.pre_arrival
            else ("full" if isinstance(d, DeclarationOut) else "shared"),
        )
    console.print(table)
