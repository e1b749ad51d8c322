"""Group commit of bookings: waiting bookings share one transaction and one audit append.

Each successful booking holds its hot slot row and the audit chain lock until it commits, so
bookings one by one serialise a durable commit each. The committer thread takes every booking
checked meanwhile (``service.prepare_booking``) and, in one transaction, locks their slots in
id order, decides each booking as ``book`` would alone and in arrival order (another active
booking of the truck or a declaration, then room in the slot), stores the winners, moves the
slot counters with the conditional UPDATE, and appends their audit entries at once.

The database stays the arbiter across API processes: the slot rows are locked and the counter
UPDATE is still conditional, and the partial unique indexes refuse a second active booking of
a plate, VIN or declaration. When the database refuses a group, it is split until the refusal
is pinned to the booking that caused it; the others are stored (``store_isolated``).
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, and_, insert, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from silkgate.audit import service as audit
from silkgate.core.db import db_problem, is_transient, is_unique_violation, table_of
from silkgate.core.errors import Conflict, FieldError, InternalError, SilkgateError, Unavailable
from silkgate.core.groupcommit import GroupCommitter
from silkgate.queue import service
from silkgate.queue.models import ACTIVE_STATUSES, BookedDeclaration, Booking, DepositEntry, Slot
from silkgate.queue.schemas import BookingOut
from silkgate.queue.service import PendingBooking

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


def store_group(platform: Platform, group: list[PendingBooking]) -> list[Outcome]:
    """Decide and store a group in one transaction; each booking gets its own outcome.

    Raises whatever the database raises: then nothing of the group is stored.
    """
    outcomes: list[Outcome] = []
    full: list[PendingBooking] = []
    with platform.db.session() as s:
        # Slot rows locked in id order (SQLite: the write lock taken at BEGIN already holds).
        room = {
            r.id: r.capacity - r.booked
            for r in s.execute(
                select(Slot.id, Slot.booked, Slot.capacity)
                .where(Slot.id.in_(sorted({p.slot_id for p in group})))
                .order_by(Slot.id)
                .with_for_update()
            )
        }
        holders = _Holders(s, group)
        taken: Counter[int] = Counter()
        bookings: list[dict[str, Any]] = []
        links: list[dict[str, Any]] = []
        deposits: list[dict[str, Any]] = []
        events: list[audit.AuditEvent] = []
        booking_t, deposit_t = table_of(Booking), table_of(DepositEntry)
        for p in group:
            clash = holders.clash(p)
            if clash:
                outcomes.append(Conflict("the truck or a declaration is already booked", clash))
                continue
            if room.get(p.slot_id, 0) <= taken[p.slot_id]:
                full.append(p)
                outcomes.append(service.full_slot())
                continue
            taken[p.slot_id] += 1
            holders.hold(p)
            b = service.new_booking(p.caller, p.body, p.slot_id, p.starts, p.now)
            bookings.append(_row(b, booking_t))
            links.extend(
                {"booking_id": b.id, "declaration_id": d, "active": True}
                for d in p.body.declaration_ids
            )
            deposits.append(_row(service.held_deposit(platform, b, p.now), deposit_t))
            events.append(service.booked_event(p.caller, p.body, b))
            outcomes.append(service.booking_out(platform, p.caller, b))
        if bookings:
            s.execute(insert(booking_t), bookings)
            s.execute(insert(table_of(BookedDeclaration)), links)
            s.execute(insert(deposit_t), deposits)
            for slot_id, n in sorted(taken.items()):
                res = s.execute(
                    update(Slot)
                    .where(Slot.id == slot_id, Slot.booked + n <= Slot.capacity)
                    .values(booked=Slot.booked + n)
                    .execution_options(synchronize_session=False)
                )
                if res.rowcount != 1:  # type: ignore[attr-defined]
                    # cannot happen with the row locked; if it does, nothing is stored
                    raise RuntimeError(f"slot {slot_id} changed under its lock")
            audit.append(s, platform.signer, events)
    for p in full:
        service.seen_full(platform, p.body)
    return outcomes


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
