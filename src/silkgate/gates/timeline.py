"""One view per truck or per declaration: declaration states, lane, bookings, both sides' events.

Declaration states and lanes, and bookings, go through the policy decision point
(``exchange.agreements.enforce``): the declarant and the lodging customs see a declaration's
states and lane; the other side's customs its states under the shipped pre-arrival agreement
(purpose ``customs_control``; the lane is the lodging side's control decision and is shown only
where an agreement shares ``/lane``); bookings as ``queue.timeline`` says. A part withheld only
because no purpose was declared makes the answer 400 naming ``Silkgate-Purpose``.

Gate events too (``gates.access``): the reporting side's customs and e-port operator as
authority; the declarant of a named declaration and the organization that booked the truck as
parties; the other side's customs under the shipped ``default-gate-events-…`` agreement
(purpose ``customs_control`` or ``queue_management``). Nothing visible → 404. Gate events carry
no driver data; declaration states carry no payload, and a reader other than the declarant and
the lodging customs sees only the state changes shared with it, without the officers who made
them (``declarations.history``).

A timeline is decided by its parts' categories; agreements on the ``timeline`` category are
not consulted (see docs/exchange.md, "Enforcement").
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from silkgate.audit.service import trail
from silkgate.core.errors import NotFound
from silkgate.core.platform import Platform
from silkgate.declarations import history
from silkgate.declarations.models import Declaration
from silkgate.declarations.service import as_asking
from silkgate.exchange.agreements.catalogue import Category
from silkgate.exchange.agreements.enforce import Asking, Point, PurposeRequired, covers, narrowed
from silkgate.exchange.agreements.policy import Decision, Record
from silkgate.exchange.agreements.records import declaration_record, risk_record
from silkgate.gates import access, kpi
from silkgate.gates.ingest import truck_key
from silkgate.gates.models import GateEvent, GateEventRef
from silkgate.gates.schemas import Timeline, TimelineEntry
from silkgate.gates.service import crossing_sides
from silkgate.queue import timeline as q_timeline
from silkgate.registry.service import Caller


def effective_events(
    s: Session, where: ColumnElement[bool], closed: bool = False
) -> list[GateEvent]:
    """Events matching ``where`` and the corrections of them, minus every corrected event.

    ``closed``: ``where`` already selects every correction (true of a truck: a correction
    keeps the truck), so no further query is needed."""
    events = {e.event_id: e for e in s.scalars(select(GateEvent).where(where))}
    frontier = set() if closed else set(events)
    while frontier:
        more = [
            e
            for e in s.scalars(
                select(GateEvent).where(
                    GateEvent.corrects.is_not(None), GateEvent.corrects.in_(frontier)
                )
            )
            if e.event_id not in events
        ]
        frontier = {e.event_id for e in more}
        events.update({e.event_id: e for e in more})
    return _uncorrected(events.values())


def _uncorrected(events: Iterable[GateEvent]) -> list[GateEvent]:
    """The events no other one of them corrects, in event-time order."""
    events = list(events)
    gone = {e.corrects for e in events if e.corrects}
    return sorted(
        (e for e in events if e.event_id not in gone),
        key=lambda e: (e.event_time, e.record_time),
    )


def _truck_events(
    s: Session, truck: str
) -> tuple[list[GateEvent], dict[str, list[tuple[str, str]]]]:
    """``effective_events`` and ``refs_of`` of one truck in a single query (a correction
    keeps the truck, so the truck's rows hold every correction): one round trip fewer."""
    events: dict[str, GateEvent] = {}
    refs: dict[str, list[tuple[str, str]]] = {}
    stmt = (
        select(GateEvent, GateEventRef.ref_type, GateEventRef.ref)
        .outerjoin(GateEventRef, GateEventRef.event_id == GateEvent.event_id)
        .where(GateEvent.truck == truck)
    )
    for e, kind, ref in s.execute(stmt):
        events[e.event_id] = e
        if kind is not None:
            refs.setdefault(e.event_id, []).append((kind, ref))
    effective = _uncorrected(events.values())
    return effective, {e.event_id: refs[e.event_id] for e in effective if e.event_id in refs}


def refs_of(s: Session, ids: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    """The (type, reference) pairs of each event: declarations, bookings..."""
    out: dict[str, list[tuple[str, str]]] = {}
    ids = list(ids)
    if not ids:
        return out
    # ref_type is filtered here, not in SQL: SQLite without statistics would otherwise walk
    # the (ref_type, ref) index over every declaration reference instead of the event ids.
    for i in range(0, len(ids), 500):  # bounded IN lists
        rows = s.execute(
            select(GateEventRef.event_id, GateEventRef.ref_type, GateEventRef.ref).where(
                GateEventRef.event_id.in_(ids[i : i + 500])
            )
        )
        for eid, kind, ref in rows:
            out.setdefault(eid, []).append((kind, ref))
    return out


def _decls(refs: list[tuple[str, str]]) -> list[str]:
    return [r for kind, r in refs if kind == "declaration"]


def _own_declarations(s: Session, caller: Caller, ids: Iterable[str]) -> set[str]:
    ids = list(ids)
    if not ids:
        return set()
    return set(
        s.scalars(
            select(Declaration.id).where(
                Declaration.id.in_(ids), Declaration.declarant_org_id == caller.id
            )
        )
    )


def truck_timeline(
    platform: Platform, who: Caller | Asking, nationality: str, plate: str
) -> Timeline:
    """Everything the caller may see about one truck: its bookings, its declarations' states
    and lanes, and both sides' gate events."""
    asking = as_asking(who)
    caller = asking.caller
    nat, plate = nationality.upper(), plate.upper()
    truck = truck_key(nat, plate)
    with platform.db.session() as s:
        point = Point(platform, s, asking)
        flagged: set[str] = set()
        events, refs = _truck_events(s, truck)
        bookings = q_timeline.bookings_of(s, (nat, plate), [])
        decl_ids = {r for rs in refs.values() for r in _decls(rs)}
        decl_ids |= {d for b in bookings for d in (b.declaration_ids or [])}
        own = _own_declarations(s, caller, decl_ids)
        mine = [b for b in bookings if b.organization_id == caller.id]
        visible = access.readable(point, events, refs, own, mine, flagged)
        extra = q_timeline.booking_entries(point, s, bookings, own, flagged)
        lanes: list[str] = []
        for d in s.scalars(select(Declaration).where(Declaration.id.in_(sorted(decl_ids)))):
            states, lane = _declaration_part(point, s, d, flagged)
            extra += states
            if lane:
                lanes.append(lane)
        if flagged:
            raise PurposeRequired(flagged)
        if not visible and not extra:
            raise NotFound(f"truck {truck}")
        point.flush()
        return _build(truck, strictest(lanes), visible, refs, extra)


def strictest(lanes: list[str]) -> str | None:
    """The strictest of several declarations' lanes (red, yellow, blue, green)."""
    order = ["red", "yellow", "blue", "green"]
    known = [x for x in lanes if x in order]
    return min(known, key=order.index) if known else (lanes[0] if lanes else None)


def _declaration_entries(
    point: Point, s: Session, d: Declaration, record: Record, decision: Decision
) -> list[TimelineEntry]:
    """The declaration's audit entries the decision lets the reader see (``history``): all
    for the owner and the lodging customs, the shared state changes for anyone else."""
    return [
        TimelineEntry(
            at=a.entry.at,
            kind="declaration",
            what=a.entry.action,
            detail={"declaration": d.id, **({"actor": a.actor} if a.actor else {})},
        )
        for a in history.visible(point, record, decision, trail(s, "declaration", d.id))
    ]


def _declaration_part(
    point: Point, s: Session, d: Declaration, flagged: set[str]
) -> tuple[list[TimelineEntry], str | None]:
    """A declaration's states (when the decision allows ``/status``) and lane (when it allows
    ``/lane``, or a risk-lane agreement does), with the disclosure they make."""
    record = declaration_record(d)
    decision = point.decide_or_flag(record, flagged)
    states = _declaration_entries(point, s, d, record, decision)
    shown = {"/id", "/status"} if states else set()
    lane = None
    if d.lane and covers(decision, "/lane"):
        lane = d.lane
        shown.add("/lane")
    if shown:
        point.disclose(record, d.id, narrowed(decision, shown))
    if d.lane and lane is None:
        risk = risk_record(d, Category.RISK_LANE)
        by_risk = point.decide(risk)
        if covers(by_risk, "/lane"):
            lane = d.lane
            point.disclose(risk, d.id, narrowed(by_risk, {"/declaration_id", "/lane"}))
    return states, lane


def declaration_timeline(platform: Platform, who: Caller | Asking, declaration_id: str) -> Timeline:
    """The declaration's states and lane, the bookings moving it, the events naming it."""
    asking = as_asking(who)
    caller = asking.caller
    with platform.db.session() as s:
        d = s.get(Declaration, declaration_id)
        if d is None:
            raise NotFound(f"declaration {declaration_id}")
        point = Point(platform, s, asking)
        flagged: set[str] = set()
        tagged = select(GateEventRef.event_id).where(
            GateEventRef.ref_type == "declaration", GateEventRef.ref == declaration_id
        )
        events = effective_events(s, GateEvent.event_id.in_(tagged))
        refs = refs_of(s, (e.event_id for e in events))
        own = {declaration_id} if d.declarant_org_id == caller.id else set()
        bookings = q_timeline.bookings_of(s, None, [declaration_id])
        mine = [b for b in bookings if b.organization_id == caller.id]
        visible = access.readable(point, events, refs, own, mine, flagged)
        extra = q_timeline.booking_entries(point, s, bookings, own, flagged)
        states, lane = _declaration_part(point, s, d, flagged)
        extra += states
        if flagged:
            raise PurposeRequired(flagged)
        if not visible and not extra and lane is None:
            raise NotFound(f"declaration {declaration_id}")
        point.flush()
        return _build(f"declaration {declaration_id}", lane, visible, refs, extra)


def _build(
    subject: str,
    lane: str | None,
    events: list[tuple[GateEvent, Decision]],
    refs: dict[str, list[tuple[str, str]]],
    extra: list[TimelineEntry],
) -> Timeline:
    entries = [
        TimelineEntry(
            at=e.event_time,
            kind="gate_event",
            what=e.read_point,
            side=e.side,
            detail=access.detail(e, decision),
        )
        for e, decision in events
    ]
    gate = entries[:]
    for a, b in itertools.pairwise(gate):
        a.minutes_to_next = round((b.at - a.at).total_seconds() / 60, 3)
    evs = [
        kpi.Ev(
            e.truck,
            e.crossing_code,
            e.side,
            e.read_point,
            e.event_time,
            tuple(_decls(refs.get(e.event_id, []))) if covers(d, access.REFS_POINTER) else (),
        )
        for e, d in events
    ]
    intervals: dict[str, float] = {}
    for p in kpi.passages(evs, crossing_sides()):
        for k, v in p.intervals().items():
            intervals[k] = round(intervals.get(k, 0.0) + v, 3)
    merged = sorted(entries + extra, key=lambda x: x.at)
    return Timeline(subject=subject, lane=lane, entries=merged, intervals_min=intervals)
