"""The e-queue's part of a consignment timeline: each booking of the truck or its declarations
and what happened to it (booked, rescheduled, arrived or late, called, exited, no-show...).

Who sees a booking: its organization, customs of its crossing, the e-port operator of the
exit side (whose queue it is), and the declarant of a declaration it moves. The driver is
never shown (it is not in the logged state either).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from silkgate.audit.models import AuditEntry
from silkgate.declarations.models import Declaration
from silkgate.gates.schemas import TimelineEntry
from silkgate.queue.models import BookedDeclaration, Booking
from silkgate.registry.schemas import Role
from silkgate.registry.service import Caller


def may_see(caller: Caller, b: Booking, own_declarations: set[str]) -> bool:
    if b.organization_id == caller.id:
        return True
    if b.crossing_code in caller.crossings:
        if caller.has(Role.CUSTOMS):
            return True
        if caller.has(Role.E_PORT) and caller.country == b.exit_country:
            return True
    return bool(own_declarations & set(b.declaration_ids or []))


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
    s: Session, caller: Caller, bookings: list[Booking], own_declarations: set[str]
) -> list[TimelineEntry]:
    """One entry per logged change of each visible booking, from the audit log."""
    visible = {b.id: b for b in bookings if may_see(caller, b, own_declarations)}
    if not visible:
        return []
    rows = s.execute(
        select(AuditEntry.at, AuditEntry.action, AuditEntry.entity_id, AuditEntry.state)
        .where(AuditEntry.entity_type == "queue_booking", AuditEntry.entity_id.in_(sorted(visible)))
        .order_by(AuditEntry.seq)
    )
    out = []
    for at, action, booking_id, state in rows:
        b = visible[booking_id]
        st = state or {}
        out.append(
            TimelineEntry(
                at=at,
                kind="booking",
                what=action,
                side=b.exit_country,
                detail={
                    "booking": booking_id,
                    "status": st.get("status", b.status),
                    "slot": f"{st.get('day', b.day.isoformat())} {st.get('hour', b.hour):02d}:00",
                    "quota_class": b.quota_class,
                    "organization": b.organization,
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
