"""The truck's side of a consignment: its e-queue slot, arrival, and both checkpoints' events.

Stage times follow the demo crossing (``demo/crossing.py``, itself after the twin's
``khorgos-digital`` scenario): call-forward after a crossing-specific queue (only while the
crossing is open), gate-in, document control (long for yellow and red lanes of the side that
lodged the declaration), weighing, X-ray by lane, physical inspection, a hold when duties are
due, exit gate, neutral zone, the entry side's controls, release or refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from silkgate.analytics.generator_ids import (
    US_PER_DAY,
    US_PER_HOUR,
    US_PER_MIN,
    lognormal,
    minutes,
    tri,
)
from silkgate.analytics.generator_world import Crossing

HOURS = np.array([1, 1, 1, 1, 1, 2, 4, 6, 8, 9, 9, 9, 8, 8, 8, 8, 7, 6, 5, 4, 3, 2, 2, 1], float)
WALK_IN, LATE, NO_SHOW, CANCEL, ABANDON = 0.10, 0.06, 0.08, 0.03, 0.01
GRACE_MIN = 60  # the e-queue's default lateness after the slot hour
SCAN = np.array([0.10, 0.10, 0.50, 1.0])  # X-ray share by lane (no declaration: as green)
RANDOM_INSPECTION = 0.015  # green and blue lanes inspected at random
OTHER_SIDE_INSPECTION = 0.03  # a side without a declaration of its own inspects at random
ENTRY_REFUSAL = 0.01  # refused at entry for other agencies (permits, phytosanitary)
REFUSED_IF_FOUND = 0.15  # an entry discrepancy turns the truck back; the rest pay duties
CORRECTED = 0.025  # trucks whose exit document-control end is first reported 10 hours off
READ_POINTS = (
    "waiting_area",
    "called_forward",
    "gate_in",
    "document_control_start",
    "document_control_end",
    "weighing",
    "scanning",
    "physical_inspection_start",
    "physical_inspection_end",
    "exit_gate",
    "neutral_zone",
    "entry_gate_in",
    "entry_controls",
    "release",
    "refusal",
)
RP = {name: i for i, name in enumerate(READ_POINTS)}
#: The demo's reporters: e-port operators report these points, customs the controls.
EPORT_POINTS = np.isin(
    READ_POINTS,
    (
        "waiting_area",
        "called_forward",
        "gate_in",
        "weighing",
        "exit_gate",
        "neutral_zone",
        "entry_gate_in",
    ),
)
BIZ_STEPS = ("arriving", "inspecting", "departing", "accepting", "holding")
BIZ_STEP = np.array([0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 0, 1, 3, 4])
DISPOSITIONS = ("conformant", "non_conformant")


class Places:
    """Per-crossing opening hours as arrays, for vectorised look-ups by consignment."""

    def __init__(self, crossings: tuple[Crossing, ...], offset_h: int) -> None:
        self.offset = offset_h * US_PER_HOUR
        self.opens = np.array([c.opens for c in crossings])
        self.closes = np.array([c.closes for c in crossings])
        self.days_open = np.array([c.days_open for c in crossings])
        self.always = (self.closes - self.opens == 1440) & self.days_open.all(1)
        hour_open = (self.opens[:, None] <= 60 * np.arange(24)) & (
            60 * np.arange(1, 25) <= self.closes[:, None]
        )
        p = HOURS * hour_open
        self.hour_cum = np.cumsum(p / p.sum(1, keepdims=True), 1)
        self.queue = np.array([c.queue for c in crossings])

    def next_open(self, t: np.ndarray, c: np.ndarray) -> np.ndarray:
        """The first instant at or after ``t`` the crossing calls trucks forward."""
        day = (t + self.offset) // US_PER_DAY
        out, done = t.copy(), self.always[c].copy()
        for k in range(4):
            d = day + k
            start = d * US_PER_DAY - self.offset
            cand = np.maximum(t, start + self.opens[c] * US_PER_MIN)
            ok = (
                ~done
                & self.days_open[c, (d + 3) % 7]
                & (cand < start + self.closes[c] * US_PER_MIN)
            )
            out[ok] = cand[ok]
            done |= ok
        return out

    def open_day(self, day: np.ndarray, c: np.ndarray) -> np.ndarray:
        return self.days_open[c, (day + 3) % 7]


@dataclass
class Schedule:
    """When the consignment is declared, booked and arrives (``slot``: its hour, µs UTC)."""

    walkin: np.ndarray
    late: np.ndarray
    ghost: np.ndarray  # 0 none, 1 an earlier booking it did not show up for, 2 one it cancelled
    abandoned: np.ndarray  # lodged, then cancelled: the truck never comes
    slot: np.ndarray
    arrival: np.ndarray
    first_lodged: np.ndarray
    ghost_slot: np.ndarray
    ghost_created: np.ndarray
    ghost_end: np.ndarray  # its no-show mark or cancellation
    booked_at: np.ndarray
    cancelled_at: np.ndarray  # abandoned consignments


def schedule(
    rng: np.random.Generator, pl: Places, crossing: np.ndarray, day_epoch: np.ndarray
) -> Schedule:
    n = len(crossing)
    u = rng.random((6, n))
    hour = (u[0][:, None] > pl.hour_cum[crossing]).sum(1)
    slot = day_epoch * US_PER_DAY + hour * US_PER_HOUR - pl.offset
    walkin = u[1] < WALK_IN
    late = ~walkin & (u[2] < LATE)
    ghost = np.where(
        walkin, 0, np.where(u[3] < NO_SHOW, 1, np.where(u[3] < NO_SHOW + CANCEL, 2, 0))
    )
    abandoned = u[4] < ABANDON
    ghost[abandoned] = 0
    on_time = np.clip(tri(rng, -60, 0, 120, n), -60, 60 + GRACE_MIN - 1)
    offset = np.where(late, 60 + GRACE_MIN + tri(rng, 10, 60, 300, n), on_time)
    arrival = slot + np.where(walkin, minutes(rng.uniform(0, 60, n)), minutes(offset))
    back = rng.integers(1, 3, n)  # an earlier booking 1-2 days before, on an open day
    for _ in range(3):
        back += ~pl.open_day(day_epoch - back, crossing)
    ghost_slot = slot - back * US_PER_DAY
    lead = minutes(tri(rng, 90, 360, 2160, n))
    first = np.where(ghost > 0, ghost_slot, slot) - lead
    first = np.where(walkin, np.minimum(first, arrival - minutes(30)), first)
    ghost_created = first + minutes(tri(rng, 2, 10, 40, n))
    cancel = ghost_created + (rng.uniform(0.2, 0.8, n) * (ghost_slot - ghost_created)).astype(
        np.int64
    )
    ghost_end = np.where(ghost == 1, ghost_slot + (60 + GRACE_MIN) * US_PER_MIN, cancel)
    booked = np.where(ghost > 0, ghost_end + minutes(rng.uniform(5, 120, n)), ghost_created)
    booked = np.where(walkin, arrival, booked)
    gone = booked + (rng.uniform(0.2, 0.8, n) * (slot - booked)).astype(np.int64)
    return Schedule(
        walkin,
        late,
        ghost,
        abandoned,
        slot,
        arrival,
        first,
        ghost_slot,
        ghost_created,
        ghost_end,
        booked,
        gone,
    )


@dataclass
class Passage:
    """Both checkpoints' times of each consignment (µs UTC); (C, 2) arrays: exit side, entry
    side. Computed for every consignment; those abandoned emit no events."""

    travel: np.ndarray
    arrival: np.ndarray
    call: np.ndarray
    gate_in: np.ndarray
    doc_start: np.ndarray
    doc_end: np.ndarray = field(init=False)
    weighing: np.ndarray = field(init=False)
    scanned: np.ndarray = field(init=False)
    scan_at: np.ndarray = field(init=False)
    inspected: np.ndarray = field(init=False)
    inspection_start: np.ndarray = field(init=False)
    inspection_end: np.ndarray = field(init=False)
    found: np.ndarray = field(init=False)
    released_exit: np.ndarray = field(init=False)
    exit_gate: np.ndarray = field(init=False)
    neutral_zone: np.ndarray = field(init=False)
    entry_gate_in: np.ndarray = field(init=False)
    entry_controls: np.ndarray = field(init=False)
    refused: np.ndarray = field(init=False)
    end: np.ndarray = field(init=False)  # release or refusal

    @staticmethod
    def start(rng: np.random.Generator, pl: Places, crossing: np.ndarray, s: Schedule) -> Passage:
        n = len(crossing)
        wait = np.clip(lognormal(rng, pl.queue[crossing, 0], pl.queue[crossing, 1], n), 5 / 60, 48)
        call = pl.next_open(s.arrival + minutes(wait * 60), crossing)
        gate_in = call + minutes(tri(rng, 5, 10, 20, n))
        doc = np.zeros((n, 2), np.int64)
        doc[:, 0] = gate_in + minutes(tri(rng, 0.5, 2, 6, n))
        p = Passage(~s.abandoned, s.arrival, call, gate_in, doc)
        for name in ("doc_end", "weighing", "scan_at", "inspection_start", "inspection_end"):
            setattr(
                p, name, np.zeros((n, 2), np.int64) if name != "weighing" else np.zeros(n, np.int64)
            )
        for name in ("scanned", "inspected", "found"):
            setattr(p, name, np.zeros((n, 2), bool))
        return p

    def controls(
        self,
        rng: np.random.Generator,
        side: int,
        lane: np.ndarray,
        found: Callable[[np.ndarray, np.ndarray], np.ndarray],
    ) -> None:
        """Document control, weighing (exit), X-ray and inspection on one side. ``lane``: the
        final lane of the declaration lodged with this side, -1 if none; ``found``: a function
        (inspected, lane) → whether the inspection finds a discrepancy."""
        n = len(lane)
        full = lane >= 2
        t = self.doc_start[:, side] + minutes(
            np.where(full, lognormal(rng, 36, 24, n), tri(rng, 2, 4, 10, n))
        )
        self.doc_end[:, side] = t
        if side == 0:
            t = t + minutes(tri(rng, 1, 3, 8, n))
            self.weighing = t
        share = SCAN[np.maximum(lane, 0)]
        if side == 1:
            share = np.where(self.scanned[:, 0] & ~full, 0.0, share)  # images are shared
        scan = rng.random(n) < share
        self.scan_at[:, side] = t + minutes(tri(rng, 3, 5, 10, n))
        t = np.where(scan, self.scan_at[:, side], t)
        u = rng.random(n)
        own = lane >= 0
        inspect = full | (own & (u < RANDOM_INSPECTION)) | (~own & (u < OTHER_SIDE_INSPECTION))
        hit = found(inspect, lane)
        self.inspection_start[:, side] = t + minutes(tri(rng, 5, 15, 40, n))
        self.inspection_end[:, side] = self.inspection_start[:, side] + minutes(
            lognormal(rng, 60, 30, n)
        )
        t = np.where(inspect, self.inspection_end[:, side], t)
        self.scanned[:, side], self.inspected[:, side], self.found[:, side] = scan, inspect, hit
        if side == 0:
            self.released_exit = t + np.where(hit, minutes(tri(rng, 30, 90, 240, n)), 0)
            self.exit_gate = self.released_exit + minutes(tri(rng, 2, 5, 15, n))
            self.neutral_zone = self.exit_gate + minutes(tri(rng, 2, 4, 8, n))
            self.entry_gate_in = self.neutral_zone + minutes(tri(rng, 8, 16, 37, n))
            self.doc_start[:, 1] = self.entry_gate_in + minutes(tri(rng, 0.5, 2, 6, n))
            return
        self.entry_controls = t + minutes(tri(rng, 2, 5, 12, n))
        self.refused = (hit & (rng.random(n) < REFUSED_IF_FOUND)) | (rng.random(n) < ENTRY_REFUSAL)
        held = np.where(hit, minutes(tri(rng, 30, 90, 240, n)), 0)
        self.end = self.entry_controls + np.where(
            self.refused, minutes(tri(rng, 5, 20, 60, n)), held + minutes(tri(rng, 0.5, 1, 3, n))
        )


@dataclass
class Events:
    """Gate events as numbers: consignment, read point, side (0 exit, 1 entry), time,
    disposition (-1 none); ``corrects``: row of the event a correction names, -1 if none."""

    ship: np.ndarray
    point: np.ndarray
    side: np.ndarray
    time: np.ndarray
    disposition: np.ndarray
    corrects: np.ndarray
    record: np.ndarray


def events(rng: np.random.Generator, p: Passage) -> Events:
    parts: list[tuple[np.ndarray, int, int, np.ndarray, np.ndarray]] = []

    def add(
        point: str,
        side: int,
        t: np.ndarray,
        mask: np.ndarray | None = None,
        disposition: np.ndarray | int = -1,
    ) -> None:
        keep = p.travel if mask is None else p.travel & mask
        idx = np.flatnonzero(keep)
        disp = np.broadcast_to(disposition, keep.shape)[idx]
        parts.append((idx, RP[point], side, t[idx], disp))

    add("waiting_area", 0, p.arrival)
    add("called_forward", 0, p.call)
    add("gate_in", 0, p.gate_in)
    for side in (0, 1):
        if side == 1:
            add("entry_gate_in", 1, p.entry_gate_in)
        add("document_control_start", side, p.doc_start[:, side])
        add("document_control_end", side, p.doc_end[:, side], disposition=0)
        if side == 0:
            add("weighing", 0, p.weighing)
        verdict = p.found[:, side].astype(np.int64)
        add("scanning", side, p.scan_at[:, side], p.scanned[:, side], verdict)
        add("physical_inspection_start", side, p.inspection_start[:, side], p.inspected[:, side])
        add(
            "physical_inspection_end",
            side,
            p.inspection_end[:, side],
            p.inspected[:, side],
            verdict,
        )
        if side == 0:
            add("exit_gate", 0, p.exit_gate, disposition=0)
            add("neutral_zone", 0, p.neutral_zone)
    add("entry_controls", 1, p.entry_controls)
    add("release", 1, p.end, ~p.refused, 0)
    add("refusal", 1, p.end, p.refused, 1)
    ship = np.concatenate([x[0] for x in parts])
    point = np.concatenate([np.full(len(x[0]), x[1]) for x in parts])
    sides = np.concatenate([np.full(len(x[0]), x[2]) for x in parts])
    time = np.concatenate([x[3] for x in parts])
    disp = np.concatenate([x[4] for x in parts]).astype(np.int64)
    n = len(ship)
    eport = EPORT_POINTS[point]
    delay = 1 + rng.exponential(np.where(eport, 20.0, 90.0))
    delay += np.where(rng.random(n) < 0.01, rng.uniform(3600, 6 * 3600, n), 0)
    record = time + (delay * 1_000_000).astype(np.int64)
    corrects = np.full(n, -1, np.int64)
    # the wrong report keeps its row (10 hours early); the correction is a new row naming it
    wrong = np.flatnonzero(
        (point == RP["document_control_end"])
        & (sides == 0)
        & (rng.random(len(p.travel)) < CORRECTED)[ship]
    )
    fixed_at = record[wrong] + minutes(tri(rng, 10, 30, 90, len(wrong)))
    time_ok = time[wrong].copy()
    time[wrong] -= 10 * US_PER_HOUR
    return Events(
        ship=np.concatenate([ship, ship[wrong]]),
        point=np.concatenate([point, point[wrong]]),
        side=np.concatenate([sides, sides[wrong]]),
        time=np.concatenate([time, time_ok]),
        disposition=np.concatenate([disp, disp[wrong]]),
        corrects=np.concatenate([corrects, wrong]),
        record=np.concatenate([record, fixed_at]),
    )
