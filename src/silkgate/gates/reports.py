"""Loading stored events for the TRS figures and the twin's calibration file."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from itertools import repeat
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from silkgate.core.errors import FieldError, Forbidden, ValidationFailed
from silkgate.core.platform import Platform
from silkgate.declarations.models import Declaration
from silkgate.declarations.service import as_asking
from silkgate.exchange.agreements.catalogue import Category, Purpose, spec
from silkgate.exchange.agreements.enforce import Asking, Point, covers
from silkgate.exchange.agreements.fields import filter_document
from silkgate.exchange.agreements.policy import Decision
from silkgate.exchange.agreements.records import kpi_record
from silkgate.gates import kpi
from silkgate.gates.models import GateEvent
from silkgate.gates.service import crossing_sides
from silkgate.gates.timeline import effective_events, refs_of
from silkgate.queue import planning
from silkgate.queue.models import BookedDeclaration, Booking
from silkgate.queue.schemas import QuotaClass
from silkgate.registry.service import Caller


def local_time(e: GateEvent) -> datetime:
    """The event time at the reporter's offset (SQLite hands back naive UTC)."""
    at = e.event_time if e.event_time.tzinfo else e.event_time.replace(tzinfo=UTC)
    sign = -1 if e.event_offset.startswith("-") else 1
    hh, mm = e.event_offset[1:].split(":")
    return at.astimezone(timezone(sign * timedelta(hours=int(hh), minutes=int(mm))))


def load_passages(
    platform: Platform, crossing: str, start: datetime | None = None, end: datetime | None = None
) -> list[kpi.Passage]:
    """Passages at a crossing whose events lie in [start, end), classified for the splits.

    Lane and pre-arrival come from the declarations the events name (else those of the
    passage's booking); AEO and priority class from the passage's booking: one the events
    name, else the truck's (by plate or by a declaration it moves) on that crossing and
    direction, not cancelled or expired, whose slot starts nearest the arrival within
    ``SILKGATE_KPI_BOOKING_MATCH_HOURS``. What cannot be found stays ``unknown``.
    """
    if crossing not in crossing_sides():
        raise ValidationFailed([FieldError("/crossing", "unknown", f"no crossing {crossing}")])
    window = timedelta(hours=platform.settings.kpi_booking_match_hours)
    with platform.db.session() as s:
        where = GateEvent.crossing_code == crossing
        if start is not None:
            where = where & (GateEvent.event_time >= start)
        if end is not None:
            where = where & (GateEvent.event_time < end)
        events = effective_events(s, where)
        refs = refs_of(s, (e.event_id for e in events))
        evs = [
            kpi.Ev(
                e.truck,
                e.crossing_code,
                e.side,
                e.read_point,
                local_time(e),
                tuple(r for kind, r in refs.get(e.event_id, []) if kind == "declaration"),
                tuple(r for kind, r in refs.get(e.event_id, []) if kind == "booking"),
            )
            for e in events
        ]
        ps = kpi.passages(evs, crossing_sides())
        bookings = _candidate_bookings(s, crossing, ps)
        for p in ps:
            b = _match(p, bookings, window)
            if b is not None:
                p.booking = b.id
                p.priority = b.quota_class
                p.aeo = "yes" if (b.evidence or {}).get("aeo_certificate") else "no"
        decl_ids = {r for p in ps for e in p.events for r in e.refs}
        decl_ids |= {d for b in bookings.values() for d in b.declaration_ids}
        decls = (
            {
                d.id: (d.lane, d.submitted_at)
                for d in s.execute(
                    select(Declaration.id, Declaration.lane, Declaration.submitted_at).where(
                        Declaration.id.in_(decl_ids)
                    )
                )
            }
            if decl_ids
            else {}
        )
    for p in ps:
        ids = list(dict.fromkeys(r for e in p.events for r in e.refs))
        if not ids and p.booking is not None:
            ids = list(bookings[p.booking].declaration_ids)
        known = [decls[i] for i in ids if i in decls]
        if known:
            p.lane = known[0][0] or "none"
            lodged = [sub if sub.tzinfo else sub.replace(tzinfo=UTC) for _, sub in known]
            p.pre_arrival = "yes" if all(t < p.arrival for t in lodged) else "no"
    return ps


@dataclass(frozen=True)
class _Booking:
    id: str
    truck: str
    exit_country: str
    starts_at: datetime
    quota_class: str
    evidence: dict[str, Any]
    declaration_ids: tuple[str, ...]
    status: str


def _chunks(items: list[str], size: int = 500) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _candidate_bookings(s: Session, crossing: str, ps: list[kpi.Passage]) -> dict[str, _Booking]:
    """Bookings at the crossing the passages name, or of their trucks or declarations."""
    named = sorted({b for p in ps for e in p.events for b in e.bookings})
    plates = sorted({p.truck.partition(":")[2] for p in ps})
    decls = sorted({r for p in ps for e in p.events for r in e.refs})
    conds: list[Any] = []
    conds += [Booking.id.in_(c) for c in _chunks(named)]
    conds += [Booking.tractor_plate.in_(c) for c in _chunks(plates)]
    conds += [
        Booking.id.in_(
            select(BookedDeclaration.booking_id).where(BookedDeclaration.declaration_id.in_(c))
        )
        for c in _chunks(decls)
    ]
    if not conds:
        return {}
    rows = s.scalars(select(Booking).where(Booking.crossing_code == crossing, or_(*conds)))
    return {
        b.id: _Booking(
            b.id,
            f"{b.tractor_nationality}:{b.tractor_plate}",
            b.exit_country,
            b.starts_at if b.starts_at.tzinfo else b.starts_at.replace(tzinfo=UTC),
            b.quota_class,
            dict(b.evidence or {}),
            tuple(b.declaration_ids or ()),
            b.status,
        )
        for b in rows
    }


def _match(p: kpi.Passage, bookings: dict[str, _Booking], window: timedelta) -> _Booking | None:
    """The passage's booking: one its events name, else the nearest slot within the window."""
    for e in p.events:
        for ref in e.bookings:
            if ref in bookings:
                return bookings[ref]
    decls = {r for e in p.events for r in e.refs}
    near = [
        (abs(b.starts_at - p.arrival), b.id)
        for b in bookings.values()
        if (b.truck == p.truck or decls.intersection(b.declaration_ids))
        and b.exit_country == p.exit_side
        and b.status not in ("cancelled", "expired")
        and abs(b.starts_at - p.arrival) <= window
    ]
    return bookings[min(near)[1]] if near else None


def _entitled(platform: Platform, who: Caller | Asking, crossing: str) -> Decision:
    """The policy decision over the crossing's KPIs (category ``kpi_aggregates``), or 403.

    A crossing's figures are computed from both sides' events, so each side's state holds
    them: its customs and e-port operator read them as authority at a crossing they serve;
    anyone else under an agreement of either side (the shipped ``default-kpi-…`` names the
    analysts and administrators). KPIs are statistics by nature: that is the purpose unless
    the caller declares another. The read is logged as a disclosure when an agreement allowed
    it. 403, not 404: the crossing itself is public."""
    if crossing not in crossing_sides():
        raise ValidationFailed([FieldError("/crossing", "unknown", f"no crossing {crossing}")])
    asking = as_asking(who)
    if asking.purpose is None:
        asking = Asking(asking.caller, Purpose.STATISTICS.value, asking.place)
    with platform.db.session() as s:
        point = Point(platform, s, asking)
        decided = [(r, point.decide(r)) for r in map(kpi_record, repeat(crossing), sides(crossing))]
        allowed = [(r, d) for r, d in decided if d.allowed]
        if not allowed:
            raise Forbidden(f"{asking.caller.member_id} may not read KPIs of {crossing}")
        # the strongest basis: owner or authority (not a disclosure), else the widest agreement
        record, decision = max(allowed, key=lambda rd: (rd[1].full, len(rd[1].fields)))
        point.disclose(record, crossing, decision)
        point.flush()
        return decision


def sides(crossing: str) -> tuple[str, ...]:
    return crossing_sides()[crossing]


def _whole(platform: Platform, who: Caller | Asking, crossing: str) -> None:
    """Reports other than the TRS figures are answered whole or not at all."""
    decision = _entitled(platform, who, crossing)
    cat = spec(Category.KPI_AGGREGATES)
    if not (decision.full or all(covers(decision, p) for p in cat.pointers)):
        raise Forbidden(f"{who_of(who)} may read only some KPI figures of {crossing} (trs)")


def who_of(who: Caller | Asking) -> str:
    return as_asking(who).caller.member_id


def trs_report(
    platform: Platform,
    caller: Caller | Asking,
    crossing: str,
    start: datetime | None = None,
    end: datetime | None = None,
    target_h: float | None = None,
    as_of: datetime | None = None,
) -> kpi.TrsReport:
    """The TRS figures, for a caller the decision allows all of them."""
    _whole(platform, caller, crossing)
    return _trs(platform, crossing, start, end, target_h, as_of)


def trs_answer(
    platform: Platform,
    who: Caller | Asking,
    crossing: str,
    start: datetime | None = None,
    end: datetime | None = None,
    target_h: float | None = None,
    as_of: datetime | None = None,
) -> dict[str, Any]:
    """The TRS figures as JSON (API and CLI): whole, or the figures an agreement allows."""
    decision = _entitled(platform, who, crossing)
    report = asdict(_trs(platform, crossing, start, end, target_h, as_of))
    return report if decision.full else filter_document(report, decision.fields)


def _trs(
    platform: Platform,
    crossing: str,
    start: datetime | None,
    end: datetime | None,
    target_h: float | None,
    as_of: datetime | None,
) -> kpi.TrsReport:
    ps = load_passages(platform, crossing, start, end)
    return kpi.trs(
        ps, target_h or platform.settings.kpi_release_target_hours, as_of or datetime.now(UTC)
    )


def throughput_report(
    platform: Platform,
    caller: Caller | Asking,
    crossing: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[dict[str, object]]:
    """Trucks exited / released per side and crossing day, beside the binding daily cap."""
    _whole(platform, caller, crossing)
    ps = load_passages(platform, crossing, start, end)
    tz = timezone(timedelta(hours=platform.settings.queue_utc_offset_hours))
    with platform.db.session() as s:

        def cap_of(day: date, exit_c: str, entry_c: str) -> tuple[int, str] | None:
            b = planning.binding_cap(s, crossing, exit_c, entry_c, day)
            return (b.daily_cap, b.source.side) if b else None

        return kpi.throughput(ps, tz, cap_of)


def no_show_report(
    platform: Platform,
    caller: Caller | Asking,
    crossing: str,
    start: datetime | None = None,
    end: datetime | None = None,
    as_of: datetime | None = None,
) -> list[dict[str, object]]:
    """No-show rate per slot day and direction from the stored bookings (walk-ins left out)."""
    _whole(platform, caller, crossing)
    as_of = as_of or platform.clock()
    grace = timedelta(hours=1, minutes=platform.settings.queue_grace_minutes)
    stmt = select(Booking).where(
        Booking.crossing_code == crossing, Booking.quota_class != QuotaClass.LIVE.value
    )
    if start is not None:
        stmt = stmt.where(Booking.starts_at >= start)
    if end is not None:
        stmt = stmt.where(Booking.starts_at < end)
    with platform.db.session() as s:
        rows = [
            kpi.Bk(
                b.day,
                f"{b.exit_country}->{b.entry_country}",
                b.status,
                (b.starts_at if b.starts_at.tzinfo else b.starts_at.replace(tzinfo=UTC)) + grace,
                b.no_show_at is not None,
            )
            for b in s.scalars(stmt)
        ]
    return [{"crossing": crossing, **r} for r in kpi.no_show_rate(rows, as_of)]


def queue_report(
    platform: Platform,
    caller: Caller | Asking,
    crossing: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[dict[str, object]]:
    _whole(platform, caller, crossing)
    return kpi.queue_length(load_passages(platform, crossing, start, end))


# readPoint pairs → the twin's stage kinds (stage names side.role.kind, as `twin calibrate` reads)
CALIBRATION_PAIRS = {
    "documents": ("document_control_start", "document_control_end"),
    "inspection": ("physical_inspection_start", "physical_inspection_end"),
}


@dataclass
class CalibrationExport:
    path: Path
    records: int
    passages: int


def export_for_calibration(
    platform: Platform,
    crossing: str,
    out: Path,
    start: datetime | None = None,
    end: datetime | None = None,
) -> CalibrationExport:
    """Write stage,truck,start,end (ISO 8601 with offsets) for each timed stage of each passage."""
    ps = load_passages(platform, crossing, start, end)
    n = 0
    with out.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["stage", "truck", "start", "end"])
        for i, p in enumerate(ps):
            for side, role in ((p.exit_side, "exit"), (p.entry_side, "entry")):
                for kind, (a, b) in CALIBRATION_PAIRS.items():
                    t0 = kpi.first_at(p.events, a, side)
                    t1 = kpi.first_at(p.events, b, side)
                    if t0 is None or t1 is None or t1 < t0:
                        continue
                    w.writerow(
                        [
                            f"{side.lower()}.{role}.{kind}",
                            f"{p.truck}#{i}",
                            t0.isoformat(),
                            t1.isoformat(),
                        ]
                    )
                    n += 1
    return CalibrationExport(out, n, len(ps))
