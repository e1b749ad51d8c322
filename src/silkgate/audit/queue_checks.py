"""E-queue records against the log (what is compared: see docs/audit.md).

Logged records — caps, bookings with their deposit ledger, stages, displacement notices — are
compared with the ``state`` of their latest entry. Derived records are recomputed: a
booking's declaration links and waiting-area row from its logged status, each slot's counter
from the bookings holding it, its capacity and its day plan from the logged caps.
Bookings are streamed in id order in batches, as declarations are.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from silkgate.audit.consistency import Report, compare_state
from silkgate.audit.declaration_state import BATCH
from silkgate.audit.models import AuditEntry
from silkgate.audit.record_state import UNCOMPARED, compare_records, entries_by_entity
from silkgate.core.db import table_of
from silkgate.queue import planning, states
from silkgate.queue.callforward import cf_class
from silkgate.queue.models import (
    BookedDeclaration,
    Booking,
    CapacityCap,
    DayPlan,
    DepositEntry,
    Notification,
    Slot,
    Stage,
    WaitingTruck,
)

Route = tuple[str, str, str]


def check_queue(s: Session, report: Report, progress: Any = None) -> None:
    """Caps, slots and day plans, notices, stages, then every booking (see the module doc)."""
    rows = {str(c.id): c for c in s.scalars(select(CapacityCap))}
    logged = entries_by_entity(s, "queue_cap")
    compare_records(report, "queue cap", "queue_caps", logged, rows, states.cap_state, "queue caps")
    _slots(s, report, _logged_caps(logged, rows))
    notices = entries_by_entity(s, "queue_notification")
    compare_records(
        report,
        "queue notice",
        "queue_notifications",
        notices,
        {str(n.id): n for n in s.execute(select(Notification.__table__))},
        states.notification_state,
        "queue notices",
    )
    compare_records(
        report,
        "stage",
        "queue_stages",
        entries_by_entity(s, "queue_stage"),
        {
            states.stage_key(r.crossing_code, r.exit_country, r.entry_country): r
            for r in s.execute(select(Stage.__table__))
        },
        states.stage_state,
        "stages",
    )
    displaced: dict[str, list[int]] = defaultdict(list)
    for entries in notices.values():
        for e in entries:
            if e.action == "queue.bookings_displaced" and e.state is not None:
                for booking_id in e.state.get("booking_ids", []):
                    displaced[booking_id].append(e.seq)
    _bookings(s, report, displaced)


# ---------------------------------------------------------------- bookings


@dataclass
class _Rows:
    """Stored rows of the bookings whose ids fall in one range."""

    bookings: dict[str, Any]
    deposits: dict[str, list[Any]]
    links: dict[str, dict[str, bool]]
    waiting: dict[str, Any]


def _load(s: Session, lo: str | None, hi: str | None) -> _Rows:
    def within(column: Any) -> list[Any]:
        conds = []
        if lo is not None:
            conds.append(column > lo)
        if hi is not None:
            conds.append(column <= hi)
        return conds

    b, d = table_of(Booking), table_of(DepositEntry)
    link, w = table_of(BookedDeclaration), table_of(WaitingTruck)
    rows = _Rows({}, defaultdict(list), defaultdict(dict), {})
    for r in s.execute(select(b).where(*within(b.c.id))):
        rows.bookings[r.id] = r
    for r in s.execute(select(d).where(*within(d.c.booking_id)).order_by(d.c.id)):
        rows.deposits[r.booking_id].append(r)
    for r in s.execute(select(link).where(*within(link.c.booking_id))):
        rows.links[r.booking_id][r.declaration_id] = bool(r.active)
    for r in s.execute(select(w).where(*within(w.c.booking_id))):
        rows.waiting[r.booking_id] = r
    return rows


def _groups(s: Session) -> Iterator[tuple[str, list[Any]]]:
    stmt = (
        select(
            AuditEntry.seq,
            AuditEntry.action,
            AuditEntry.entity_id,
            AuditEntry.state,
        )
        .where(AuditEntry.entity_type == "queue_booking")
        .order_by(AuditEntry.entity_id, AuditEntry.seq)
        .execution_options(yield_per=2000)
    )
    current: str | None = None
    entries: list[Any] = []
    for e in s.execute(stmt):
        if e.entity_id != current:
            if current is not None:
                yield current, entries
            current, entries = e.entity_id, []
        entries.append(e)
    if current is not None:
        yield current, entries


def _bookings(s: Session, report: Report, displaced: dict[str, list[int]]) -> None:
    lo: str | None = None
    pending: list[tuple[str, list[Any]]] = []
    for group in _groups(s):
        pending.append(group)
        if len(pending) >= BATCH:
            lo = _batch(s, report, lo, pending, displaced)
            pending = []
    if pending:
        lo = _batch(s, report, lo, pending, displaced)
    for booking_id in sorted(_load(s, lo, None).bookings):  # after the last logged id
        report.add(f"booking {booking_id}", "in queue_bookings, but no audit entry records it")


def _batch(
    s: Session,
    report: Report,
    lo: str | None,
    groups: list[tuple[str, list[Any]]],
    displaced: dict[str, list[int]],
) -> str:
    hi = groups[-1][0]
    rows = _load(s, lo, hi)
    for booking_id in sorted(rows.bookings.keys() - {g[0] for g in groups}):
        report.add(f"booking {booking_id}", "in queue_bookings, but no audit entry records it")
    for booking_id, entries in groups:
        _booking(report, booking_id, entries, rows, displaced.get(booking_id, []))
    return hi


def _booking(
    report: Report, booking_id: str, entries: list[Any], rows: _Rows, displaced: list[int]
) -> None:
    entity, last, row = f"booking {booking_id}", entries[-1], rows.bookings.get(booking_id)
    if row is None:
        report.add(
            entity,
            f"the log records it ({len(entries)} entries, the last {last.action} at entry "
            f"{last.seq}) but it is missing from queue_bookings",
        )
        return
    report.checked["bookings"] += 1
    if last.state is None:
        report.checked[UNCOMPARED] += 1
        return
    logged = dict(last.state)
    deposits = rows.deposits.get(booking_id, [])
    stored = states.booking_state(row, deposits)
    # a cap change after the booking's last entry displaces it: the notice's entry says so
    flagged = [seq for seq in displaced if seq > last.seq]
    want, seq = (True, flagged[-1]) if flagged else (logged.pop("displaced", None), last.seq)
    logged.pop("displaced", None)
    if stored.pop("displaced") != want:
        report.add(entity, f"/displaced is {not want!r}; entry {seq} recorded {want!r}")
    compare_state(report, entity, stored, logged, last.seq)
    for d in deposits:
        if (d.vin, d.organization_id) != (row.vin, row.organization_id):
            report.add(
                entity,
                f"deposit entry {d.id} names VIN {d.vin} of organization {d.organization_id}, "
                "not the booking's",
            )
    status = logged.get("status")
    want = {d: status not in states.LINKS_INACTIVE for d in logged.get("declaration_ids", [])}
    have = rows.links.get(booking_id, {})
    for d in sorted(want.keys() - have.keys()):
        report.add(entity, f"declaration link {d} is missing from queue_booked_declarations")
    for d in sorted(have.keys() - want.keys()):
        report.add(entity, f"declaration link {d} is not among the logged declarations")
    for d in sorted(want.keys() & have.keys()):
        if want[d] != have[d]:
            report.add(
                entity,
                f"declaration link {d} is {'active' if have[d] else 'inactive'}; a booking "
                f"{status} (entry {last.seq}) holds it {'active' if want[d] else 'inactive'}",
            )
    _waiting(report, entity, row, logged, last.seq, rows.waiting.get(booking_id))


def _waiting(
    report: Report, entity: str, row: Any, logged: dict[str, Any], seq: int, w: Any
) -> None:
    status = logged.get("status")
    expected = states.WAITING_STATE.get(str(status))
    if w is None:
        if expected is not None and status not in ("arrived", "late"):
            report.add(entity, f"a booking {status} (entry {seq}) has no queue_waiting row")
        return
    if expected is None:
        report.add(entity, f"has a queue_waiting row ({w.state}), but the log says {status}")
    elif w.state != expected:
        report.add(
            entity,
            f"waiting-area state is {w.state!r}; a booking {status} (entry {seq}) is {expected!r}",
        )
    # a truck that arrived after its deadline (no_show_at set) waits in the live queue
    want_class = "live" if row.no_show_at is not None else cf_class(row)
    if w.cf_class != want_class:
        report.add(entity, f"call-forward class is {w.cf_class!r}, not {want_class!r}")
    route = (w.crossing_code, w.exit_country, w.entry_country, w.organization_id)
    if route != (row.crossing_code, row.exit_country, row.entry_country, row.organization_id):
        report.add(entity, "the queue_waiting row names another crossing, route or organization")


# ---------------------------------------------------------------- slots and day plans


def _logged_caps(logged: dict[str, list[Any]], rows: dict[str, CapacityCap]) -> list[CapacityCap]:
    """The caps as the log recorded them (so an edited or deleted cap row is reported once, as
    itself, not again through every slot planned from it); the stored row where an entry
    predates states."""
    out = []
    for key, entries in logged.items():
        st = entries[-1].state
        if st is None:
            if key in rows:
                out.append(rows[key])
            continue
        out.append(
            CapacityCap(
                id=int(key),
                crossing_code=st["crossing"],
                exit_country=st["exit_country"],
                entry_country=st["entry_country"],
                side=st["side"],
                version=st["version"],
                valid_from=dt.date.fromisoformat(st["valid_from"]),
                daily_cap=st["daily_cap"],
                hourly_profile=st["hourly_profile"],
                quotas=st["quotas"],
                live_share=st["live_share"],
                set_by=st["set_by"],
                set_at=datetime.fromisoformat(st["set_at"]),
            )
        )
    return out


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@cache
def _hours(crossing: str, day: dt.date) -> list[int]:
    return planning.crossing_hours(crossing, day)


class _Plans:
    """Slot plans of each route and day as the caps, in the order they were set, gave them."""

    def __init__(self, caps: list[CapacityCap]) -> None:
        self.caps: dict[Route, list[CapacityCap]] = defaultdict(list)
        for c in sorted(caps, key=lambda c: (_utc(c.set_at), c.id)):
            self.caps[(c.crossing_code, c.exit_country, c.entry_country)].append(c)
        self._steps: dict[tuple[Route, dt.date], list[tuple[int, dict[Any, int]]]] = {}

    def applied(self, route: Route, starts: datetime, planned: datetime | None) -> int:
        """How many of the route's caps shaped a slot when it began: those set before its
        start (a re-plan reaches slots to come) or by the time its day was planned."""
        return sum(
            1
            for c in self.caps[route]
            if _utc(c.set_at) < _utc(starts)
            or (planned is not None and _utc(c.set_at) <= _utc(planned))
        )

    def steps(self, route: Route, day: dt.date) -> list[tuple[int, dict[Any, int]]]:
        """(k, plan of the day from the first k caps set) for each k where the plan changes."""
        found = self._steps.get((route, day))
        if found is None:
            found = [(0, {})]
            in_force: dict[str, CapacityCap] = {}
            for k, c in enumerate(self.caps[route], start=1):
                now = in_force.get(c.side)
                if c.valid_from <= day and (
                    now is None or (c.valid_from, c.version) > (now.valid_from, now.version)
                ):
                    in_force[c.side] = c
                    found.append((k, self.plan(route, day, in_force)))
            self._steps[(route, day)] = found
        return found

    def plan(self, route: Route, day: dt.date, in_force: dict[str, CapacityCap]) -> dict[Any, int]:
        binding = planning.binding_of(in_force, route[1], route[2])
        return planning.slot_plan(binding, _hours(route[0], day)) if binding else {}

    def binding(self, route: Route, day: dt.date) -> planning.Binding | None:
        """The binding cap of the day from every logged cap (what the day plan must say)."""
        return planning.binding_of(_in_force(self.caps[route], day), route[1], route[2])


def _slots(s: Session, report: Report, caps: list[CapacityCap]) -> None:
    """Each slot's counter, capacity and day plan against the bookings and the logged caps.

    A cap set at time t re-plans only slots that had not begun (see ``planning.replan``), so
    a slot keeps the capacity of the caps set before it began (or before its day was planned,
    when that was later): the plan of those caps, replayed in the order they were set.
    """
    plans = _Plans(caps)
    held = dict(
        s.execute(
            select(Booking.slot_id, func.count())
            .where(Booking.status.not_in(sorted(states.SLOT_RELEASED)))
            .group_by(Booking.slot_id)
        ).all()
    )
    days = {
        ((p.crossing_code, p.exit_country, p.entry_country), p.day): p
        for p in s.execute(select(DayPlan.__table__))
    }
    seen: dict[tuple[Route, dt.date], set[Any]] = defaultdict(set)
    stmt = select(Slot.__table__).order_by(Slot.id).execution_options(yield_per=5000)
    for slot in s.execute(stmt):
        route: Route = (slot.crossing_code, slot.exit_country, slot.entry_country)
        key = (slot.hour, slot.quota_class)
        entity = (
            f"slot {slot.crossing_code} {slot.exit_country}→{slot.entry_country} "
            f"{slot.day} {slot.hour:02d}:00 {slot.quota_class}"
        )
        seen[(route, slot.day)].add(key)
        report.checked["slots"] += 1
        if slot.booked != held.get(slot.id, 0):
            report.add(
                entity,
                f"booked is {slot.booked}; {held.get(slot.id, 0)} booking(s) hold it "
                "(not cancelled or expired)",
            )
        if (route, slot.day) not in days:
            report.add(entity, "its day has no day plan in queue_day_plans")
        plan = days.get((route, slot.day))
        steps = plans.steps(route, slot.day)
        n = plans.applied(route, slot.starts_at, plan.planned_at if plan else None)
        at_start = [p for k, p in steps if k <= n][-1]
        if key in at_start:
            allowed = [at_start[key]]
        else:  # no row then: made later by a re-plan that began to plan it, or zeroed earlier
            later = [p[key] for k, p in steps if k > n and key in p]
            allowed = sorted({0, *later[:1]})
        if not any(key in p for _, p in steps):
            report.add(entity, "no logged cap ever planned this slot")
        elif slot.capacity not in allowed:
            gives = f"give {allowed[0]}" if len(allowed) == 1 else f"give one of {allowed}"
            report.add(entity, f"capacity is {slot.capacity}; the logged caps {gives}")
    for (route, day), p in days.items():
        entity = f"day plan {route[0]} {route[1]}→{route[2]} {day}"
        report.checked["day plans"] += 1
        binding = plans.binding(route, day)
        want = (binding.daily_cap, binding.cap_ids) if binding else (0, [])
        if (p.daily_cap, sorted(p.cap_ids)) != want:
            report.add(
                entity,
                f"daily cap {p.daily_cap} from caps {p.cap_ids}; the logged caps give "
                f"{want[0]} from {want[1]}",
            )
        current = plans.plan(route, day, _in_force(plans.caps[route], day))
        for hour, cls in sorted(current.keys() - seen.get((route, day), set())):
            report.add(entity, f"slot {hour:02d}:00 {cls} is missing from queue_slots")


def _in_force(caps: list[CapacityCap], day: dt.date) -> dict[str, CapacityCap]:
    out: dict[str, CapacityCap] = {}
    for c in sorted(caps, key=lambda c: (c.valid_from, c.version)):
        if c.valid_from <= day:
            out[c.side] = c
    return out
