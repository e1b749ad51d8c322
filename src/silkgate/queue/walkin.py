"""Walk-in trucks: a truck at the waiting area without a booking joins the live queue.

The customs or e-port operator of the exit side registers it (plates, nationality, optionally
the VIN and declarations). It takes a place of the day's live share of the cap — its arrival
hour's if one is free, else the nearest hour of that day with one (earlier first on a tie) —
and becomes a ``live`` queue entry: a booking row of quota class ``live``, status ``arrived``,
owned by the registering official's organization, so gate-in, exit, position, gate events
and call-forward treat it like any checked-in truck. One transaction, audited
(``queue.walk_in``); then trucks are called forward if the stage has room.
"""

from __future__ import annotations

import datetime as dt
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from silkgate.audit.service import append
from silkgate.core.errors import Conflict, FieldError, ValidationFailed
from silkgate.core.platform import Platform
from silkgate.core.times import as_utc
from silkgate.declarations.models import Declaration
from silkgate.queue import callforward as cf
from silkgate.queue import planning, waiting
from silkgate.queue import service as svc
from silkgate.queue.checks import _norm
from silkgate.queue.models import (
    ACTIVE_STATUSES,
    BookedDeclaration,
    Booking,
    Slot,
    WaitingTruck,
)
from silkgate.queue.schemas import BookingStatus, QuotaClass, WalkInIn, WalkInOut
from silkgate.registry.service import Caller

#: Declarations a walk-in may not carry: withdrawn, refused or already through.
DEAD_DECLARATION = ("cancelled", "rejected", "released")
#: How far back an official may date a walk-in's arrival.
MAX_BACKDATE = timedelta(hours=24)


def register(platform: Platform, caller: Caller, body: WalkInIn) -> WalkInOut:
    """Check in a truck that has no booking into the live share; refusals name the field."""
    errors = svc._route_errors(body.crossing, body.exit_country, body.entry_country)
    if errors:
        raise ValidationFailed(errors)
    waiting._official(caller, body.crossing, body.exit_country)
    now = platform.clock()
    at = as_utc(body.at) if body.at else now
    if at > now + timedelta(seconds=platform.settings.gate_max_clock_skew):
        raise ValidationFailed([FieldError("/at", "in_future", "arrival is in the future")])
    if at < now - MAX_BACKDATE:
        raise ValidationFailed(
            [FieldError("/at", "too_old", "a walk-in is registered within 24 h of arrival")]
        )
    offset = platform.settings.queue_utc_offset_hours
    local = at.astimezone(dt.timezone(timedelta(hours=offset)))
    route = (body.crossing, body.exit_country, body.entry_country)
    try:
        with platform.db.session() as s:
            errors = _declaration_errors(s, body)
            if errors:
                raise ValidationFailed(errors)
            clash = _clashes(s, body)
            if clash:
                raise Conflict("the truck or a declaration is already in the e-queue", clash)
            if not planning.ensure_planned(s, *route, local.date(), offset, now):
                raise Conflict(
                    "no capacity agreed for this day",
                    [FieldError(None, "no_capacity", "both sides need a cap in force today")],
                )
            slot = _take_live_place(s, route, local.date(), local.hour)
            b = _walk_in_row(caller, body, slot, now)
            s.add(b)
            s.flush()
            s.add_all(
                BookedDeclaration(booking_id=b.id, declaration_id=d, active=True)
                for d in body.declaration_ids
            )
            s.add(
                WaitingTruck(
                    booking_id=b.id,
                    organization_id=b.organization_id,
                    crossing_code=b.crossing_code,
                    exit_country=b.exit_country,
                    entry_country=b.entry_country,
                    cf_class="live",
                    booked=False,
                    slot_start=at,
                    arrived_at=at,
                    state="waiting",
                )
            )
            s.flush()
            event = svc._event(
                caller.member_id, "queue.walk_in", b, {"at": at.isoformat(), "hour": slot.hour}
            )
            made = svc.published(s, platform, [b], now, event="made")
            append(s, platform.signer, [event, *made])
            called = cf.call_forward(s, platform, route, caller.member_id)
            s.flush()
            return WalkInOut(
                booking=svc.booking_out(platform, caller, b),
                position=waiting._position(s, platform, b),
                called=called,
            )
    except IntegrityError as exc:  # a concurrent booking or walk-in took the plate first
        raise svc.integrity_conflict(exc) from None


def _declaration_errors(s: Session, body: WalkInIn) -> list[FieldError]:
    """Each declaration must be live, on this crossing and direction, for this tractor."""
    ids = body.declaration_ids
    errors: list[FieldError] = []
    if len(set(ids)) != len(ids):
        errors.append(FieldError("/declaration_ids", "duplicate", "a declaration is listed twice"))
    rows = {d.id: d for d in s.scalars(select(Declaration).where(Declaration.id.in_(ids)))}
    for i, decl_id in enumerate(ids):
        where = f"/declaration_ids/{i}"
        d = rows.get(decl_id)
        if d is None or d.crossing_code != body.crossing:
            # the same answer for both: declarations of other crossings stay undisclosed
            errors.append(FieldError(where, "unknown", "no such declaration at this crossing"))
            continue
        if (d.exit_country, d.entry_country) != (body.exit_country, body.entry_country):
            errors.append(
                FieldError(
                    where, "direction_mismatch", f"declared {d.exit_country}→{d.entry_country}"
                )
            )
        if d.status in DEAD_DECLARATION:
            errors.append(FieldError(where, "not_active", f"declaration is {d.status}"))
        transport = d.payload.get("transport") or {}
        if (_norm(transport.get("tractor_plate")), transport.get("tractor_nationality")) != (
            _norm(body.truck.tractor_plate),
            body.truck.tractor_nationality,
        ):
            errors.append(
                FieldError(where, "vehicle_mismatch", "the declaration names another tractor")
            )
    return errors


def _clashes(s: Session, body: WalkInIn) -> list[FieldError]:
    """The plate (or VIN, or a declaration) already holds an active booking or queue place."""
    t = body.truck
    same_plate = and_(
        Booking.tractor_plate == t.tractor_plate,
        Booking.tractor_nationality == t.tractor_nationality,
    )
    cond = or_(same_plate, Booking.vin == t.vin) if t.vin else same_plate
    out: list[FieldError] = []
    for b in s.scalars(select(Booking).where(Booking.status.in_(ACTIVE_STATUSES), cond)):
        w = s.get(WaitingTruck, b.id)
        queued = w is not None and w.state != "left"
        code, msg = (
            ("in_queue", "this truck is already in the waiting-area queue")
            if queued
            else ("already_booked", "this truck has an active booking: check that booking in")
        )
        field = (
            "/truck/tractor_plate"
            if (b.tractor_plate, b.tractor_nationality) == (t.tractor_plate, t.tractor_nationality)
            else "/truck/vin"
        )
        out.append(FieldError(field, code, msg))
    if body.declaration_ids:
        booked = set(
            s.scalars(
                select(BookedDeclaration.declaration_id).where(
                    BookedDeclaration.active.is_(True),
                    BookedDeclaration.declaration_id.in_(body.declaration_ids),
                )
            )
        )
        out += [
            FieldError(f"/declaration_ids/{i}", "already_booked", "moved by another booking")
            for i, d in enumerate(body.declaration_ids)
            if d in booked
        ]
    return out


def _take_live_place(s: Session, route: cf.Route, day: dt.date, hour: int) -> Slot:
    """Take a place of the day's live share: the arrival hour, else the nearest hour."""
    slots = list(
        s.scalars(
            select(Slot).where(
                Slot.crossing_code == route[0],
                Slot.exit_country == route[1],
                Slot.entry_country == route[2],
                Slot.day == day,
                Slot.quota_class == QuotaClass.LIVE.value,
                Slot.capacity > 0,
            )
        )
    )
    for slot in sorted(slots, key=lambda r: (abs(r.hour - hour), r.hour)):
        taken = s.execute(
            update(Slot)
            .where(Slot.id == slot.id, Slot.booked < Slot.capacity)
            .values(booked=Slot.booked + 1)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            return slot
    raise Conflict(
        "the live share of today's cap is used up",
        [
            FieldError(
                None,
                "live_share_full",
                f"no walk-in place left on {day.isoformat()}; book a slot instead",
            )
        ],
    )


def _walk_in_row(caller: Caller, body: WalkInIn, slot: Slot, now: datetime) -> Booking:
    t = body.truck
    return Booking(
        id=svc.new_booking_id(),
        organization_id=caller.id,
        organization=caller.member_id,
        crossing_code=body.crossing,
        exit_country=body.exit_country,
        entry_country=body.entry_country,
        slot_id=slot.id,
        day=slot.day,
        hour=slot.hour,
        starts_at=slot.starts_at,
        quota_class=QuotaClass.LIVE.value,
        evidence={},
        tractor_plate=t.tractor_plate,
        tractor_nationality=t.tractor_nationality,
        trailer_plate=t.trailer_plate,
        trailer_nationality=t.trailer_nationality,
        vin=t.vin,
        driver={},
        declaration_ids=list(body.declaration_ids),
        status=BookingStatus.ARRIVED.value,
        reschedules=0,
        displaced=False,
        no_show_at=None,
        created_at=now,
        updated_at=now,
    )
