"""Who reads a gate event: the policy decision over the ``gate_events`` category.

A stored event is a record owned by the reporting checkpoint's organization and held by the
reporting side's state: that side's customs and e-port operator read it as authority at the
crossings they serve. The declarant of a declaration the event names, and the organization
that booked the truck (its booking named, or the event within days of its slot at that
crossing) read it as parties. The other side's customs reads it under the shipped
``default-gate-events-…`` agreement (purpose ``customs_control`` or ``queue_management``).
A timeline entry carries only the fields the decision allows (``DETAIL_FIELDS``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from silkgate.core.times import as_utc as utc
from silkgate.exchange.agreements.enforce import Point, covers, narrowed
from silkgate.exchange.agreements.policy import Decision
from silkgate.exchange.agreements.records import gate_event_record
from silkgate.gates.models import GateEvent
from silkgate.queue.models import Booking

#: An event is shown as a timeline entry only if its time, stage and side are allowed.
ENTRY_POINTERS = ("/eventTime", "/readPoint", "/side")
#: The event fields (catalogue pointers) behind each detail of a timeline entry.
DETAIL_FIELDS: dict[str, str] = {
    "eventId": "/event_id",
    "bizStep": "/bizStep",
    "eventTime": "/eventTime",
    "reporter": "/reporter",
    "truck": "/truck",
    "disposition": "/disposition",
    "corrects": "/corrects",
}
#: The declarations an event names (they tell the passage's direction in the intervals).
REFS_POINTER = "/bizTransactionList"

# a carrier sees its truck's events from this long before its slot to this long after
CARRIER_WINDOW = (timedelta(days=2), timedelta(days=3))


def is_party(
    e: GateEvent,
    own_decls: set[str],
    refs: list[tuple[str, str]],
    own_bookings: list[Booking],
) -> bool:
    """The caller declared a declaration the event names, or booked the truck (its booking
    named, or the event within days of its slot at that crossing)."""
    if any(kind == "declaration" and r in own_decls for kind, r in refs):
        return True
    named = {r for kind, r in refs if kind == "booking"}
    before, after = CARRIER_WINDOW
    return any(
        b.id in named
        or (
            b.crossing_code == e.crossing_code
            and utc(b.starts_at) - before <= utc(e.event_time) <= utc(b.starts_at) + after
        )
        for b in own_bookings
    )


def readable(
    point: Point,
    events: Iterable[GateEvent],
    refs: dict[str, list[tuple[str, str]]],
    own_decls: set[str],
    own_bookings: list[Booking],
    flagged: set[str],
) -> list[tuple[GateEvent, Decision]]:
    """The events the decision lets the caller read as timeline entries, with their decisions
    (the disclosures they make are noted on ``point``). An event withheld only for want of a
    declared purpose adds the purposes that would serve it to ``flagged`` and ends the pass:
    the caller answers 400."""
    me = point.caller.member_id
    out = []
    for e in events:
        mine = is_party(e, own_decls, refs.get(e.event_id, []), own_bookings)
        record = gate_event_record(e, [me] if mine else [])
        decision = point.decide_or_flag(record, flagged)
        if flagged:
            return []
        if not all(covers(decision, p) for p in ENTRY_POINTERS):
            continue
        out.append((e, decision))
        shown = {*ENTRY_POINTERS, *(p for p in DETAIL_FIELDS.values() if covers(decision, p))}
        if covers(decision, REFS_POINTER):
            shown.add(REFS_POINTER)
        point.disclose(record, e.event_id, narrowed(decision, shown))
    return out


def detail(e: GateEvent, decision: Decision) -> dict[str, Any]:
    """The entry's detail: the event's id, step, time, reporter, truck, disposition and the
    event it corrects, as far as the decision allows."""
    c = e.content
    out: dict[str, Any] = {
        "eventId": e.event_id,
        "bizStep": e.biz_step,
        "eventTime": c.get("eventTime"),
        "reporter": e.reporter,
        "truck": e.truck,
    }
    if e.disposition:
        out["disposition"] = e.disposition
    if e.corrects:
        out["corrects"] = e.corrects
    if decision.full:
        return out
    return {k: v for k, v in out.items() if covers(decision, DETAIL_FIELDS[k])}
