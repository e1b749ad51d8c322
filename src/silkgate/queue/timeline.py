"""The e-queue's part of a consignment timeline: each booking of the truck or its declarations
and what happened to it (booked, rescheduled, arrived or late, called, exited, no-show...).

Who sees a booking is the policy decision's answer (``exchange.agreements``): its
organization (owner), customs and the e-port operator of the exit side (the authority: it is
their queue), the declarant of a declaration it moves (a party), and the entry side's customs
under the shipped ``default-booking-…`` agreement (purpose ``customs_control`` or
``queue_management``). The driver is never shown (it is not in the logged state either).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from silkgate.audit.models import AuditEntry
from silkgate.declarations.models import Declaration
from silkgate.exchange.agreements.enforce import Point, covers, narrowed
from silkgate.exchange.agreements.policy import Decision
from silkgate.exchange.agreements.records import booking_record
from silkgate.gates.schemas import TimelineEntry
from silkgate.queue.models import BookedDeclaration, Booking
from silkgate.registry.service import Caller

#: The booking fields (catalogue pointers) behind each detail of a timeline entry.
ENTRY_FIELDS: dict[str, tuple[str, ...]] = {
    "booking": ("/id",),
    "status": ("/status",),
    "slot": ("/day", "/hour"),
    "quota_class": ("/quota_class",),
    "organization": ("/organization",),
}
ENTRY_POINTERS = frozenset(p for ps in ENTRY_FIELDS.values() for p in ps)


def bookings_of(
    s: Session, truck: tuple[str, str] | None, declaration_ids: Iterable[str]
) -> list[Booking]:
    """Bookings of a truck (nationality, plate) or moving any of the declarations."""
    ids = sorted(set(declaration_ids))
    where = []
    if truck is not None:
        where.append(
            and_(Booking.tractor_nationality == truck[0], Booking.tractor_plate == truck[1])
        )
    if ids:
        moving = select(BookedDeclaration.booking_id).where(
            BookedDeclaration.declaration_id.in_(ids)
        )
        where.append(Booking.id.in_(moving))
    if not where:
        return []
    return list(s.scalars(select(Booking).where(or_(*where)).order_by(Booking.created_at)))


def booking_entries(
    point: Point,
    s: Session,
    bookings: list[Booking],
    own_declarations: set[str],
    flagged: set[str] | None = None,
) -> list[TimelineEntry]:
    """One entry per logged change of each booking the decision lets the caller read, from
    the audit log; each entry carries only the booking fields allowed (``ENTRY_FIELDS``).

    A booking withheld only for want of a declared purpose adds the purposes that would serve
    it to ``flagged``."""
    caller = point.caller
    visible: dict[str, tuple[Booking, Decision]] = {}
    for b in bookings:
        mine = caller.member_id if own_declarations & set(b.declaration_ids or []) else None
        record = booking_record(b, [mine] if mine else [])
        decision = (
            point.decide_or_flag(record, flagged) if flagged is not None else point.decide(record)
        )
        if covers(decision, "/status"):
            visible[b.id] = (b, decision)
            point.disclose(record, b.id, narrowed(decision, ENTRY_POINTERS))
    if not visible:
        return []
    rows = s.execute(
        select(AuditEntry.at, AuditEntry.action, AuditEntry.entity_id, AuditEntry.state)
        .where(AuditEntry.entity_type == "queue_booking", AuditEntry.entity_id.in_(sorted(visible)))
        .order_by(AuditEntry.seq)
    )
    out = []
    for at, action, booking_id, state in rows:
        b, decision = visible[booking_id]
        st = state or {}
        detail = {
            "booking": booking_id,
            "status": st.get("status", b.status),
            "slot": f"{st.get('day', b.day.isoformat())} {st.get('hour', b.hour):02d}:00",
            "quota_class": b.quota_class,
            "organization": b.organization,
        }
        out.append(
            TimelineEntry(
                at=at,
                kind="booking",
                what=action,
                side=b.exit_country,
                detail={
                    k: v
                    for k, v in detail.items()
                    if all(covers(decision, p) for p in ENTRY_FIELDS[k])
                },
            )
        )
    return out


def declarant_owned(s: Session, caller: Caller, ids: Iterable[str]) -> set[str]:
    ids = sorted(set(ids))
    if not ids:
        return set()
    return set(
        s.scalars(
            select(Declaration.id).where(
                Declaration.id.in_(ids), Declaration.declarant_org_id == caller.id
            )
        )
    )
