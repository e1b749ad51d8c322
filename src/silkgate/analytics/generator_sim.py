"""A few days of the demo-scale year, as numbers: consignments, their items, both sides'
declarations and lanes, the trucks' passages and gate events (strings come later, in
``generator_tables``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from silkgate.analytics import generator_border as border
from silkgate.analytics import generator_control as control
from silkgate.analytics import generator_trade as trade
from silkgate.analytics.generator_ids import US_PER_MIN, minutes, tri
from silkgate.analytics.generator_world import (
    Calendar,
    Catalog,
    Crossing,
    Declarants,
    Fleet,
    Traders,
    load_crossings,
)


@dataclass
class World:
    """Everything that stays the same through the year, and the id counters that do not."""

    seed: int
    year: int
    offset_h: int
    crossings: tuple[Crossing, ...]
    places: border.Places
    calendar: Calendar
    catalog: Catalog
    traders: tuple[Traders, Traders]
    declarants: Declarants
    per_shipment: np.ndarray
    fleet: Fleet
    caps: np.ndarray  # (crossing, direction): the e-queue's daily cap
    counters: dict[str, int] = field(default_factory=dict)

    @staticmethod
    def build(seed: int, year: int, goods_items: int, offset_h: int) -> World:
        crossings = load_crossings()
        cal = Calendar.build(year, crossings)
        per_shipment = trade.rows_per_shipment(seed)
        trips = goods_items / float((cal.weights.sum((0, 2)) * per_shipment).sum())
        return World(
            seed=seed,
            year=year,
            offset_h=offset_h,
            crossings=crossings,
            places=border.Places(crossings, offset_h),
            calendar=cal,
            catalog=Catalog.build(),
            traders=(Traders.build(0, seed), Traders.build(1, seed)),
            declarants=Declarants(crossings),
            per_shipment=per_shipment,
            fleet=Fleet(seed, crossings, trips),
            caps=np.ceil(trips * cal.weights.max(2) * 1.1 / 10) * 10,
        )

    def take(self, name: str, n: int) -> np.ndarray:
        """The next ``n`` numbers of a sequence (ids stay unique across chunks)."""
        first = self.counters.get(name, 0)
        self.counters[name] = first + n
        return np.arange(first, first + n, dtype=np.int64)


@dataclass
class Chunk:
    chunk: int
    s: trade.Shipments
    items: trade.Items
    parties: trade.Parties
    schedule: border.Schedule
    passage: border.Passage
    lodged: np.ndarray  # (C, 2): version 1 lodged, per side
    amended: np.ndarray  # (C, 2): version 2 lodged (where amended)
    lanes: tuple[control.Assessed, control.Assessed]
    events: border.Events
    nationality: np.ndarray
    truck: np.ndarray
    lodging: np.ndarray  # (C, 2): country index each side's declaration is lodged with
    days: np.ndarray  # the chunk's crossing days (index within the year)


def simulate(w: World, chunk: int, days: np.ndarray, target: int) -> Chunk:
    """Consignments whose crossing day is one of ``days`` (``chunk``: their place in the year)."""
    rng = np.random.default_rng([w.seed, w.year, chunk])
    cat = w.catalog
    s = trade.plan(rng, w.calendar, days, target, w.per_shipment)
    items = trade.draw_items(rng, cat, s, int(w.calendar.month_of_day[days[0]]))
    parties = trade.draw_parties(rng, w.traders, s, items, cat)
    sched = border.schedule(rng, w.places, s.crossing, w.calendar.first_day + s.day)
    p = border.Passage.start(rng, w.places, s.crossing, sched)
    n = len(s)
    lodging = np.column_stack([s.direction, 1 - s.direction])
    vehicles = np.logical_or.reduceat(cat.chapter[items.commodity] == 87, items.start)
    aeo = np.zeros(n, bool)
    for r in (0, 1):
        sel = s.direction == r
        aeo[sel] = w.traders[r].aeo[parties.exporter[sel]]
    scored = np.array([c.scored for c in w.crossings])[s.crossing]
    lodged = np.zeros((n, 2), np.int64)
    amended = np.zeros((n, 2), np.int64)
    lanes: list[control.Assessed] = []
    for side in (0, 1):
        if side == 1:  # the import: pre-arrival, before the truck reaches the entry gate
            later = lodged[:, 0] + minutes(tri(rng, 30, 180, 1440, n))
            limit = np.where(
                sched.abandoned,
                sched.cancelled_at - 10 * US_PER_MIN,
                p.entry_gate_in - minutes(rng.uniform(30, 120, n)),
            )
            lodged[:, 1] = np.where(s.kind == 2, sched.first_lodged, np.minimum(later, limit))
        else:
            lodged[:, 0] = sched.first_lodged
        deadline = np.where(sched.abandoned, sched.cancelled_at, p.doc_start[:, side])
        room = deadline - lodged[:, side]
        amended[:, side] = lodged[:, side] + (rng.uniform(0.2, 0.6, n) * room).astype(np.int64)
        a = control.assess(
            rng,
            w.year,
            w.offset_h,
            s.has[:, side],
            s.amend[:, side],
            (lodged[:, side], amended[:, side]),
            deadline,
            scored,
            parties.bad[:, side],
            vehicles,
            aeo,
            s.crossing * 2 + lodging[:, side],
        )
        lanes.append(a)
        bad = parties.bad[:, side]

        def found(inspected: np.ndarray, lane: np.ndarray, bad: np.ndarray = bad) -> np.ndarray:
            return control.found(rng, inspected, lane, bad)

        p.controls(rng, side, a.final, found)
    events = border.events(rng, p)
    nationality, truck = w.fleet.assign(rng, s.crossing, s.direction, sched.arrival)
    return Chunk(
        chunk,
        s,
        items,
        parties,
        sched,
        p,
        lodged,
        amended,
        (lanes[0], lanes[1]),
        events,
        nationality,
        truck,
        lodging,
        days,
    )
