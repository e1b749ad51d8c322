"""Reading bookings: one, a filtered page, its deposits, its place in the waiting area.

Every read goes through the policy decision point over the ``booking`` category
(``exchange.agreements.enforce.Point``): the booking organization (owner) and the exit side's
customs and e-port operator (the authority: their queue) read everything; the declarant of a
declaration it moves (a party) everything but the driver; the entry side's customs what the
shipped ``default-booking-…`` agreement allows for ``customs_control`` or
``queue_management``. Disclosures are logged in the read's transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, or_, select
from sqlalchemy.orm import Session

from silkgate.core.errors import NotFound
from silkgate.core.platform import Platform
from silkgate.declarations.models import Declaration
from silkgate.declarations.service import as_asking
from silkgate.exchange.agreements.catalogue import Category, spec
from silkgate.exchange.agreements.enforce import Asking, Point, PurposeRequired, covers
from silkgate.exchange.agreements.fields import filter_document
from silkgate.exchange.agreements.policy import Decision, Record, Rule, is_authority
from silkgate.exchange.agreements.records import booking_record
from silkgate.queue.models import BookedDeclaration, Booking, DepositEntry
from silkgate.queue.schemas import BookingOut, BookingView, QueuePosition, SharedBooking
from silkgate.queue.service import booking_doc
from silkgate.registry.service import Caller

#: Rows read at least per query while refused rows leave a page short.
REFILL = 64


def _parties(s: Session, caller: Caller, bookings: list[Booking]) -> dict[str, str]:
    """booking id → the caller's member id, for bookings moving a declaration it declared."""
    ids = sorted({d for b in bookings for d in (b.declaration_ids or [])})
    if not ids:
        return {}
    mine = set(
        s.scalars(
            select(Declaration.id).where(
                Declaration.id.in_(ids), Declaration.declarant_org_id == caller.id
            )
        )
    )
    return {b.id: caller.member_id for b in bookings if mine & set(b.declaration_ids or [])}


def _record(b: Booking, parties: dict[str, str]) -> Record:
    party = parties.get(b.id)
    return booking_record(b, [party] if party else [])


def shown(b: Booking, decision: Decision) -> tuple[BookingView, dict[str, Any]]:
    """The booking as the decision allows (whole, or only the allowed pointers; the driver
    marked withheld when it is not allowed), and the document answered."""
    whole = booking_doc(b, show_driver=True)
    if decision.full:
        return whole, {}
    doc = filter_document(whole.model_dump(mode="json"), decision.fields)
    if not covers(decision, "/driver"):
        doc.pop("driver", None)
        doc["driver_withheld"] = True
    try:
        return BookingOut.model_validate({"driver": None, **doc}), doc
    except ValueError:
        return SharedBooking.model_validate(doc), doc


def whole_booking(decision: Decision) -> bool:
    """The decision allows every non-personal field of a booking (what its deposits and its
    place in the waiting area are read under)."""
    cat = spec(Category.BOOKING)
    top = (p for p in cat.pointers if p.count("/") == 1 and p not in cat.personal)
    return decision.full or all(covers(decision, p) for p in top)


def decided(point: Point, s: Session, booking_id: str) -> tuple[Booking, Record, Decision]:
    """A booking through the decision point: 404 when nothing is allowed, 400 when a purpose
    would have allowed some."""
    b = s.get(Booking, booking_id)
    if b is None:
        raise NotFound(f"booking {booking_id}")
    record = _record(b, _parties(s, point.caller, [b]))
    return b, record, point.require(record, f"booking {booking_id}")


def get_booking(platform: Platform, who: Caller | Asking, booking_id: str) -> BookingView:
    with platform.db.session() as s:
        point = Point(platform, s, as_asking(who))
        b, record, decision = decided(point, s, booking_id)
        out, doc = shown(b, decision)
        point.disclose(record, b.id, decision, doc)
        point.flush()
        return out


def reachable_clause(caller: Caller, rules: list[Rule]) -> ColumnElement[bool]:
    """SQL: bookings a decision may allow the caller — its own, those moving its declarations,
    the exit side's at crossings it serves (customs, e-port), and those an agreement's provider
    holds at the agreement's crossings. Purposes, places and conditions are decided per row."""
    moving_mine = (
        select(BookedDeclaration.booking_id)
        .join(Declaration, Declaration.id == BookedDeclaration.declaration_id)
        .where(Declaration.declarant_org_id == caller.id)
    )
    parts: list[ColumnElement[bool]] = [
        Booking.organization_id == caller.id,
        Booking.id.in_(moving_mine),
    ]
    served = sorted(caller.crossings)
    if caller.roles & spec(Category.BOOKING).authority_roles and served:
        parts.append(
            and_(Booking.crossing_code.in_(served), Booking.exit_country == caller.country)
        )
    for r in rules:
        holds = (
            Booking.exit_country == r.provider
            if is_authority(r.provider)
            else Booking.organization == r.provider
        )
        where = [holds]
        if r.crossings:
            where.append(Booking.crossing_code.in_(sorted(r.crossings)))
        if caller.member_id not in r.consumers:  # a consumer as its state's customs
            where.append(Booking.crossing_code.in_(served))
        parts.append(and_(*where))
    return or_(false(), *parts)


def list_bookings(
    platform: Platform,
    who: Caller | Asking,
    crossing: str | None = None,
    day: dt.date | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
    own: bool = False,
) -> tuple[list[BookingView], str | None]:
    """Newest first; ``next_cursor`` continues after the last item returned. A row the
    decision refuses is skipped and the next ones read (a page stays full); with no purpose
    declared, a row shared with the caller only under an agreement makes the answer 400.
    ``own``: only the caller's own bookings (not those it may read for other reasons)."""
    asking = as_asking(who)
    with platform.db.session() as s:
        point = Point(platform, s, asking)
        cat = Category.BOOKING
        rules = point.rules(cat) if asking.purpose else point.all_rules(cat)
        where = (
            Booking.organization_id == asking.caller.id
            if own
            else reachable_clause(asking.caller, rules)
        )
        stmt: Select[Any] = select(Booking).where(where)
        if crossing:
            stmt = stmt.where(Booking.crossing_code == crossing)
        if day:
            stmt = stmt.where(Booking.day == day)
        if status:
            stmt = stmt.where(Booking.status == status)
        kept: list[tuple[Booking, Record, Decision]] = []
        flagged: set[str] = set()
        after, first = cursor, True
        while len(kept) <= limit:
            want = limit + 1 - len(kept) if first else max(limit + 1 - len(kept), REFILL)
            first = False
            page = stmt if after is None else stmt.where(Booking.id < after)
            rows = list(s.scalars(page.order_by(Booking.id.desc()).limit(want)))
            parties = _parties(s, asking.caller, rows)
            for b in rows:
                record = _record(b, parties)
                decision = point.decide_or_flag(record, flagged)
                if flagged:
                    raise PurposeRequired(flagged)
                if decision.allowed:
                    kept.append((b, record, decision))
                    if len(kept) > limit:
                        break
            if len(rows) < want:
                break
            after = rows[-1].id
        more = len(kept) > limit
        kept = kept[:limit]
        items = []
        for b, record, decision in kept:
            out, doc = shown(b, decision)
            point.disclose(record, b.id, decision, doc)
            items.append(out)
        point.flush()
        return items, (kept[-1][0].id if more and kept else None)


def _whole(point: Point, s: Session, booking_id: str) -> tuple[Booking, Record, Decision]:
    b, record, decision = decided(point, s, booking_id)
    if not whole_booking(decision):
        raise NotFound(f"booking {booking_id}")
    return b, record, decision


def deposits(platform: Platform, who: Caller | Asking, booking_id: str) -> list[DepositEntry]:
    """The booking's deposit entries, for a caller the decision allows the whole booking."""
    with platform.db.session() as s:
        point = Point(platform, s, as_asking(who))
        b, record, decision = _whole(point, s, booking_id)
        rows = list(
            s.scalars(
                select(DepositEntry)
                .where(DepositEntry.booking_id == booking_id)
                .order_by(DepositEntry.id)
            )
        )
        point.disclose(record, b.id, decision)
        point.flush()
        return rows


def position(platform: Platform, who: Caller | Asking, booking_id: str) -> QueuePosition:
    """A booking's place in the waiting area and when it should be called, for a caller the
    decision allows the whole booking."""
    from silkgate.queue.waiting import _position

    with platform.db.session() as s:
        point = Point(platform, s, as_asking(who))
        b, record, decision = _whole(point, s, booking_id)
        out = _position(s, platform, b)
        point.disclose(record, b.id, decision)
        point.flush()
        return out
