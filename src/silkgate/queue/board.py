"""The operator's board of a crossing: both sides' waiting areas and border stages, and each
direction's caps in force, for the customs and e-port operators of that crossing.

Counts (waiting, called, in the stage) are shown for both sides; the trucks themselves only for
the caller's own side (the exit side of the trucks queueing there: the queue it runs, whose
bookings it reads whole, see ``queue.reading``). The other side's trucks stay with that side.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from silkgate.codelists.crossings import get_crossing
from silkgate.core.errors import NotFound
from silkgate.core.platform import Platform
from silkgate.queue import planning
from silkgate.queue import service as svc
from silkgate.queue.models import Booking, CapacityCap, Stage, WaitingTruck
from silkgate.registry.service import Caller

Route = tuple[str, str, str]
STATES = ("waiting", "called", "in_stage")


@dataclass(frozen=True)
class BoardTruck:
    """One truck in a waiting area or stage (own side only)."""

    booking_id: str
    plate: str
    nationality: str
    cf_class: str
    booked: bool
    state: str
    arrived_at: datetime
    called_at: datetime | None


@dataclass(frozen=True)
class SideBoard:
    """One direction: the exit side's waiting area and stage."""

    crossing: str
    exit_country: str
    entry_country: str
    own: bool  # the caller runs this side (it may move these trucks and set this stage)
    capacity: int
    counts: dict[str, int]
    trucks: list[BoardTruck] = field(default_factory=list)


@dataclass(frozen=True)
class CapView:
    """A direction's newest cap version of each side, and the cap binding ``day``."""

    crossing: str
    exit_country: str
    entry_country: str
    own_side: str
    latest: dict[str, CapacityCap]  # side → newest version (any valid_from)
    binding: int | None  # the lower side's cap in force on ``day``; None unless both set one
    stage_capacity: int | None  # the stage behind the waiting area, when the caller runs it


def served(caller: Caller, crossing: str) -> dict[str, str]:
    """The crossing's sides; NotFound unless the caller is an official serving it (the same
    answer as an unknown crossing, so another organization learns nothing)."""
    if not caller.has(*svc.OFFICIAL_ROLES) or crossing not in caller.crossings:
        raise NotFound(f"crossing {crossing}")
    try:
        c = get_crossing(crossing)
    except KeyError:
        raise NotFound(f"crossing {crossing}") from None
    a, b = c.countries
    return {a: b, b: a}


def routes(crossing: str, sides: dict[str, str]) -> list[Route]:
    return [(crossing, exit_c, entry_c) for exit_c, entry_c in sides.items()]


def _capacity(s: Session, platform: Platform, route: Route) -> int:
    """The stage's capacity (the default until an official first sets it or a truck is called)."""
    cap = s.scalar(
        select(Stage.capacity).where(
            Stage.crossing_code == route[0],
            Stage.exit_country == route[1],
            Stage.entry_country == route[2],
            Stage.side == route[1],
        )
    )
    return platform.settings.queue_stage_capacity if cap is None else cap


def stage_capacity(platform: Platform, caller: Caller, route: Route) -> int:
    """A stage's capacity, for the officials of its crossing (no row is made by reading)."""
    served(caller, route[0])
    with platform.db.session() as s:
        return _capacity(s, platform, route)


def board(platform: Platform, caller: Caller, crossing: str) -> list[SideBoard]:
    """Both directions' waiting areas: counts per state, and the own side's trucks."""
    sides = served(caller, crossing)
    out = []
    with platform.db.session() as s:
        for route in routes(crossing, sides):
            where = (
                WaitingTruck.crossing_code == route[0],
                WaitingTruck.exit_country == route[1],
                WaitingTruck.entry_country == route[2],
            )
            counts = {k: 0 for k in STATES}
            counts.update(
                s.execute(
                    select(WaitingTruck.state, func.count())
                    .where(*where, WaitingTruck.state.in_(STATES))
                    .group_by(WaitingTruck.state)
                ).all()
            )
            own = caller.country == route[1]
            trucks = _trucks(s, where) if own else []
            out.append(SideBoard(*route, own, _capacity(s, platform, route), dict(counts), trucks))
    return out


def _trucks(s: Session, where: tuple[object, ...]) -> list[BoardTruck]:
    rows = s.execute(
        select(WaitingTruck, Booking.tractor_plate, Booking.tractor_nationality)
        .join(Booking, Booking.id == WaitingTruck.booking_id)
        .where(*where, WaitingTruck.state.in_(STATES))  # type: ignore[arg-type]
        .order_by(WaitingTruck.state, WaitingTruck.arrived_at, WaitingTruck.booking_id)
    ).all()
    return [
        BoardTruck(
            w.booking_id,
            plate,
            nationality,
            w.cf_class,
            w.booked,
            w.state,
            svc.utc(w.arrived_at),
            svc.utc(w.called_at) if w.called_at else None,
        )
        for w, plate, nationality in rows
    ]


def caps(platform: Platform, caller: Caller, crossing: str, day: dt.date) -> list[CapView]:
    """Each direction's newest cap of both sides and the binding cap of ``day``."""
    sides = served(caller, crossing)
    out = []
    with platform.db.session() as s:
        for route in routes(crossing, sides):
            rows = s.scalars(
                select(CapacityCap)
                .where(
                    CapacityCap.crossing_code == route[0],
                    CapacityCap.exit_country == route[1],
                    CapacityCap.entry_country == route[2],
                )
                .order_by(CapacityCap.version)
            )
            latest = {r.side: r for r in rows}
            for r in latest.values():
                s.expunge(r)
            binding = planning.binding_cap(s, *route, day)
            own_stage = caller.country == route[1]
            out.append(
                CapView(
                    *route,
                    own_side=caller.country,
                    latest=latest,
                    binding=binding.daily_cap if binding else None,
                    stage_capacity=_capacity(s, platform, route) if own_stage else None,
                )
            )
    return out
