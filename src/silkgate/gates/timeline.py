"""One view per truck or per declaration: declaration states, lane, bookings, both sides' events.

Entitlement: the declarant sees events naming its declarations; customs of a crossing see that
crossing; an e-port operator sees its own side of its crossing. Nothing visible → 404.
Gate events carry no driver data; declaration states carry no payload.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any, Protocol

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from silkgate.audit.service import trail
from silkgate.core.errors import NotFound
from silkgate.core.platform import Platform
from silkgate.declarations.access import View, view_of
from silkgate.declarations.models import Declaration
from silkgate.gates import kpi
from silkgate.gates.ingest import truck_key
from silkgate.gates.models import GateEvent, GateEventRef
from silkgate.gates.schemas import Timeline, TimelineEntry
from silkgate.gates.service import crossing_sides
from silkgate.registry.schemas import Role
from silkgate.registry.service import Caller


class BookingSource(Protocol):
    """What the e-queue offers the timeline: booking and queue entries for trucks/declarations."""

    def entries(
        self, session: Session, truck: str | None, declaration_ids: list[str]
    ) -> list[TimelineEntry]: ...


BOOKING_SOURCES: list[BookingSource] = []  # the queue package registers itself here


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
            for e in s.scalars(select(GateEvent).where(GateEvent.corrects.in_(frontier)))
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


def _truck_events(s: Session, truck: str) -> tuple[list[GateEvent], dict[str, list[str]]]:
    """``effective_events`` and ``refs_of`` of one truck in a single query (a correction
    keeps the truck, so the truck's rows hold every correction): one round trip fewer."""
    events: dict[str, GateEvent] = {}
    refs: dict[str, list[str]] = {}
    stmt = (
        select(GateEvent, GateEventRef.ref_type, GateEventRef.ref)
        .outerjoin(GateEventRef, GateEventRef.event_id == GateEvent.event_id)
        .where(GateEvent.truck == truck)
    )
    for e, kind, ref in s.execute(stmt):
        events[e.event_id] = e
        if kind == "declaration":
            refs.setdefault(e.event_id, []).append(ref)
    effective = _uncorrected(events.values())
    return effective, {e.event_id: refs[e.event_id] for e in effective if e.event_id in refs}


def refs_of(s: Session, ids: Iterable[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    ids = list(ids)
    if not ids:
        return out
    # ref_type is filtered here, not in SQL: SQLite without statistics would otherwise walk
    # the (ref_type, ref) index over every declaration reference instead of the event ids.
    rows = s.execute(
        select(GateEventRef.event_id, GateEventRef.ref_type, GateEventRef.ref).where(
            GateEventRef.event_id.in_(ids)
        )
    )
    for eid, kind, ref in rows:
        if kind == "declaration":
            out.setdefault(eid, []).append(ref)
    return out


def _may_see(caller: Caller, e: GateEvent, own_decls: set[str], refs: list[str]) -> bool:
    return _role_sees(caller, e) or any(r in own_decls for r in refs)


def _role_sees(caller: Caller, e: GateEvent) -> bool:
    """Customs of the crossing, or the e-port operator of that side, see the event."""
    if caller.has(Role.CUSTOMS) and e.crossing_code in caller.crossings:
        return True
    return bool(
        caller.has(Role.E_PORT) and e.crossing_code in caller.crossings and e.side == caller.country
    )


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


def truck_timeline(platform: Platform, caller: Caller, nationality: str, plate: str) -> Timeline:
    truck = truck_key(nationality.upper(), plate.upper())
    with platform.db.session() as s:
        events, refs = _truck_events(s, truck)
        own: set[str] = set()
        if BOOKING_SOURCES or not all(_role_sees(caller, e) for e in events):
            # only a declarant's view, or a booking source, needs the caller's declarations
            own = _own_declarations(s, caller, {r for rs in refs.values() for r in rs})
        visible = [e for e in events if _may_see(caller, e, own, refs.get(e.event_id, []))]
        if not visible:
            raise NotFound(f"truck {truck}")
        extra = [x for src in BOOKING_SOURCES for x in src.entries(s, truck, sorted(own))]
        return _build(truck, None, visible, refs, extra)


def declaration_timeline(platform: Platform, caller: Caller, declaration_id: str) -> Timeline:
    with platform.db.session() as s:
        d = s.get(Declaration, declaration_id)
        if d is None:
            raise NotFound(f"declaration {declaration_id}")
        view = view_of(caller, d)
        tagged = select(GateEventRef.event_id).where(
            GateEventRef.ref_type == "declaration", GateEventRef.ref == declaration_id
        )
        events = effective_events(s, GateEvent.event_id.in_(tagged))
        refs = refs_of(s, (e.event_id for e in events))
        own = {declaration_id} if d.declarant_org_id == caller.id else set()
        visible = [e for e in events if _may_see(caller, e, own, refs.get(e.event_id, []))]
        if view is View.NONE and not visible:
            raise NotFound(f"declaration {declaration_id}")
        extra: list[TimelineEntry] = []
        if view is not View.NONE:
            for a in trail(s, "declaration", declaration_id):
                extra.append(
                    TimelineEntry(
                        at=a.at, kind="declaration", what=a.action, detail={"actor": a.actor}
                    )
                )
            extra += [x for src in BOOKING_SOURCES for x in src.entries(s, None, [declaration_id])]
        return _build(
            f"declaration {declaration_id}",
            d.lane if view is not View.NONE else None,
            visible,
            refs,
            extra,
        )


def _build(
    subject: str,
    lane: str | None,
    events: list[GateEvent],
    refs: dict[str, list[str]],
    extra: list[TimelineEntry],
) -> Timeline:
    entries = [
        TimelineEntry(
            at=e.event_time,
            kind="gate_event",
            what=e.read_point,
            side=e.side,
            detail=_detail(e),
        )
        for e in events
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
            tuple(refs.get(e.event_id, [])),
        )
        for e in events
    ]
    intervals: dict[str, float] = {}
    for p in kpi.passages(evs, crossing_sides()):
        for k, v in p.intervals().items():
            intervals[k] = round(intervals.get(k, 0.0) + v, 3)
    merged = sorted(entries + extra, key=lambda x: x.at)
    return Timeline(subject=subject, lane=lane, entries=merged, intervals_min=intervals)


def _detail(e: GateEvent) -> dict[str, Any]:
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
    return out
