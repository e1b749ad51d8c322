"""Lateness, no-shows and the deposit rule: the sweep job and the arrival hook for gate events.

A truck is due by the end of its slot hour plus the grace window. The sweep marks trucks not
arrived by then ``no_show``; a truck arriving after that deadline is ``late`` and joins the
live queue. Either way the booking counts as a no-show: once the vehicle (VIN) or the
booking organization reaches N no-shows within M days, the deposit is forfeited, else
released. Declarations cancelled or rejected before the slot expire their booking. Each state
change is published to the ``booking`` category's subscribers in its transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from silkgate.audit.service import AuditEvent, append
from silkgate.core.errors import Conflict, FieldError, NotFound
from silkgate.core.platform import Platform
from silkgate.declarations.models import Declaration
from silkgate.queue import service as svc
from silkgate.queue.models import ACTIVE_STATUSES, BookedDeclaration, Booking
from silkgate.queue.schemas import BookingStatus, SweepReport

S = BookingStatus
DEAD_DECLARATION = ("cancelled", "rejected")


def deadline(platform: Platform, b: Booking) -> datetime:
    """Latest on-time arrival: slot end plus grace."""
    return svc.utc(b.starts_at) + timedelta(hours=1, minutes=platform.settings.queue_grace_minutes)


def _settle_deposit(platform: Platform, s: object, b: Booking, now: datetime) -> str:
    """Forfeit after N no-shows of the vehicle (VIN) in M days, else release.

    Counted per vehicle, not per booking organization: a broker booking hundreds of trucks
    would otherwise forfeit every deposit after its second no-show of any truck."""
    from sqlalchemy.orm import Session

    assert isinstance(s, Session)
    st = platform.settings
    since = now - timedelta(days=st.queue_forfeit_window_days)
    by_vin = (
        s.scalar(
            select(func.count())
            .select_from(Booking)
            .where(Booking.no_show_at >= since, Booking.vin == b.vin)
        )
        or 0
    )
    if b.vin and by_vin >= st.queue_forfeit_no_shows:
        kind = "forfeited"
        reason = f"{by_vin} no-shows of this vehicle in {st.queue_forfeit_window_days} days"
    else:
        kind, reason = "released", "no-show below the forfeit threshold"
    s.add(svc._deposit(platform, b, kind, reason, now))
    return kind


def sweep(platform: Platform, actor: str = "platform") -> SweepReport:
    """Mark overdue bookings no-show and expire bookings whose declarations died; audited."""
    now = platform.clock()
    grace = timedelta(hours=1, minutes=platform.settings.queue_grace_minutes)
    report = SweepReport(no_shows=[], expired=[], forfeited=[])
    with platform.db.session() as s:
        events: list[AuditEvent] = []
        changed: list[Booking] = []
        overdue = s.scalars(
            select(Booking)
            .where(Booking.status == S.CONFIRMED.value, Booking.starts_at < now - grace)
            .order_by(Booking.starts_at, Booking.id)
            .with_for_update()
        )
        for b in overdue:
            b.no_show_at = deadline(platform, b)
            svc._finish(s, b, S.NO_SHOW, now)
            s.flush()
            kind = _settle_deposit(platform, s, b, now)
            report.no_shows.append(b.id)
            changed.append(b)
            if kind == "forfeited":
                report.forfeited.append(b.id)
            events.append(
                svc._event(
                    actor,
                    "queue.no_show",
                    b,
                    {"deadline": b.no_show_at.isoformat(), "deposit": kind},
                )
            )
        dead_ids = (
            select(BookedDeclaration.booking_id)
            .join(Declaration, Declaration.id == BookedDeclaration.declaration_id)
            .where(BookedDeclaration.active.is_(True), Declaration.status.in_(DEAD_DECLARATION))
        )
        dead = s.scalars(
            select(Booking)
            .where(Booking.status == S.CONFIRMED.value, Booking.id.in_(dead_ids))
            .order_by(Booking.id)
        )
        for b in list(dead):
            svc._release(s, b.slot_id)
            svc._finish(s, b, S.EXPIRED, now)
            s.add(svc._deposit(platform, b, "released", "declaration withdrawn", now))
            report.expired.append(b.id)
            changed.append(b)
            events.append(
                svc._event(
                    actor, "queue.expired", b, {"reason": "declaration cancelled or rejected"}
                )
            )
        # the booking category's subscribers: one decision pass for the whole sweep
        events += svc.published(s, platform, changed, now)
        append(s, platform.signer, events)
    return report


def _refuse_if_rebooked(s: Session, b: Booking) -> None:
    """A no-show truck booked again arrives on its new booking; reviving the old one would
    give the truck or its declarations two active bookings."""
    other = s.scalar(
        select(Booking.id)
        .where(
            Booking.id != b.id,
            Booking.status.in_(ACTIVE_STATUSES),
            or_(
                and_(
                    Booking.tractor_plate == b.tractor_plate,
                    Booking.tractor_nationality == b.tractor_nationality,
                ),
                Booking.vin == b.vin,
            ),
        )
        .limit(1)
    ) or s.scalar(
        select(BookedDeclaration.booking_id)
        .where(
            BookedDeclaration.active.is_(True),
            BookedDeclaration.booking_id != b.id,
            BookedDeclaration.declaration_id.in_(b.declaration_ids),
        )
        .limit(1)
    )
    if other is not None:
        raise Conflict(
            f"booking {b.id} was a no-show and the truck or its declarations are booked again "
            f"({other}); the truck arrives on that booking",
            [FieldError("/booking_id", "rebooked", f"active booking {other}")],
        )


def record_arrival(platform: Platform, booking_id: str, at: datetime, actor: str) -> str:
    """Hook for the gate-event work: the truck reached the waiting area at ``at``.

    On time → ``arrived`` (deposit released); after the deadline → ``late`` (live queue),
    counted as a no-show for the deposit rule unless the sweep already did. Returns the status.
    """
    with platform.db.session() as s:
        return arrive(s, platform, booking_id, at, actor)


def arrive(s: Session, platform: Platform, booking_id: str, at: datetime, actor: str) -> str:
    """``record_arrival`` inside the caller's transaction (the call-forward check-in)."""
    now = platform.clock()
    b = s.get(Booking, booking_id, with_for_update=True)
    if b is None:
        raise NotFound(f"booking {booking_id}")
    if b.status not in (S.CONFIRMED.value, S.NO_SHOW.value):
        raise Conflict(
            f"a booking in state {b.status} cannot arrive",
            [FieldError("/status", "wrong_state", b.status)],
        )
    if b.status == S.CONFIRMED.value and at <= deadline(platform, b):
        b.status = S.ARRIVED.value
        s.add(svc._deposit(platform, b, "released", "arrived on time", now))
    else:
        if b.status == S.NO_SHOW.value:
            _refuse_if_rebooked(s, b)
        if b.no_show_at is None:
            b.no_show_at = deadline(platform, b)
            s.flush()
            _settle_deposit(platform, s, b, now)
        b.status = S.LATE.value
        for link in s.scalars(
            select(BookedDeclaration).where(BookedDeclaration.booking_id == b.id)
        ):
            link.active = True
    b.updated_at = now
    s.flush()
    event = svc._event(actor, f"queue.{b.status}", b, {"at": at.isoformat()})
    append(s, platform.signer, [event, *svc.published(s, platform, [b], now)])
    return b.status
