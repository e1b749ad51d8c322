"""`silkgate gates …` (ingest, export, timeline) and `silkgate kpi …` (TRS figures)."""

from __future__ import annotations

import csv
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from silkgate.core.cli_support import console, err_console, platform_session
from silkgate.core.times import as_utc
from silkgate.exchange.agreements.options import PlaceOpt, PurposeOpt

app = typer.Typer(help="Gate events of the checkpoints on both sides.", no_args_is_help=True)
kpi_app = typer.Typer(help="Time Release Study figures from gate events.", no_args_is_help=True)

AsMember = Annotated[str, typer.Option("--as", help="Member id of the reporting organization.")]
Crossing = Annotated[str, typer.Option("--crossing", help="Crossing code.")]
Start = Annotated[datetime | None, typer.Option("--from", help="Events from (ISO 8601, UTC).")]
End = Annotated[datetime | None, typer.Option("--to", help="Events before (ISO 8601, UTC).")]
Fmt = Annotated[str, typer.Option("--format", help="json or csv.")]
SlotStart = Annotated[datetime | None, typer.Option("--from", help="Slots from (ISO 8601, UTC).")]
SlotEnd = Annotated[datetime | None, typer.Option("--to", help="Slots before (ISO 8601, UTC).")]


def _utc(t: datetime | None) -> datetime | None:
    """--from/--to carry no offset (typer's parser): they are UTC, as the API's are stored."""
    return None if t is None else as_utc(t)


@app.command("ingest")
def ingest(file: Path, as_member: AsMember, report: Path | None = None) -> None:
    """Ingest a JSON Lines file of signed events; per-line report (stdout or --report)."""
    from silkgate.gates import service
    from silkgate.registry import service as registry

    with platform_session() as platform:
        caller = registry.caller_for(platform, as_member)
        rep = service.ingest_lines(platform, caller, file.read_bytes().splitlines())
    text = rep.model_dump_json(indent=1)
    if report:
        report.write_text(text)
    else:
        print(text)
    err_console.print(f"stored {rep.stored}, replayed {rep.replayed}, rejected {rep.rejected}")
    if rep.rejected:
        raise typer.Exit(1)


@app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", "-o")],
    crossing: Crossing = "KHG-NZH",
    for_calibration: Annotated[bool, typer.Option("--for-calibration")] = False,
    start: Start = None,
    end: End = None,
) -> None:
    """Write the CSV `silkgate twin calibrate` reads (stage, truck, start, end)."""
    from silkgate.gates import reports

    if not for_calibration:
        err_console.print("only --for-calibration is available")
        raise typer.Exit(2)
    with platform_session() as platform:
        done = reports.export_for_calibration(platform, crossing, out, _utc(start), _utc(end))
    console.print(
        f"{done.records} stage records of {done.passages} passages written to {done.path}"
    )


@app.command("timeline")
def timeline_cmd(
    as_member: AsMember,
    declaration: Annotated[str | None, typer.Option()] = None,
    truck: Annotated[str | None, typer.Option(help="NATIONALITY:PLATE")] = None,
    purpose: PurposeOpt = None,
    place: PlaceOpt = None,
) -> None:
    """Print the consignment timeline of a declaration or truck as JSON."""
    from silkgate.exchange.agreements.options import asking_for
    from silkgate.gates import timeline

    with platform_session() as platform:
        caller = asking_for(platform, as_member, purpose, place)
        if declaration:
            tl = timeline.declaration_timeline(platform, caller, declaration)
        elif truck and ":" in truck:
            nat, plate = truck.split(":", 1)
            tl = timeline.truck_timeline(platform, caller, nat, plate)
        else:
            err_console.print("give --declaration ID or --truck NATIONALITY:PLATE")
            raise typer.Exit(2)
    print(tl.model_dump_json(indent=1))


def _emit(rows: list[dict[str, Any]] | dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(rows, default=str, indent=1))
        return
    table = rows if isinstance(rows, list) else []
    if not table:
        return
    w = csv.DictWriter(sys.stdout, fieldnames=list(table[0]))
    w.writeheader()
    w.writerows(table)


@kpi_app.command("trs")
def kpi_trs(
    as_member: AsMember,
    crossing: Crossing = "KHG-NZH",
    start: Start = None,
    end: End = None,
    target_hours: Annotated[float | None, typer.Option()] = None,
    fmt: Fmt = "json",
) -> None:
    """Arrival-to-release and per-interval times: mean, median, p90, share within target."""
    from silkgate.gates import reports
    from silkgate.registry import service as registry

    with platform_session() as platform:
        caller = registry.caller_for(platform, as_member)
        span = (_utc(start), _utc(end), target_hours)
        if fmt == "json":  # the figures an agreement allows, or all
            _emit(reports.trs_answer(platform, caller, crossing, *span), fmt)
            return
        rep = reports.trs_report(platform, caller, crossing, *span)
    _emit(rep.rows(), fmt)


@kpi_app.command("throughput")
def kpi_throughput(
    as_member: AsMember,
    crossing: Crossing = "KHG-NZH",
    start: Start = None,
    end: End = None,
    fmt: Fmt = "json",
) -> None:
    """Trucks per crossing day exiting / released per side, beside the binding daily cap."""
    from silkgate.gates import reports
    from silkgate.registry import service as registry

    with platform_session() as platform:
        caller = registry.caller_for(platform, as_member)
        _emit(reports.throughput_report(platform, caller, crossing, _utc(start), _utc(end)), fmt)


@kpi_app.command("queue-length")
def kpi_queue(
    as_member: AsMember,
    crossing: Crossing = "KHG-NZH",
    start: Start = None,
    end: End = None,
    fmt: Fmt = "json",
) -> None:
    """Trucks in the waiting area, hour by hour."""
    from silkgate.gates import reports
    from silkgate.registry import service as registry

    with platform_session() as platform:
        caller = registry.caller_for(platform, as_member)
        _emit(reports.queue_report(platform, caller, crossing, _utc(start), _utc(end)), fmt)


@kpi_app.command("no-shows")
def kpi_no_shows(
    as_member: AsMember,
    crossing: Crossing = "KHG-NZH",
    start: SlotStart = None,
    end: SlotEnd = None,
    fmt: Fmt = "json",
) -> None:
    """E-queue no-show rate per slot day and direction: no-shows / bookings due."""
    from silkgate.gates import reports
    from silkgate.registry import service as registry

    with platform_session() as platform:
        caller = registry.caller_for(platform, as_member)
        _emit(reports.no_show_report(platform, caller, crossing, _utc(start), _utc(end)), fmt)
