"""Demand for one direction: when trucks are ready, and when they reach the first gate.

Everything here is decided before the simulation starts and is independent of congestion
at the checkpoints: hourly Poisson arrivals, priority class, pre-arrival data, risk lanes,
and, with an e-queue, booking, no-shows, lateness and rebooking (GoSwift rule: later than
the grace window means taking the next free slot). Call-forward releases a truck from the
waiting area at its slot time; the checkpoint queues are left to the engine. Trucks whose
(re)booked slot lies past the horizon are not simulated but counted.
"""

from __future__ import annotations

import heapq
import zlib
from dataclasses import dataclass

import numpy as np

from silkgate.twin.demo_traffic import DrawnTrucks, draw_trucks
from silkgate.twin.distributions import draw
from silkgate.twin.schemas import DIRECTIONS, LANES, Controls, Demand, Direction, EQueue, Scenario

MINUTES_PER_DAY = 1440


def rng_for(seed: int, replication: int, label: str) -> np.random.Generator:
    """An independent stream per (seed, replication, purpose): the same label draws the
    same numbers in two scenarios, so comparisons use common random numbers."""
    return np.random.default_rng(
        np.random.SeedSequence([seed, replication, zlib.crc32(label.encode())])
    )


def hourly_rates(demand: Demand, trucks_per_day: float, hours: int) -> np.ndarray:
    """Expected arrivals in each hour of the horizon (day 0 is a Monday)."""
    hod = np.asarray(demand.hourly_profile, dtype=float)
    dow = np.asarray(demand.weekly_profile, dtype=float)
    h = np.arange(hours)
    return trucks_per_day * (dow / dow.mean())[(h // 24) % 7] * (hod / hod.sum())[h % 24]


def poisson_arrivals(rates: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A non-homogeneous Poisson process, constant within each hour; sorted minutes."""
    counts = rng.poisson(rates)
    starts = np.repeat(np.arange(len(rates), dtype=float) * 60.0, counts)
    return np.sort(starts + rng.random(starts.size) * 60.0)


@dataclass
class Flow:
    """Trucks of one direction that show up, with their pre-drawn attributes."""

    direction: str
    equeue: bool
    ready: np.ndarray  # when the truck wanted to cross (minutes)
    at_border: np.ndarray  # arrival at the border (queue or e-queue waiting area)
    gate: np.ndarray  # arrival in the queue of the first checkpoint stage
    drive: np.ndarray  # call-forward drive from the waiting area (part of service)
    klass: np.ndarray
    pre_arrival: np.ndarray
    exit_red: np.ndarray
    exit_scan: np.ndarray
    entry_red: np.ndarray
    entry_scan: np.ndarray
    demand: int  # trucks that became ready within the horizon
    no_shows: int  # missed their slot and booked again
    rebooked: int  # came later than the grace window and booked again
    booked_beyond: int  # booked (or rebooked) to a slot after the horizon
    ready_beyond: np.ndarray  # when those trucks became ready
    at_border_beyond: np.ndarray  # when they reached the waiting area (inf: never did)
    tir: np.ndarray | None = None  # demo generator only: the declaration has a TIR carnet


def _lanes(controls: Controls, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Red-lane flag and scan flag per truck from the side's risk-selection shares."""
    shares = [getattr(controls.lanes, lane) for lane in LANES]
    lane = rng.choice(3, size=n, p=shares) if n else np.zeros(0, dtype=int)
    scan_p = np.array([getattr(controls.scan, lane) for lane in LANES])[lane]
    return lane == 2, rng.random(n) < scan_p


class SlotBook:
    """Hourly slot capacity with a next-free-hour search (union-find, path halving)."""

    def __init__(self, eq: EQueue, hours: int):
        hourly = eq.hourly()
        self.cap = [hourly[h % 24] for h in range(hours)]
        self.used = [0] * hours
        self.per_day = eq.slots_per_day
        self.day_used = [0] * (hours // 24 + 1)
        self.parent = list(range(hours + 1))
        self.hours = hours
        for h in range(hours):
            if self.cap[h] == 0:
                self.parent[h] = h + 1

    def _find(self, h: int) -> int:
        parent = self.parent
        while parent[h] != h:
            parent[h] = parent[parent[h]]
            h = parent[h]
        return h

    def take(self, minute: float) -> float:
        """Book the first free slot at or after this minute; inf past the horizon."""
        h = self._find(min(int(minute // 60), self.hours))
        if h >= self.hours:
            return float("inf")
        j = self.used[h]
        self.used[h] = j + 1
        slot = max(minute, h * 60.0 + j * 60.0 / self.cap[h])
        if j + 1 >= self.cap[h]:
            self.parent[h] = h + 1
        if self.per_day is not None:
            d = h // 24
            self.day_used[d] += 1
            if self.day_used[d] >= self.per_day:
                for k in range(d * 24, min((d + 1) * 24, self.hours)):
                    self.parent[k] = k + 1
        return slot


def _equeue(
    eq: EQueue, ready: np.ndarray, hours: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, int, int, int]:
    """Book slots, rebook no-shows and latecomers; returns (at_border, called, no-shows,
    rebooked latecomers, trucks whose slot lies past the horizon).

    Every booking request is served in the order it is made: a truck books when it becomes
    ready, a no-show books again when its delay is over (slot + delay), and a truck later
    than the grace window books again the moment it arrives (GoSwift rule). A request takes
    the first free slot at or after its own time, so a rebooking competes with the trucks
    that book at the same moment, not after everyone else. Everyone eventually shows up.
    """
    n = ready.size
    book = SlotBook(eq, hours)
    no_show = rng.random(n) < eq.no_show_share
    delay = draw(eq.no_show_delay, rng, n)
    lateness = draw(eq.lateness, rng, n)
    grace = eq.grace_minutes
    at_border = np.full(n, np.inf)
    called = np.full(n, np.inf)
    rebook: list[tuple[float, int, int]] = []  # (request minute, truck, 1 no-show | 2 late)
    ready_l, no_show_l = ready.tolist(), no_show.tolist()
    delay_l, late_l = delay.tolist(), lateness.tolist()
    at_l, called_l = at_border.tolist(), called.tolist()
    shows = lates = 0
    nxt = 0
    inf = float("inf")
    while nxt < n or rebook:
        if rebook and (nxt >= n or rebook[0][0] < ready_l[nxt]):
            t, i, kind = heapq.heappop(rebook)
        else:
            t, i, kind = ready_l[nxt], nxt, 0
            nxt += 1
        slot = book.take(t)
        if slot == inf:
            continue  # no slot before the horizon: counted, not simulated
        if kind == 2:
            called_l[i] = slot
            continue
        if kind == 0 and no_show_l[i]:
            shows += 1
            heapq.heappush(rebook, (slot + delay_l[i], i, 1))
            continue
        arrive = max(slot + late_l[i], ready_l[i])
        at_l[i] = arrive
        if late_l[i] > grace:
            lates += 1
            heapq.heappush(rebook, (arrive, i, 2))
        else:
            called_l[i] = max(slot, arrive)
    at_border, called = np.asarray(at_l), np.asarray(called_l)
    beyond = int(np.count_nonzero(~np.isfinite(called)))
    return at_border, called, shows, lates, beyond


def generator_classes(demand: Demand, tir: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Priority class per generated truck: a TIR carnet puts it in ``tir_class``; the others
    are drawn among the remaining classes in proportion to their shares."""
    classes = demand.classes
    if len(classes) == 1:
        return np.zeros(tir.size, dtype=np.int64)
    t = [c.name for c in classes].index(demand.generator_tir_class())
    shares = np.array([c.share for c in classes], dtype=float)
    shares[t] = 0.0
    klass = rng.choice(len(classes), size=tir.size, p=shares / shares.sum())
    klass[tir] = t
    return klass


def build_flows(scenario: Scenario, seed: int, replication: int, days: int) -> list[Flow]:
    """Every direction's flow; with the demo generator, both directions come from one draw."""
    drawn: dict[str, DrawnTrucks] = {}
    if scenario.demand.source == "demo-generator":
        drawn = draw_trucks(scenario, rng_for(seed, replication, "demand.generator"), days)
    return [
        build_flow(scenario, d, seed, replication, days, drawn.get(d)) for d in scenario.directions
    ]


def build_flow(
    scenario: Scenario,
    direction: str,
    seed: int,
    replication: int,
    days: int,
    drawn: DrawnTrucks | None = None,
) -> Flow:
    """Draw one direction's demand and attributes for the whole horizon.

    ``drawn`` carries trucks from the demo generator (ready times and TIR carnets); without
    it, arrivals follow the scenario's hourly and weekly profiles.
    """
    spec: Direction = scenario.directions[direction]
    exit_side, entry_side = DIRECTIONS[direction]
    rng = rng_for(seed, replication, f"demand.{direction}")
    hours = days * 24
    if drawn is None:
        ready = poisson_arrivals(hourly_rates(scenario.demand, spec.trucks_per_day, hours), rng)
        shares = [c.share for c in scenario.demand.classes]
        klass = rng.choice(len(shares), size=ready.size, p=shares)
    else:
        ready = drawn.ready
        klass = generator_classes(scenario.demand, drawn.tir, rng)
    n = ready.size
    # Pre-arrival data: with the generator every truck has a declaration, so the data
    # exists; whether the crossing uses it stays the scenario's rule (pre_arrival_share).
    pre_arrival = rng.random(n) < spec.pre_arrival_share
    lanes_rng = rng_for(seed, replication, f"lanes.{direction}")
    exit_red, exit_scan = _lanes(scenario.sides[exit_side].exit, n, lanes_rng)
    entry_red, entry_scan = _lanes(scenario.sides[entry_side].entry, n, lanes_rng)
    if scenario.sides[entry_side].entry.recognise_exit_scan:
        entry_scan &= ~exit_scan
    no_shows = rebooked = beyond = 0
    if spec.equeue is None:
        keep = np.ones(n, dtype=bool)
        at_border = gate = ready
        drive = np.zeros(n)
    else:
        eq_rng = rng_for(seed, replication, f"equeue.{direction}")
        at_border, called, no_shows, rebooked, beyond = _equeue(spec.equeue, ready, hours, eq_rng)
        keep = np.isfinite(called)
        drive = np.full(n, spec.equeue.call_forward_minutes)
        gate = called + drive
    return Flow(
        direction=direction,
        equeue=spec.equeue is not None,
        ready=ready[keep],
        at_border=at_border[keep],
        gate=gate[keep],
        drive=drive[keep],
        klass=klass[keep],
        pre_arrival=pre_arrival[keep],
        exit_red=exit_red[keep],
        exit_scan=exit_scan[keep],
        entry_red=entry_red[keep],
        entry_scan=entry_scan[keep],
        demand=n,
        no_shows=no_shows,
        rebooked=rebooked,
        booked_beyond=beyond,
        ready_beyond=ready[~keep],
        at_border_beyond=np.asarray(at_border)[~keep],
        tir=None if drawn is None else drawn.tir[keep],
    )


def interleave_pattern(ratios: list[int]) -> list[int]:
    """Class order for one round, spread out: ratios [1, 1, 5] → [0, 1, 2, 2, 2, 2, 2]
    the way eCherha serves one priority, one AEO, then five regular trucks."""
    return [k for k, r in enumerate(ratios) for _ in range(r)]
