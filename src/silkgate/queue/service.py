"""E-queue operations: caps, booking, cancel, reschedule, reading; every change audited.

A booking takes its slot with one conditional UPDATE (``booked = booked + 1 WHERE booked <
capacity``) in the same transaction as the booking row, so a slot is never sold twice or
lost; partial unique indexes keep one active booking per plate, per VIN and per declaration.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from silkgate.audit.service import AuditEvent, append
from silkgate.codelists.crossings import get_crossing
from silkgate.core.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    SilkgateError,
    ValidationFailed,
)
from silkgate.core.platform import Platform
from silkgate.core.writes import WriteContext, current_person, current_write
from silkgate.declarations.models import Declaration
from silkgate.queue import checks, planning, states
from silkgate.queue.models import (
    ACTIVE_STATUSES,
    BookedDeclaration,
    Booking,
    CapacityCap,
    DepositEntry,
    Notification,
    Slot,
)
from silkgate.queue.schemas import (
    BookingIn,
    BookingOut,
    BookingStatus,
    CapChange,
    CapIn,
    CapOut,
    SlotRef,
)
from silkgate.registry.schemas import Role
from silkgate.registry.service import Caller

BOOKING_ROLES = (Role.CARRIER, Role.BROKER, Role.CUSTOMS_SERVICE)
OFFICIAL_ROLES = (Role.CUSTOMS, Role.E_PORT)


def new_booking_id() -> str:
    """Time-ordered id: 12 hex digits of milliseconds then 10 random hex digits."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(5)}"


def utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _route_errors(crossing: str, exit_c: str, entry_c: str) -> list[FieldError]:
    try:
        c = get_crossing(crossing)
    except KeyError:
        return [FieldError("/crossing", "unknown_crossing", f"no crossing {crossing}")]
    if {exit_c, entry_c} != set(c.countries) or exit_c == entry_c:
        return [
            FieldError(
                "/exit_country",
                "direction_mismatch",
                f"{crossing} joins {' and '.join(c.countries)}",
            )
        ]
    return []


# ---------------------------------------------------------------- caps


def set_cap(platform: Platform, caller: Caller, body: CapIn) -> CapChange:
    """Store the caller's side's next cap version and re-plan the days it changes."""
    errors = _route_errors(body.crossing, body.exit_country, body.entry_country)
    if errors:
        raise ValidationFailed(errors)
    if not caller.has(*OFFICIAL_ROLES) or body.crossing not in caller.crossings:
        raise Forbidden("only customs or the e-port operator of this crossing set its caps")
    now = platform.clock()
    offset = platform.settings.queue_utc_offset_hours
    with platform.db.session() as s:
        last = s.scalar(
            select(CapacityCap.version)
            .where(
                CapacityCap.crossing_code == body.crossing,
                CapacityCap.exit_country == body.exit_country,
                CapacityCap.entry_country == body.entry_country,
                CapacityCap.side == caller.country,
            )
            .order_by(CapacityCap.version.desc())
            .limit(1)
        )
        cap = CapacityCap(
            crossing_code=body.crossing,
            exit_country=body.exit_country,
            entry_country=body.entry_country,
            side=caller.country,
            version=(last or 0) + 1,
            valid_from=body.valid_from,
            daily_cap=body.daily_cap,
            hourly_profile=body.hourly_profile,
            quotas={k.value: v for k, v in body.quotas.items()},
            live_share=body.live_share,
            set_by=caller.member_id,
            set_at=now,
        )
        s.add(cap)
        s.flush()
        _FULL.clear()  # capacities may have grown
        days, displaced = planning.replan(
            s, body.crossing, body.exit_country, body.entry_country, body.valid_from, now, offset
        )
        events = [
            AuditEvent(
                caller.member_id,
                "queue.cap_set",
                "queue_cap",
                str(cap.id),
                {**body.model_dump(mode="json"), "side": caller.country, "version": cap.version},
                state=states.cap_state(cap),
            )
        ]
        if displaced:
            moved = [s.get(Booking, i) for i in displaced]  # loaded by replan: no query
            events += published(s, platform, [b for b in moved if b is not None], now)
            note = Notification(
                kind="cap_change",
                crossing_code=body.crossing,
                booking_ids=displaced,
                detail={"cap_id": cap.id, "days": [d.isoformat() for d in days]},
                created_at=now,
            )
            s.add(note)
            s.flush()
            events.append(
                AuditEvent(
                    "platform",
                    "queue.bookings_displaced",
                    "queue_notification",
                    str(note.id),
                    {"cap_id": cap.id, "bookings": displaced},
                    state=states.notification_state(note),
                )
            )
        append(s, platform.signer, events)
        return CapChange(
            cap=CapOut.model_validate(cap), replanned_days=days, displaced_bookings=displaced
        )


def list_caps(platform: Platform, crossing: str | None = None) -> list[CapOut]:
    with platform.db.session() as s:
        stmt = select(CapacityCap).order_by(
            CapacityCap.crossing_code,
            CapacityCap.exit_country,
            CapacityCap.side,
            CapacityCap.version,
        )
        if crossing:
            stmt = stmt.where(CapacityCap.crossing_code == crossing)
        return [CapOut.model_validate(c) for c in s.scalars(stmt)]


# ---------------------------------------------------------------- booking


def local_today(platform: Platform, now: datetime) -> dt.date:
    offset = dt.timezone(timedelta(hours=platform.settings.queue_utc_offset_hours))
    return now.astimezone(offset).date()


def _slot_time(platform: Platform, ref: SlotRef, now: datetime, field: str) -> datetime:
    """UTC start of the slot; refuses a slot in the past or beyond the booking horizon."""
    starts = planning.slot_start(ref.day, ref.hour, platform.settings.queue_utc_offset_hours)
    if starts <= now:
        raise ValidationFailed([FieldError(f"{field}/hour", "in_past", "this slot has begun")])
    horizon = platform.settings.queue_booking_horizon_days
    if ref.day > local_today(platform, now) + timedelta(days=horizon):
        raise ValidationFailed(
            [FieldError(f"{field}/day", "beyond_horizon", f"bookable up to {horizon} days ahead")]
        )
    return starts


def _slot_row(s: Session, b: BookingIn | Booking, ref: SlotRef, cls: str) -> Slot | None:
    crossing = b.crossing if isinstance(b, BookingIn) else b.crossing_code
    return s.scalar(
        select(Slot).where(
            Slot.crossing_code == crossing,
            Slot.exit_country == b.exit_country,
            Slot.entry_country == b.entry_country,
            Slot.day == ref.day,
            Slot.hour == ref.hour,
            Slot.quota_class == cls,
        )
    )


def _take(s: Session, slot: Slot | None, field: str) -> None:
    """The atomic conditional increment; refuses when the slot has no room left."""
    ok = False
    if slot is not None and slot.booked < slot.capacity:
        res = s.execute(
            update(Slot)
            .where(Slot.id == slot.id, Slot.booked < Slot.capacity)
            .values(booked=Slot.booked + 1)
            .execution_options(synchronize_session=False)
        )
        ok = res.rowcount == 1  # type: ignore[attr-defined]
    if not ok:
        raise _full(field)


SlotKey = tuple[int, str, str, str, dt.date, int, str]
_FULL: dict[SlotKey, float] = {}


def _key(
    platform: Platform, crossing: str, exit_c: str, entry_c: str, ref: SlotRef, cls: str
) -> SlotKey:
    return (id(platform), crossing, exit_c, entry_c, ref.day, ref.hour, cls)


def _seen_full(key: SlotKey, platform: Platform) -> None:
    ttl = platform.settings.queue_full_hint_seconds
    if ttl > 0:
        if len(_FULL) > 100_000:
            _FULL.clear()
        _FULL[key] = time.monotonic() + ttl


def refuse_if_known_full(platform: Platform, body: BookingIn) -> None:
    """Refuse at once a slot this process saw full within ``queue_full_hint_seconds``.

    A hint, not the check: the conditional UPDATE decides. A place freed in another process
    may be refused for up to that long (this process forgets the hint when it frees one).
    """
    until = _FULL.get(_body_key(platform, body))
    if until is not None and until > time.monotonic():
        raise _full("/slot/hour")


def _body_key(platform: Platform, body: BookingIn) -> SlotKey:
    return _key(
        platform,
        body.crossing,
        body.exit_country,
        body.entry_country,
        body.slot,
        body.quota_class.value,
    )


def _forget_full(platform: Platform, b: Booking) -> None:
    _FULL.pop(
        _key(
            platform,
            b.crossing_code,
            b.exit_country,
            b.entry_country,
            SlotRef(day=b.day, hour=b.hour),
            b.quota_class,
        ),
        None,
    )


def _full(field: str) -> Conflict:
    return Conflict(
        "the slot is full for this quota class",
        [FieldError(field, "slot_full", "no room left in this hour for this quota class")],
    )


def _release(s: Session, slot_id: int) -> None:
    s.execute(
        update(Slot)
        .where(Slot.id == slot_id, Slot.booked > 0)
        .values(booked=Slot.booked - 1)
        .execution_options(synchronize_session=False)
    )


def _plan(
    platform: Platform,
    s: Session,
    crossing: str,
    exit_c: str,
    entry_c: str,
    day: dt.date,
    now: datetime,
) -> None:
    """Plan the day if needed; refuses when the two sides have not both set a cap for it."""
    if not planning.ensure_planned(
        s, crossing, exit_c, entry_c, day, platform.settings.queue_utc_offset_hours, now
    ):
        raise no_capacity()


def _vehicle_conflicts(s: Session, body: BookingIn) -> list[FieldError]:
    t = body.truck
    rows = s.execute(
        select(Booking.tractor_plate, Booking.tractor_nationality, Booking.vin).where(
            Booking.status.in_(ACTIVE_STATUSES),
            or_(
                and_(
                    Booking.tractor_plate == t.tractor_plate,
                    Booking.tractor_nationality == t.tractor_nationality,
                ),
                Booking.vin == t.vin,
            ),
        )
    ).all()
    out = []
    if any(r[0] == t.tractor_plate and r[1] == t.tractor_nationality for r in rows):
        out.append(
            FieldError(
                "/truck/tractor_plate", "already_booked", "this tractor has an active booking"
            )
        )
    if any(r[2] == t.vin for r in rows):
        out.append(FieldError("/truck/vin", "already_booked", "this VIN has an active booking"))
    booked = set(
        s.scalars(
            select(BookedDeclaration.declaration_id).where(
                BookedDeclaration.active.is_(True),
                BookedDeclaration.declaration_id.in_(body.declaration_ids),
            )
        )
    )
    for i, d in enumerate(body.declaration_ids):
        if d in booked:
            out.append(
                FieldError(
                    f"/declaration_ids/{i}", "already_booked", "moved by another active booking"
                )
            )
    return out


def integrity_conflict(exc: IntegrityError) -> Conflict:
    """A concurrent booking won the race for the same truck or declaration."""
    text = str(exc.orig).lower()
    if "declaration" in text:
        field = "/declaration_ids"
    elif "vin" in text:
        field = "/truck/vin"
    else:
        field = "/truck/tractor_plate"
    return Conflict(
        "already booked", [FieldError(field, "already_booked", "an active booking holds it")]
    )


@dataclass
class PendingBooking:
    """A booking request that passed the checks needing no query, for the booking committer.

    The committer makes the rest in its group transaction, in the order ``book`` makes them
    alone: the slot's room, the declarations, the truck's other bookings, then the take.
    """

    caller: Caller
    body: BookingIn
    starts: datetime
    now: datetime
    write: WriteContext | None = None  # the HTTP write: the committer thread does not see it
    person: str | None = None  # the console person acting (``core.writes.acting``), likewise


def book(platform: Platform, caller: Caller, body: BookingIn) -> BookingOut:
    """Check everything, take the slot, store the booking and its deposit: one transaction.

    With a booking committer (the API's group commit) the transaction is shared with the
    other bookings waiting; each gets the answer it would get alone.
    """
    pending = prepare_booking(platform, caller, body)
    committer = platform.booking_committer
    if committer is None:
        return _book_alone(platform, pending)
    result: BookingOut = committer.submit(pending)
    return result


async def book_async(platform: Platform, caller: Caller, body: BookingIn) -> BookingOut:
    """``book`` for the event loop: the checks that need no query inline, then wait on the
    committer's future; no worker thread is held (without a committer: ``book`` in one)."""
    import asyncio

    from starlette.concurrency import run_in_threadpool

    committer = platform.booking_committer
    if committer is None:
        return await run_in_threadpool(book, platform, caller, body)
    result: BookingOut = await asyncio.wrap_future(
        committer.enqueue(prepare_booking(platform, caller, body))
    )
    return result


def prepare_booking(platform: Platform, caller: Caller, body: BookingIn) -> PendingBooking:
    """Role, route and slot time: the refusals that need no query."""
    if not caller.has(*BOOKING_ROLES):
        raise Forbidden("only carriers, brokers and customs-service companies book slots")
    errors = _route_errors(body.crossing, body.exit_country, body.entry_country)
    if errors:
        raise ValidationFailed(errors)
    now = platform.clock()
    return PendingBooking(
        caller,
        body,
        _slot_time(platform, body.slot, now, "/slot"),
        now,
        current_write(),
        current_person(),
    )


def full_slot_refusal(body: BookingIn) -> SilkgateError:
    """A slot read full: the class rules that need no declaration first, then ``slot_full``."""
    errors = checks.check_evidence_class(body)
    return ValidationFailed(errors) if errors else full_slot()


def is_slot_full(err: SilkgateError) -> bool:
    return bool(err.errors) and err.errors[0].code == "slot_full"


def declaration_errors(
    caller: Caller, code: str, rows: dict[str, Declaration], body: BookingIn
) -> list[FieldError]:
    """The refusals about the declarations and the quota evidence (``rows``: those loaded)."""
    decls, errors = checks.check_loaded(caller, code, rows, body)
    return errors or checks.check_evidence(body, decls)


def no_capacity() -> Conflict:
    return Conflict(
        "no capacity agreed for this day",
        [FieldError("/slot/day", "no_capacity", "both sides need a cap in force for this day")],
    )


def _book_alone(platform: Platform, p: PendingBooking) -> BookingOut:
    """The booking in a transaction of its own (when the API runs no booking committer)."""
    caller, body, now = p.caller, p.body, p.now
    try:
        with platform.db.session() as s:
            # the slot first: in a booking rush most attempts end here, after one query
            slot = _slot_row(s, body, body.slot, body.quota_class.value)
            planned = True
            if slot is None:
                planned = planning.ensure_planned(
                    s, body.crossing, body.exit_country, body.entry_country, body.slot.day,
                    platform.settings.queue_utc_offset_hours, now,
                )  # fmt: skip
                slot = _slot_row(s, body, body.slot, body.quota_class.value) if planned else None
            if slot is not None and slot.booked >= slot.capacity:
                refusal = full_slot_refusal(body)
                if is_slot_full(refusal):
                    seen_full(platform, body)
                raise refusal
            decls, errors = checks.check_declarations(s, caller, body)
            if not errors:
                errors = checks.check_evidence(body, decls)
            if errors:
                raise ValidationFailed(errors)
            clash = _vehicle_conflicts(s, body)
            if clash:
                raise Conflict("the truck or a declaration is already booked", clash)
            if slot is None:
                if not planned:
                    raise no_capacity()
                raise _full("/slot/hour")
            booking = new_booking(caller, body, slot.id, p.starts, now)
            s.add(booking)
            s.flush()
            s.add_all(
                BookedDeclaration(booking_id=booking.id, declaration_id=d, active=True)
                for d in body.declaration_ids
            )
            held = held_deposit(platform, booking, now)
            s.add(held)
            s.flush()
            try:
                _take(s, slot, "/slot/hour")
            except Conflict:
                seen_full(platform, body)
                raise
            append(
                s,
                platform.signer,
                [
                    booked_event(caller, body, booking, held, p.person),
                    *published(s, platform, [booking], now),
                ],
            )
            return booking_out(platform, caller, booking)
    except IntegrityError as exc:
        raise integrity_conflict(exc) from None


def full_slot() -> Conflict:
    """The refusal of a booking whose slot has no room left."""
    return _full("/slot/hour")


def seen_full(platform: Platform, body: BookingIn) -> None:
    """This process saw the booking's slot full: refuse it without a query for a while."""
    _seen_full(_body_key(platform, body), platform)


def held_deposit(platform: Platform, b: Booking, now: datetime) -> DepositEntry:
    return _deposit(platform, b, "held", "booking confirmed", now)


def booked_event(
    caller: Caller, body: BookingIn, b: Booking, held: DepositEntry, person: str | None = None
) -> AuditEvent:
    """The audit entry of a new booking (alone or in a group: the same entry); its state is
    built from ``held`` because a grouped booking is inserted without a session object, and
    ``person`` is passed because the group committer's thread does not see the console's."""
    return AuditEvent(
        caller.member_id,
        "queue.booked",
        "queue_booking",
        b.id,
        _audit_body(body),
        state=states.booking_state(b, deposits=[held]),
        person=person,
    )


def _audit_body(body: BookingIn) -> dict[str, object]:
    # the driver is personal data; the audit log stores only a digest anyway, kept out all the same
    return body.model_dump(mode="json", exclude={"driver"})


def new_booking(
    caller: Caller, body: BookingIn, slot_id: int, starts: datetime, now: datetime
) -> Booking:
    t = body.truck
    return Booking(
        id=new_booking_id(),
        organization_id=caller.id,
        organization=caller.member_id,
        crossing_code=body.crossing,
        exit_country=body.exit_country,
        entry_country=body.entry_country,
        slot_id=slot_id,
        day=body.slot.day,
        hour=body.slot.hour,
        starts_at=starts,
        quota_class=body.quota_class.value,
        evidence=body.evidence.model_dump(mode="json", exclude_none=True) if body.evidence else {},
        tractor_plate=t.tractor_plate,
        tractor_nationality=t.tractor_nationality,
        trailer_plate=t.trailer_plate,
        trailer_nationality=t.trailer_nationality,
        vin=t.vin,
        driver=body.driver.model_dump(mode="json", exclude_none=True),
        declaration_ids=list(body.declaration_ids),
        status=BookingStatus.CONFIRMED.value,
        reschedules=0,
        displaced=False,
        no_show_at=None,
        created_at=now,
        updated_at=now,
    )


def _deposit(platform: Platform, b: Booking, kind: str, reason: str, now: datetime) -> DepositEntry:
    return DepositEntry(
        booking_id=b.id,
        organization_id=b.organization_id,
        vin=b.vin or "",  # walk-ins (VIN may be unknown) hold no deposit
        kind=kind,
        amount=platform.settings.queue_deposit_amount,
        unit=platform.settings.queue_deposit_unit,
        reason=reason,
        at=now,
    )


def _event(actor: str, action: str, b: Booking, payload: dict[str, object]) -> AuditEvent:
    """A booking's event with its resulting state (call after the change and its deposit)."""
    return AuditEvent(actor, action, "queue_booking", b.id, payload, state=states.booking_state(b))


# ---------------------------------------------------------------- reading


def sees_driver(platform: Platform, caller: Caller, b: Booking) -> bool:
    """Driver data stays with the booking party and the exit side (where the truck queues)."""
    return (
        b.organization_id == caller.id
        or caller.country == b.exit_country
        or platform.settings.share_driver_data_across_border
    )


def visible(caller: Caller, b: Booking) -> bool:
    """Before a change: the booking party and the crossing's officials find the booking (the
    change then checks who may make it); reads go through ``queue.reading``."""
    if b.organization_id == caller.id:
        return True
    return caller.has(*OFFICIAL_ROLES) and b.crossing_code in caller.crossings


def booking_out(platform: Platform, caller: Caller, b: Booking) -> BookingOut:
    """The answer of a change (booking, cancelling, rescheduling, a walk-in)."""
    return booking_doc(b, sees_driver(platform, caller, b))


def booking_doc(b: Booking, show_driver: bool) -> BookingOut:
    """A stored booking, the driver shown or marked withheld."""
    return BookingOut(
        id=b.id,
        organization=b.organization,
        crossing=b.crossing_code,
        exit_country=b.exit_country,
        entry_country=b.entry_country,
        day=b.day,
        hour=b.hour,
        starts_at=utc(b.starts_at),
        quota_class=b.quota_class,
        status=b.status,
        truck={
            "tractor_plate": b.tractor_plate,
            "tractor_nationality": b.tractor_nationality,
            "trailer_plate": b.trailer_plate,
            "trailer_nationality": b.trailer_nationality,
            "vin": b.vin,
        },
        driver=b.driver if show_driver else None,
        driver_withheld=not show_driver,
        declaration_ids=list(b.declaration_ids),
        reschedules=b.reschedules,
        displaced=b.displaced,
        created_at=utc(b.created_at),
        updated_at=utc(b.updated_at),
    )


def published(
    s: Session,
    platform: Platform,
    bookings: Sequence[Booking],
    now: datetime,
    event: str | None = None,
) -> list[AuditEvent]:
    """Outbox messages of bookings made or changed, for their category subscribers (the
    whole booking, driver included: each subscriber's agreement decides what it gets).

    Every path that changes a booking's state calls it in its transaction, once for all the
    bookings it changed (one decision pass); the caller appends the returned events."""
    from silkgate.exchange import publish as pub
    from silkgate.exchange.agreements.catalogue import Category

    if not bookings or not pub.wanted(s, Category.BOOKING):
        return []
    facts = []
    for b in bookings:
        doc = booking_out(platform, caller_of(b), b).model_dump(mode="json")
        facts.append(pub.booking_fact(b, doc, event))
    return pub.publish(s, platform, facts, "platform", now)


def caller_of(b: Booking) -> Caller:
    """The booking organization as a caller (what ``booking_out`` shows its owner)."""
    return Caller(b.organization_id, b.organization, "", frozenset(), frozenset())


def _load(s: Session, caller: Caller, booking_id: str) -> Booking:
    b = s.get(Booking, booking_id)
    if b is None or not visible(caller, b):
        raise NotFound(f"booking {booking_id}")
    return b


# ---------------------------------------------------------------- changes by the booking party


def _own_confirmed(s: Session, caller: Caller, booking_id: str) -> Booking:
    b = _load(s, caller, booking_id)
    if b.organization_id != caller.id:
        raise Forbidden("only the organization that booked may change a booking")
    if b.status != BookingStatus.CONFIRMED.value:
        raise Conflict(
            f"a booking in state {b.status} cannot be changed",
            [FieldError("/status", "wrong_state", b.status)],
        )
    return b


def cancel(platform: Platform, caller: Caller, booking_id: str, reason: str) -> BookingOut:
    """Give the slot back; the deposit is released."""
    now = platform.clock()
    with platform.db.session() as s:
        b = _own_confirmed(s, caller, booking_id)
        _release(s, b.slot_id)
        _forget_full(platform, b)
        _finish(s, b, BookingStatus.CANCELLED, now)
        s.add(_deposit(platform, b, "released", "booking cancelled", now))
        append(
            s,
            platform.signer,
            [
                _event(caller.member_id, "queue.cancelled", b, {"reason": reason}),
                *published(s, platform, [b], now),
            ],
        )
        return booking_out(platform, caller, b)


def _finish(s: Session, b: Booking, status: BookingStatus, now: datetime) -> None:
    b.status = status.value
    b.updated_at = now
    s.execute(
        update(BookedDeclaration)
        .where(BookedDeclaration.booking_id == b.id)
        .values(active=False)
        .execution_options(synchronize_session=False)
    )


def reschedule(platform: Platform, caller: Caller, booking_id: str, ref: SlotRef) -> BookingOut:
    """Move a booking to another hour or day: same crossing, truck, driver and quota class."""
    now = platform.clock()
    settings = platform.settings
    with platform.db.session() as s:
        b = _own_confirmed(s, caller, booking_id)
        if not b.displaced:
            if b.reschedules >= settings.queue_max_reschedules:
                raise Conflict(
                    "no reschedules left",
                    [
                        FieldError(
                            "/slot",
                            "reschedule_limit",
                            f"at most {settings.queue_max_reschedules} reschedules",
                        )
                    ],
                )
            cutoff = utc(b.starts_at) - timedelta(hours=settings.queue_reschedule_cutoff_hours)
            if now >= cutoff:
                raise Conflict(
                    "too close to the booked slot",
                    [
                        FieldError(
                            "/slot",
                            "too_late",
                            f"no rescheduling within "
                            f"{settings.queue_reschedule_cutoff_hours} h of the slot",
                        )
                    ],
                )
        starts = _slot_time(platform, ref, now, "/slot")
        if (ref.day, ref.hour) == (b.day, b.hour):
            raise ValidationFailed([FieldError("/slot", "unchanged", "this is the booked slot")])
        _plan(platform, s, b.crossing_code, b.exit_country, b.entry_country, ref.day, now)
        _take(s, _slot_row(s, b, ref, b.quota_class), "/slot/hour")
        _release(s, b.slot_id)
        _forget_full(platform, b)
        new = _slot_row(s, b, ref, b.quota_class)
        assert new is not None
        before = {"day": b.day.isoformat(), "hour": b.hour}
        b.slot_id, b.day, b.hour, b.starts_at = new.id, ref.day, ref.hour, starts
        if b.displaced:
            b.displaced = False
        else:
            b.reschedules += 1
        b.updated_at = now
        append(
            s,
            platform.signer,
            [
                _event(
                    caller.member_id,
                    "queue.rescheduled",
                    b,
                    {"from": before, "to": ref.model_dump(mode="json")},
                ),
                *published(s, platform, [b], now),
            ],
        )
        return booking_out(platform, caller, b)
