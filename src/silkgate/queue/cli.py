"""`silkgate queue caps set|list`, `silkgate queue book|cancel|reschedule|list|sweep`,
the waiting area (`check-in`, `walk-in`, `gate-in`, `exit`, `stage`, `position`)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from silkgate.core.cli_support import console, platform_session
from silkgate.core.validation import parse_json, parse_model
from silkgate.exchange.agreements.options import PlaceOpt, PurposeOpt, asking_for
from silkgate.queue import noshow, reading, service, waiting, walkin
from silkgate.queue.schemas import ArrivalIn, BookingIn, CapIn, SlotRef, StageIn, WalkInIn
from silkgate.registry.service import caller_for

app = typer.Typer(help="Truck e-queue: caps, bookings, no-show sweep.", no_args_is_help=True)
caps_app = typer.Typer(help="Daily caps per crossing, direction and side.", no_args_is_help=True)
app.add_typer(caps_app, name="caps")


def _quotas(values: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for v in values:
        name, _, share = v.partition("=")
        try:
            out[name] = float(share)
        except ValueError:
            raise typer.BadParameter(
                f"--quota {v}: expected CLASS=SHARE, e.g. perishables=0.1"
            ) from None
    return out


@caps_app.command("set")
def caps_set(
    as_org: str = typer.Option(..., "--as", help="Member id of the customs or e-port operator"),
    crossing: str = typer.Option(..., help="e.g. KHG-NZH"),
    direction: str = typer.Option(..., help="EXIT-ENTRY, e.g. CN-KZ"),
    valid_from: str = typer.Option(..., "--from", help="First day, YYYY-MM-DD"),
    cap: int = typer.Option(..., help="Trucks per day this side accepts"),
    quota: list[str] = typer.Option([], help="CLASS=SHARE, repeatable"),
    live: float = typer.Option(0.0, help="Live (walk-in) share"),
    profile: Path | None = typer.Option(None, help="JSON file with 24 hourly weights"),
) -> None:
    """Store this side's next cap version; prints days re-planned and displaced bookings."""
    exit_c, _, entry_c = direction.partition("-")
    data = {
        "crossing": crossing,
        "exit_country": exit_c,
        "entry_country": entry_c,
        "valid_from": valid_from,
        "daily_cap": cap,
        "quotas": _quotas(quota),
        "live_share": live,
        "hourly_profile": json.loads(profile.read_text()) if profile else None,
    }
    with platform_session() as platform:
        body = parse_model(CapIn, data)
        change = service.set_cap(platform, caller_for(platform, as_org), body)
    console.print(
        f"cap {change.cap.id}: {change.cap.side} version {change.cap.version}, "
        f"{change.cap.daily_cap}/day from {change.cap.valid_from}; "
        f"re-planned {len(change.replanned_days)} day(s), "
        f"displaced {len(change.displaced_bookings)}"
    )
    for b in change.displaced_bookings:
        console.print(f"  displaced {b}")


@caps_app.command("list")
def caps_list(crossing: str | None = typer.Option(None)) -> None:
    """Every cap version."""
    with platform_session() as platform:
        caps = service.list_caps(platform, crossing)
    table = Table("id", "crossing", "direction", "side", "version", "from", "cap", "quotas", "live")
    for c in caps:
        table.add_row(
            str(c.id),
            c.crossing_code,
            f"{c.exit_country}→{c.entry_country}",
            c.side,
            str(c.version),
            c.valid_from.isoformat(),
            str(c.daily_cap),
            json.dumps(c.quotas),
            f"{c.live_share:g}",
        )
    console.print(table)


@app.command("book")
def book(
    file: Path = typer.Argument(exists=True, dir_okay=False, help="BookingIn JSON"),
    as_org: str = typer.Option(..., "--as"),
) -> None:
    """Book a slot from a JSON file (same shape as POST /api/v1/queue/bookings)."""
    with platform_session() as platform:
        body = parse_json(BookingIn, file.read_bytes())
        out = service.book(platform, caller_for(platform, as_org), body)
    console.print(
        f"booked {out.id}: {out.crossing} {out.day} {out.hour:02d}:00 ({out.quota_class})"
    )


@app.command("cancel")
def cancel(
    booking_id: str, as_org: str = typer.Option(..., "--as"), reason: str = typer.Option(...)
) -> None:
    """Cancel a booking (the slot goes back, the deposit is released)."""
    with platform_session() as platform:
        out = service.cancel(platform, caller_for(platform, as_org), booking_id, reason)
    console.print(f"{out.id}: {out.status}")


@app.command("reschedule")
def reschedule(
    booking_id: str,
    as_org: str = typer.Option(..., "--as"),
    day: str = typer.Option(..., help="YYYY-MM-DD (crossing local day)"),
    hour: int = typer.Option(..., help="0-23 (crossing local hour)"),
) -> None:
    """Move a booking to another hour (crossing, truck and driver stay)."""
    with platform_session() as platform:
        ref = parse_model(SlotRef, {"day": day, "hour": hour})
        out = service.reschedule(platform, caller_for(platform, as_org), booking_id, ref)
    console.print(f"{out.id}: {out.day} {out.hour:02d}:00, reschedules {out.reschedules}")


@app.command("list")
def list_(
    as_org: str = typer.Option(..., "--as"),
    crossing: str | None = typer.Option(None),
    day: str | None = typer.Option(None),
    status: str | None = typer.Option(None),
    limit: int = typer.Option(100, min=1, max=500),
    purpose: PurposeOpt = None,
    place: PlaceOpt = None,
    as_json: bool = typer.Option(False, "--json", help="JSON Lines, one booking a line"),
) -> None:
    """Bookings this organization may see, newest first (--purpose for other organizations')."""
    with platform_session() as platform:
        when = parse_model(SlotRef, {"day": day, "hour": 0}).day if day else None
        who = asking_for(platform, as_org, purpose, place)
        items, _ = reading.list_bookings(platform, who, crossing, when, status, None, limit)
    if as_json:
        for b in items:
            print(b.model_dump_json(exclude_unset=True))
        return
    table = Table("id", "crossing", "slot", "class", "status", "tractor", "organization")
    for b in items:
        truck = b.truck or {}
        table.add_row(
            b.id,
            b.crossing,
            f"{b.day} {b.hour:02d}:00" if b.day is not None and b.hour is not None else "",
            b.quota_class,
            b.status,
            f"{truck.get('tractor_nationality', '')} {truck.get('tractor_plate', '')}".strip(),
            b.organization,
        )
    console.print(table)


@app.command("sweep")
def sweep() -> None:
    """Mark no-shows after the grace window, expire bookings of withdrawn declarations."""
    with platform_session() as platform:
        report = noshow.sweep(platform, actor="cli:sweep")
    console.print(
        f"{len(report.no_shows)} no-show(s), {len(report.forfeited)} deposit(s) forfeited, "
        f"{len(report.expired)} expired"
    )


@app.command("stage")
def stage(
    as_org: str = typer.Option(..., "--as", help="Member id of the exit-side customs or e-port"),
    crossing: str = typer.Option(..., help="e.g. KHG-NZH"),
    direction: str = typer.Option(..., help="EXIT-ENTRY, e.g. CN-KZ"),
    capacity: int = typer.Option(..., help="Trucks the border stage holds at once"),
) -> None:
    """Set the border stage's concurrent capacity; trucks are called if it has room."""
    exit_c, _, entry_c = direction.partition("-")
    with platform_session() as platform:
        body = parse_model(
            StageIn,
            {
                "crossing": crossing,
                "exit_country": exit_c,
                "entry_country": entry_c,
                "capacity": capacity,
            },
        )
        out = waiting.set_stage(platform, caller_for(platform, as_org), body)
    console.print(
        f"{out.crossing} {out.exit_country}-{out.entry_country}: capacity {out.capacity}, "
        f"occupied {out.occupied}, waiting {out.waiting}, called {', '.join(out.called) or '-'}"
    )


def _move(what: str, booking_id: str, as_org: str, at: str | None) -> None:
    with platform_session() as platform:
        when = parse_model(ArrivalIn, {"at": at}).at if at else None
        out = waiting.move(platform, caller_for(platform, as_org), booking_id, what, when)
    console.print(
        f"{out.booking_id}: {out.state}" + (f", position {out.position}" if out.position else "")
    )


@app.command("check-in")
def check_in(
    booking_id: str,
    as_org: str = typer.Option(..., "--as"),
    at: str | None = typer.Option(None, help="ISO time with offset; default now"),
) -> None:
    """The truck is in the waiting area (as a waiting-area gate event would say)."""
    _move("check_in", booking_id, as_org, at)


@app.command("walk-in")
def walk_in(
    as_org: str = typer.Option(..., "--as", help="Member id of the exit-side customs or e-port"),
    crossing: str = typer.Option(..., help="e.g. KHG-NZH"),
    direction: str = typer.Option(..., help="EXIT-ENTRY, e.g. CN-KZ"),
    truck: str = typer.Option(..., help="Tractor NATIONALITY:PLATE, e.g. KZ:123ABC02"),
    trailer: str | None = typer.Option(None, help="Trailer NATIONALITY:PLATE"),
    vin: str | None = typer.Option(None, help="Tractor VIN, if read"),
    declaration: list[str] = typer.Option([], help="Declaration id, repeatable"),
    at: str | None = typer.Option(None, help="ISO time with offset; default now"),
) -> None:
    """A truck without a booking is in the waiting area: it joins the live share."""
    exit_c, _, entry_c = direction.partition("-")
    nat, _, plate = truck.partition(":")
    vehicle: dict[str, str | None] = {
        "tractor_nationality": nat,
        "tractor_plate": plate,
        "vin": vin,
    }
    if trailer:
        vehicle["trailer_nationality"], _, vehicle["trailer_plate"] = trailer.partition(":")
    data = {
        "crossing": crossing,
        "exit_country": exit_c,
        "entry_country": entry_c,
        "truck": vehicle,
        "declaration_ids": declaration,
        "at": at,
    }
    with platform_session() as platform:
        body = parse_model(WalkInIn, data)
        out = walkin.register(platform, caller_for(platform, as_org), body)
    p = out.position
    console.print(
        f"walk-in {out.booking.id}: {p.state}"
        + (f", position {p.position}" if p.position else "")
        + (f"; called {', '.join(out.called)}" if out.called else "")
    )


@app.command("gate-in")
def gate_in(
    booking_id: str,
    as_org: str = typer.Option(..., "--as"),
    at: str | None = typer.Option(None, help="ISO time with offset; default now"),
) -> None:
    """The truck passed the gate into the border stage."""
    _move("gate_in", booking_id, as_org, at)


@app.command("exit")
def exit_(
    booking_id: str,
    as_org: str = typer.Option(..., "--as"),
    at: str | None = typer.Option(None, help="ISO time with offset; default now"),
) -> None:
    """The truck left the border stage; the next trucks are called forward."""
    _move("exit", booking_id, as_org, at)


@app.command("position")
def position(
    booking_id: str,
    as_org: str = typer.Option(..., "--as"),
    purpose: PurposeOpt = None,
    place: PlaceOpt = None,
) -> None:
    """A truck's position in the waiting area and its estimated call time."""
    with platform_session() as platform:
        out = reading.position(platform, asking_for(platform, as_org, purpose, place), booking_id)
    console.print_json(out.model_dump_json())
