"""Group commit of bookings: waiting bookings share one transaction and one audit append.

Each successful booking holds its hot slot row and the audit chain lock until it commits, so
bookings one by one serialise a durable commit each. The API hands the committer thread each
booking that passed the checks needing no query (``service.prepare_booking``); the thread
takes every booking waiting and, in one transaction, loads what the group needs in a few
queries (the callers' registered codes, the declarations, the trucks' other active bookings),
locks the slot rows in id order, decides each booking in arrival order as ``service.book``
would alone (room, declarations, the truck's other bookings, then the take), stores the
winners with executemany inserts, moves the slot counters with the conditional UPDATE and
appends all their audit entries at once, then commits.

The database stays the arbiter across API processes: the slot rows are locked and the counter
UPDATE is still conditional, and the partial unique indexes refuse a second active booking of
a plate, VIN or declaration. When the database refuses a group, it is split until the refusal
is pinned to the booking that caused it; the others are stored (``store_isolated``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, and_, bindparam, insert, or_, select, tuple_, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from silkgate.audit import service as audit
from silkgate.audit.submissions import stored_with
from silkgate.core.db import (
    after_commit,
    db_problem,
    is_transient,
    is_unique_violation,
    table_of,
)
from silkgate.core.errors import (
    Conflict,
    FieldError,
    InternalError,
    SilkgateError,
    Unavailable,
    ValidationFailed,
)
from silkgate.core.groupcommit import GroupCommitter
from silkgate.declarations.models import Declaration
from silkgate.queue import planning, service
from silkgate.queue.models import ACTIVE_STATUSES, BookedDeclaration, Booking, DepositEntry, Slot
from silkgate.queue.schemas import BookingOut
from silkgate.queue.service import PendingBooking
from silkgate.registry.models import Organization

if TYPE_CHECKING:
    from silkgate.core.platform import Platform

log = logging.getLogger("silkgate.queue")
Outcome = BookingOut | SilkgateError
Plate = tuple[str, str]


class BookingCommitter(GroupCommitter[PendingBooking, BookingOut]):
    """Stores waiting bookings together; ``submit`` blocks until its own outcome."""

    def __init__(self, platform: Platform, max_group: int = 256) -> None:
        self.platform = platform
        super().__init__("silkgate-booking-commit", self._store, max_group)

    def _store(self, group: list[PendingBooking]) -> list[Outcome]:
        return store_isolated(self.platform, group)


class _Holders:
    """Plates, VINs and declarations held by active bookings: stored, or earlier in the group."""

    def __init__(self, s: Any, group: list[PendingBooking]) -> None:
        plates = {(p.body.truck.tractor_nationality, p.body.truck.tractor_plate) for p in group}
        vins = {p.body.truck.vin for p in group}
        decls = {d for p in group for d in p.body.declaration_ids}
        self.plates: set[Plate] = set()
        self.vins: set[str] = set()
        rows = s.execute(
            select(Booking.tractor_nationality, Booking.tractor_plate, Booking.vin).where(
                Booking.status.in_(ACTIVE_STATUSES),
                or_(
                    Booking.tractor_plate.in_(sorted({p for _, p in plates})),
                    Booking.vin.in_(sorted(vins)),
                ),
            )
        ).all()
        for nat, plate, vin in rows:
            self.plates.add((nat, plate))
            self.vins.add(vin)
        self.decls: set[str] = set(
            s.scalars(
                select(BookedDeclaration.declaration_id).where(
                    and_(
                        BookedDeclaration.active.is_(True),
                        BookedDeclaration.declaration_id.in_(sorted(decls)),
                    )
                )
            )
        )

    def clash(self, p: PendingBooking) -> list[FieldError]:
        """The refusals ``service._vehicle_conflicts`` gives, in the same order and words."""
        t = p.body.truck
        out = []
        if (t.tractor_nationality, t.tractor_plate) in self.plates:
            out.append(
                FieldError(
                    "/truck/tractor_plate", "already_booked", "this tractor has an active booking"
                )
            )
        if t.vin in self.vins:
            out.append(FieldError("/truck/vin", "already_booked", "this VIN has an active booking"))
        for i, d in enumerate(p.body.declaration_ids):
            if d in self.decls:
                out.append(
                    FieldError(
                        f"/declaration_ids/{i}", "already_booked", "moved by another active booking"
                    )
                )
        return out

    def hold(self, p: PendingBooking) -> None:
        t = p.body.truck
        self.plates.add((t.tractor_nationality, t.tractor_plate))
        self.vins.add(t.vin)
        self.decls.update(p.body.declaration_ids)


def _row(obj: Any, table: Table) -> dict[str, Any]:
    """The column values of a new ORM object, for a Core executemany insert."""
    return {
        c.key: getattr(obj, c.key)
        for c in table.columns
        if not (c.primary_key and getattr(obj, c.key) is None)  # a serial id: the database's
    }


SlotKey = tuple[str, str, str, dt.date, int, str]
DayKey = tuple[str, str, str, dt.date]


def _slot_key(p: PendingBooking) -> SlotKey:
    b = p.body
    return (
        b.crossing,
        b.exit_country,
        b.entry_country,
        b.slot.day,
        b.slot.hour,
        b.quota_class.value,
    )


class _Room:
    """A slot row read under its lock; ``booked`` counts the group's bookings as they go."""

    def __init__(self, slot_id: int, booked: int, capacity: int) -> None:
        self.id, self.booked, self.capacity = slot_id, booked, capacity


def _lock_slots(s: Any, keys: set[SlotKey]) -> dict[SlotKey, _Room]:
    """The slot rows of ``keys``, locked in id order (SQLite: its write lock holds already)."""
    if not keys:
        return {}
    c = Slot
    rows = s.execute(
        select(c.id, c.booked, c.capacity, c.crossing_code, c.exit_country, c.entry_country,
               c.day, c.hour, c.quota_class)
        .where(tuple_(c.crossing_code, c.exit_country, c.entry_country, c.day, c.hour,
                      c.quota_class).in_(sorted(keys)))
        .order_by(c.id)
        .with_for_update()
    )  # fmt: skip
    return {(r[3], r[4], r[5], r[6], r[7], r[8]): _Room(r[0], r[1], r[2]) for r in rows}


def store_group(platform: Platform, group: list[PendingBooking]) -> list[Outcome]:
    """Decide and store a group in one transaction; each booking gets its own outcome.

    Every booking is decided as ``service.book`` decides it alone, in arrival order, against
    what the bookings before it in the group took. Raises whatever the database raises: then
    nothing of the group is stored.
    """
    outcomes: list[Outcome] = []
    full: list[PendingBooking] = []
    with platform.db.session() as s:
        # reads that lock nothing first, then the slot rows, locked until the commit
        codes: dict[int, str] = {
            r[0]: r[1] or ""
            for r in s.execute(
                select(Organization.id, Organization.code).where(
                    Organization.id.in_(sorted({p.caller.id for p in group}))
                )
            )
        }
        wanted = sorted({d for p in group for d in p.body.declaration_ids})
        decls = {d.id: d for d in s.scalars(select(Declaration).where(Declaration.id.in_(wanted)))}
        holders = _Holders(s, group)
        keys = {_slot_key(p) for p in group}
        slots = _lock_slots(s, keys)
        planned: dict[DayKey, bool] = {}
        for p in group:  # the first booking of a day plans it, in this transaction
            key = _slot_key(p)
            if key not in slots and key[:4] not in planned:
                planned[key[:4]] = planning.ensure_planned(
                    s, *key[:4], platform.settings.queue_utc_offset_hours, p.now
                )
        if any(planned.values()):
            slots.update(_lock_slots(s, {k for k in keys if planned.get(k[:4])}))
        taken: Counter[int] = Counter()
        bookings: list[dict[str, Any]] = []
        links: list[dict[str, Any]] = []
        deposits: list[dict[str, Any]] = []
        events: list[audit.AuditEvent] = []
        spans: list[tuple[Any, int, int]] = []  # a signed request's entries, for its receipt
        booking_t, deposit_t = table_of(Booking), table_of(DepositEntry)
        made: list[Booking] = []
        for p in group:
            key = _slot_key(p)
            slot = slots.get(key)
            refusal: SilkgateError | None = None
            if slot is not None and slot.booked >= slot.capacity:
                refusal = service.full_slot_refusal(p.body)
            else:
                errors = service.declaration_errors(
                    p.caller, codes.get(p.caller.id, ""), decls, p.body
                )
                clash = holders.clash(p) if not errors else []
                if errors:
                    refusal = ValidationFailed(errors)
                elif clash:
                    refusal = Conflict("the truck or a declaration is already booked", clash)
                elif slot is None:
                    refusal = (
                        service.full_slot() if planned.get(key[:4], True) else service.no_capacity()
                    )
            if refusal is not None:
                if slot is not None and service.is_slot_full(refusal):
                    full.append(p)
                outcomes.append(refusal)
                continue
            assert slot is not None
            slot.booked += 1
            taken[slot.id] += 1
            holders.hold(p)
            b = service.new_booking(p.caller, p.body, slot.id, p.starts, p.now)
            bookings.append(_row(b, booking_t))
            links.extend(
                {"booking_id": b.id, "declaration_id": d, "active": True}
                for d in p.body.declaration_ids
            )
            held = service.held_deposit(platform, b, p.now)
            deposits.append(_row(held, deposit_t))
            start = len(events)
            events.append(service.booked_event(p.caller, p.body, b, held, p.person))
            if p.write is not None:  # the request's verified signature, stored with it
                events.extend(stored_with(s, p.write, events[start:]))
                spans.append((p.write, start, len(events)))
            outcomes.append(service.booking_out(platform, p.caller, b))
            made.append(b)
        if bookings:
            s.execute(insert(booking_t), bookings)
            s.execute(insert(table_of(BookedDeclaration)), links)
            s.execute(insert(deposit_t), deposits)
            _move_counters(s, taken)
            events.extend(service.published(s, platform, made, group[0].now))
            rows = audit.append(s, platform.signer, events, ambient=False)
            for write, a, b_end in spans:
                signed = write.submission is not None
                after_commit(s, partial(write.committed, rows[a:b_end], signed))
    for p in full:
        service.seen_full(platform, p.body)
    return outcomes


def _move_counters(s: Any, taken: Counter[int]) -> None:
    """The conditional UPDATE of each slot's counter, all in one executemany; the slots are
    locked, so it cannot fail, but if it ever did nothing of the group would be stored."""
    t = table_of(Slot)
    stmt = (
        update(t)
        .where(t.c.id == bindparam("slot_id"), t.c.booked + bindparam("n") <= t.c.capacity)
        .values(booked=t.c.booked + bindparam("n"))
    )
    params = [{"slot_id": k, "n": n} for k, n in sorted(taken.items())]
    res = s.execute(stmt, params)
    if s.get_bind().dialect.supports_sane_multi_rowcount and res.rowcount != len(params):
        raise RuntimeError("a slot counter changed under its lock")


def store_isolated(platform: Platform, group: list[PendingBooking]) -> list[Outcome]:
    """Store a group; a refusal by the database fails only the booking that caused it.

    On a refused group each half is tried on its own, down to single bookings. A transient
    refusal (a lock held elsewhere, a lost connection) is no booking's fault: the whole group
    gets 503 at once, nothing of it stored.
    """
    if not group:
        return []
    try:
        return store_group(platform, group)
    except Exception as exc:  # every error becomes some booking's outcome
        if is_transient(exc):
            log.warning("database unavailable for %d bookings: %s", len(group), exc)
            return [_unavailable(platform, exc)] * len(group)
        if len(group) == 1:
            return [_alone(platform, group[0], exc)]
    mid = len(group) // 2
    return store_isolated(platform, group[:mid]) + store_isolated(platform, group[mid:])


def _alone(platform: Platform, p: PendingBooking, exc: Exception) -> Outcome:
    """The outcome of one booking the database refused with ``exc``."""
    for _ in range(3):
        if not (isinstance(exc, IntegrityError) and is_unique_violation(exc)):
            break
        # A concurrent booking of the same truck or declaration committed: now it is visible
        # and this booking is refused as ``already_booked`` by the check, naming the field.
        try:
            return store_group(platform, [p])[0]
        except Exception as again:
            exc = again
    if isinstance(exc, IntegrityError) and is_unique_violation(exc):
        return service.integrity_conflict(exc)
    if isinstance(exc, DBAPIError):
        if is_transient(exc):
            return _unavailable(platform, exc)
        found = db_problem(exc)
        if not isinstance(found, InternalError):
            return found
    log.error("booking of %s refused", p.body.truck.tractor_plate, exc_info=exc)
    return InternalError("The server failed on this booking; nothing of it was stored.")


def _unavailable(platform: Platform, exc: Exception) -> SilkgateError:
    retry = max(1, round(platform.settings.db_lock_timeout / 2))
    return db_problem(exc, retry) if isinstance(exc, DBAPIError) else Unavailable("busy", retry)
