"""Waiting-area operations for the API, the CLI and gate events: check-in, gate-in, exit,
stage capacity, a truck's position and estimated call time."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from silkgate.audit.service import AuditEvent, append
from silkgate.core.errors import Forbidden, NotFound
from silkgate.core.platform import Platform
from silkgate.queue import callforward as cf
from silkgate.queue import service as svc
from silkgate.queue import states
from silkgate.queue.models import ACTIVE_STATUSES, Booking, Stage, WaitingTruck
from silkgate.queue.schemas import BookingStatus, QueuePosition, StageIn, StageOut
from silkgate.registry.service import Caller

S = BookingStatus
MOVES = {"check_in": cf.check_in, "gate_in": cf.gate_in, "exit": cf.leave}


def _official(caller: Caller, crossing: str, side: str) -> None:
    """Only the customs or e-port operator of the exit side at that crossing moves trucks."""
    if not (
        caller.has(*svc.OFFICIAL_ROLES) and crossing in caller.crossings and caller.country == side
    ):
        raise Forbidden(f"only the {side} customs or e-port operator at {crossing} may do this")


def move(
    platform: Platform, caller: Caller, booking_id: str, what: str, at: datetime | None
) -> QueuePosition:
    """Check a truck in, let it through the gate, or out of the stage (API and CLI)."""
    with platform.db.session() as s:
        b = s.get(Booking, booking_id, with_for_update=True)
        if b is None or not svc.visible(caller, b):
            raise NotFound(f"booking {booking_id}")
        _official(caller, b.crossing_code, b.exit_country)
        MOVES[what](s, platform, b, at or platform.clock(), caller.member_id)
        s.flush()
        return _position(s, platform, b)


def set_stage(platform: Platform, caller: Caller, body: StageIn) -> StageOut:
    """Set the stage's concurrent capacity (audited); more room calls trucks at once."""
    _official(caller, body.crossing, body.exit_country)
    route = (body.crossing, body.exit_country, body.entry_country)
    with platform.db.session() as s:
        stage = cf._stage(s, platform, route, platform.clock())
        before = stage.capacity
        stage.capacity, stage.set_by, stage.set_at = (
            body.capacity,
            caller.member_id,
            platform.clock(),
        )
        s.flush()
        append(
            s,
            platform.signer,
            [
                AuditEvent(
                    caller.member_id,
                    "queue.stage_capacity",
                    "queue_stage",
                    states.stage_key(*route),
                    {"from": before, "to": body.capacity},
                    state=states.stage_state(stage),
                )
            ],
        )
        called = cf.call_forward(s, platform, route, caller.member_id)
        return _stage_out(s, stage, route, called)


def call_next(
    platform: Platform, caller: Caller, route: cf.Route, limit: int | None = None
) -> StageOut:
    """Call the next waiting trucks forward now, while the stage has room (at most ``limit``),
    in the platform's interleave; each call audited with the caller (exit-side officials).
    Calls also happen by themselves after check-ins, exits and capacity changes; this one
    is the operator's own, e.g. after a stage was left with room and nobody waiting."""
    _official(caller, route[0], route[1])
    with platform.db.session() as s:
        stage = cf._stage(s, platform, route, platform.clock())
        called = cf.call_forward(s, platform, route, caller.member_id, limit)
        return _stage_out(s, stage, route, called)


def _stage_out(s: Session, stage: Stage, route: cf.Route, called: list[str]) -> StageOut:
    waiting = s.scalar(
        select(func.count())
        .select_from(WaitingTruck)
        .where(*cf._where(route), WaitingTruck.state == "waiting")
    )
    return StageOut(
        crossing=route[0],
        exit_country=route[1],
        entry_country=route[2],
        side=stage.side,
        capacity=stage.capacity,
        occupied=cf._occupied(s, route),
        waiting=waiting or 0,
        called=called,
    )


def _position(s: Session, platform: Platform, b: Booking) -> QueuePosition:
    now = platform.clock()
    route = cf._route_of(b)
    window = timedelta(minutes=platform.settings.queue_callforward_rate_minutes)
    recent = (
        s.scalar(
            select(func.count())
            .select_from(WaitingTruck)
            .where(*cf._where(route), WaitingTruck.called_at >= now - window)
        )
        or 0
    )
    per_hour = recent / (window.total_seconds() / 3600)
    w = s.get(WaitingTruck, b.id)
    out: dict[str, Any] = {
        "booking_id": b.id,
        "calls_per_hour": round(per_hour, 2),
        "position": None,
        "called_at": None,
        "estimated_call_at": None,
    }
    if w is None:
        return QueuePosition(state="not_checked_in", **out)
    if w.state != "waiting":
        return QueuePosition(state=w.state, **{**out, "called_at": w.called_at})
    stage = s.scalar(
        select(Stage).where(
            Stage.crossing_code == route[0],
            Stage.exit_country == route[1],
            Stage.entry_country == route[2],
            Stage.side == route[1],
        )
    )
    cursor = stage.cursor if stage is not None else 0
    queues = cf._queues(s, route)
    order, _ = cf.call_order(
        queues,
        cf.pattern(s, platform, route),
        cursor,
        sum(len(v) for v in queues.values()),
    )
    pos = next(i for i, t in enumerate(order, 1) if t.booking_id == b.id)
    eta = now + timedelta(hours=pos / per_hour) if per_hour > 0 else None
    return QueuePosition(state="waiting", **{**out, "position": pos, "estimated_call_at": eta})


# ---------------------------------------------------------------- gate events

GATE_MOVES = {"waiting_area": "check_in", "gate_in": "gate_in", "exit_gate": "exit"}


def on_gate_events(s: Session, platform: Platform, rows: list[dict[str, Any]]) -> None:
    """Move booked trucks on the exit side as their stored gate events say (same transaction).

    An event for a truck without an active booking, or that does not fit its state (late,
    repeated, out of order), changes nothing in the queue: the gate event itself is kept.
    """
    moving = [r for r in rows if r["read_point"] in GATE_MOVES and not r["corrects"]]
    booked = _booked_trucks(s, {r["truck"] for r in moving})  # one query, not one per event
    for r in sorted(moving, key=lambda r: r["event_time"]):
        if r["truck"] not in booked:
            continue
        what = GATE_MOVES[r["read_point"]]
        nationality, _, plate = r["truck"].partition(":")
        b = s.scalar(
            select(Booking)
            .where(
                Booking.tractor_nationality == nationality,
                Booking.tractor_plate == plate,
                Booking.crossing_code == r["crossing_code"],
                Booking.exit_country == r["side"],
                Booking.status.in_((*ACTIVE_STATUSES, S.NO_SHOW.value)),
            )
            .with_for_update()
        )
        if b is None or not _fits(s, b, what):
            continue
        MOVES[what](s, platform, b, r["event_time"], r["reporter"])


def _booked_trucks(s: Session, trucks: set[str]) -> set[str]:
    """Of ``trucks`` ("KZ:123ABC02"), those with a booking a gate event may move."""
    out: set[str] = set()
    plates = sorted({t.partition(":")[2] for t in trucks})
    for i in range(0, len(plates), 500):
        rows = s.execute(
            select(Booking.tractor_nationality, Booking.tractor_plate).where(
                Booking.tractor_plate.in_(plates[i : i + 500]),
                Booking.status.in_((*ACTIVE_STATUSES, S.NO_SHOW.value)),
            )
        )
        out.update(f"{n}:{p}" for n, p in rows)
    return out & trucks


def _fits(s: Session, b: Booking, what: str) -> bool:
    w = s.get(WaitingTruck, b.id)
    if what == "check_in":
        return w is None and b.status in (S.CONFIRMED.value, S.NO_SHOW.value)
    if what == "gate_in":
        return w is not None and w.state in ("waiting", "called")
    return w is not None and w.state != "left"
