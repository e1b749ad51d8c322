"""WCO Time Release Study figures from gate events: passages, intervals, splits, throughput,
and the e-queue's no-show rate.

Pure functions over ``Ev`` and ``Bk`` records so the figures can be checked by hand;
``reports`` and ``timeline`` load the records. A passage is one truck's trip through a
crossing: its events in eventTime order up to a release (entry side) or a refusal (either
side). A passage that cannot be classified for a split is in that split's ``unknown`` group.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

import numpy as np

INTERVALS = (
    "arrival_to_release",
    "queue",
    "document_control",
    "inspection",
    "neutral_zone",
    "entry_side",
)
SPLITS = ("direction", "lane", "pre_arrival", "aeo", "priority", "hour")
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Ev:
    """What the figures need of one (effective, i.e. not corrected) gate event."""

    truck: str
    crossing: str
    side: str
    read_point: str
    at: datetime  # aware, with the reporter's offset
    refs: tuple[str, ...] = ()  # declaration ids
    bookings: tuple[str, ...] = ()  # booking references


@dataclass
class Passage:
    truck: str
    crossing: str
    exit_side: str
    entry_side: str
    events: list[Ev]
    lane: str = UNKNOWN  # the declaration's risk lane; "none" when not assessed
    pre_arrival: str = UNKNOWN  # yes / no: every declaration lodged before arrival
    aeo: str = UNKNOWN  # yes / no: the booking showed an AEO certificate
    priority: str = UNKNOWN  # the booking's quota class; "live" for a walk-in
    booking: str | None = None  # the booking the passage was matched to

    @property
    def arrival(self) -> datetime:
        return self.events[0].at

    @property
    def released(self) -> datetime | None:
        return first_at(self.events, "release", self.entry_side)

    @property
    def refused(self) -> bool:
        return any(e.read_point == "refusal" for e in self.events)

    @property
    def direction(self) -> str:
        return f"{self.exit_side}->{self.entry_side}"

    def intervals(self) -> dict[str, float]:
        """Minutes per TRS interval; an interval without both ends is left out."""
        ev, x, n = self.events, self.exit_side, self.entry_side
        out: dict[str, float] = {}

        def span(name: str, a: datetime | None, b: datetime | None) -> None:
            if a is not None and b is not None and b >= a:
                out[name] = out.get(name, 0.0) + (b - a).total_seconds() / 60

        span("arrival_to_release", self.arrival, self.released)
        span("queue", first_at(ev, "waiting_area", x), first_at(ev, "gate_in", x))
        for side in (x, n):
            span(
                "document_control",
                first_at(ev, "document_control_start", side),
                first_at(ev, "document_control_end", side),
            )
            span(
                "inspection",
                first_at(ev, "physical_inspection_start", side),
                first_at(ev, "physical_inspection_end", side),
            )
        span("neutral_zone", first_at(ev, "exit_gate", x), first_at(ev, "entry_gate_in", n))
        span("entry_side", first_at(ev, "entry_gate_in", n), self.released)
        return out

    def key(self, split: str) -> str:
        if split == "hour":
            return f"{self.arrival.hour:02d}"
        return str(getattr(self, split))


def first_at(events: Iterable[Ev], point: str, side: str) -> datetime | None:
    return next((e.at for e in events if e.read_point == point and e.side == side), None)


def passages(events: Iterable[Ev], sides: dict[str, tuple[str, ...]]) -> list[Passage]:
    """Cut each truck's events (time order) into passages ending at release or refusal."""
    by_truck: dict[tuple[str, str], list[Ev]] = defaultdict(list)
    for e in events:
        by_truck[(e.crossing, e.truck)].append(e)
    out: list[Passage] = []
    for (crossing, truck), evs in by_truck.items():
        evs.sort(key=lambda e: e.at)
        current: list[Ev] = []
        for e in evs:
            current.append(e)
            if e.read_point in ("release", "refusal"):
                out.append(_passage(truck, crossing, current, sides))
                current = []
        if current:
            out.append(_passage(truck, crossing, current, sides))
    out.sort(key=lambda p: p.arrival)
    return out


def _passage(
    truck: str, crossing: str, evs: list[Ev], sides: dict[str, tuple[str, ...]]
) -> Passage:
    pair = sides.get(crossing, (evs[0].side, evs[0].side))
    exit_side = evs[0].side
    if evs[0].read_point in ("entry_gate_in", "entry_controls", "release"):
        exit_side = next((c for c in pair if c != evs[0].side), exit_side)
    entry = next((c for c in pair if c != exit_side), exit_side)
    return Passage(truck, crossing, exit_side, entry, list(evs))


@dataclass
class Stats:
    n: int
    mean_h: float | None
    median_h: float | None
    p90_h: float | None
    within_target_share: float | None = None

    @classmethod
    def of(cls, minutes: list[float], target_h: float | None = None) -> Stats:
        if not minutes:
            return cls(0, None, None, None, None)
        h = np.asarray(minutes) / 60
        share = float((h <= target_h).mean()) if target_h is not None else None
        return cls(
            len(minutes),
            round(float(h.mean()), 4),
            round(float(np.median(h)), 4),
            round(float(np.percentile(h, 90)), 4),
            None if share is None else round(share, 4),
        )


@dataclass
class TrsReport:
    """TRS figures for a set of passages, overall and split."""

    target_h: float
    as_of: datetime
    passages: int
    released: int
    refused: int
    overall: dict[str, Stats]
    splits: dict[str, dict[str, dict[str, Stats]]]
    unreleased: dict[str, float | int | None] = field(default_factory=dict)
    groups: dict[str, dict[str, int]] = field(default_factory=dict)  # passages per split key

    def rows(self) -> list[dict[str, object]]:
        """Flat rows (group, key, passages, interval, figures) for CSV."""
        out: list[dict[str, object]] = []
        groups = [("all", "all", self.passages, self.overall)] + [
            (split, key, self.groups.get(split, {}).get(key, 0), st)
            for split, keys in self.splits.items()
            for key, st in keys.items()
        ]
        for group, key, n, stats in groups:
            for interval, s in stats.items():
                out.append(
                    {"group": group, "key": key, "passages": n, "interval": interval, **s.__dict__}
                )
        return out


def trs(ps: list[Passage], target_h: float, as_of: datetime) -> TrsReport:
    """Mean, median, p90 per interval and share released within the target, overall and split."""

    def figures(group: list[Passage]) -> dict[str, Stats]:
        iv = [p.intervals() for p in group]
        return {
            name: Stats.of(
                [x[name] for x in iv if name in x],
                target_h if name == "arrival_to_release" else None,
            )
            for name in INTERVALS
        }

    splits: dict[str, dict[str, dict[str, Stats]]] = {}
    groups: dict[str, dict[str, int]] = {}
    for split in SPLITS:
        keyed: dict[str, list[Passage]] = defaultdict(list)
        for p in ps:
            keyed[p.key(split)].append(p)
        splits[split] = {k: figures(v) for k, v in sorted(keyed.items())}
        groups[split] = {k: len(v) for k, v in sorted(keyed.items())}
    waiting = [
        (as_of - p.arrival).total_seconds() / 3600
        for p in ps
        if p.released is None and not p.refused and p.arrival <= as_of
    ]
    return TrsReport(
        target_h=target_h,
        as_of=as_of,
        passages=len(ps),
        released=sum(1 for p in ps if p.released is not None),
        refused=sum(1 for p in ps if p.refused),
        overall=figures(ps),
        splits=splits,
        groups=groups,
        unreleased={
            "count": len(waiting),
            "waiting_so_far_mean_h": round(float(np.mean(waiting)), 4) if waiting else None,
            "waiting_so_far_max_h": round(max(waiting), 4) if waiting else None,
        },
    )


#: The binding daily cap of (day, exit country, entry country): (cap, side whose cap binds).
CapOf = Callable[[dt.date, str, str], tuple[int, str] | None]


def throughput(
    ps: list[Passage], tz: tzinfo = UTC, cap_of: CapOf | None = None
) -> list[dict[str, object]]:
    """Trucks per day leaving each exit side (exit gate) and released on each entry side,
    beside the day's binding cap for that direction.

    ``tz`` is the crossing's time zone (the day the cap applies to); ``cap_of`` gives the
    lower of both sides' caps in force (None when either side has none: ``cap`` null).
    """
    counts: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for p in ps:
        for e in p.events:
            day = e.at.astimezone(tz).date().isoformat()
            if e.read_point == "exit_gate" and e.side == p.exit_side:
                counts[(day, e.side, p.direction, "exited")] += 1
            elif e.read_point == "release" and e.side == p.entry_side:
                counts[(day, e.side, p.direction, "released")] += 1
    out: list[dict[str, object]] = []
    for (d, side, direction, what), n in sorted(counts.items()):
        exit_c, _, entry_c = direction.partition("->")
        cap = cap_of(dt.date.fromisoformat(d), exit_c, entry_c) if cap_of else None
        out.append(
            {
                "day": d,
                "side": side,
                "direction": direction,
                "what": what,
                "trucks": n,
                "cap": cap[0] if cap else None,
                "cap_side": cap[1] if cap else None,
                "share_of_cap": round(n / cap[0], 4) if cap and cap[0] > 0 else None,
            }
        )
    return out


def queue_length(
    ps: list[Passage], step: timedelta = timedelta(hours=1)
) -> list[dict[str, object]]:
    """Trucks in the waiting area (arrived, not yet through the gate) at each step."""
    spans = []
    for p in ps:
        a = first_at(p.events, "waiting_area", p.exit_side)
        if a is None:
            continue
        b = first_at(p.events, "gate_in", p.exit_side) or (p.events[-1].at if p.refused else None)
        spans.append((a, b))
    if not spans:
        return []
    start = min(a for a, _ in spans).replace(minute=0, second=0, microsecond=0)
    end = max(b or a for a, b in spans)
    out = []
    t = start
    while t <= end:
        n = sum(1 for a, b in spans if a <= t and (b is None or b > t))
        out.append({"at": t.isoformat(), "waiting": n})
        t += step
    return out


@dataclass(frozen=True)
class Bk:
    """What the no-show rate needs of one booking (walk-ins are not bookings here)."""

    day: dt.date  # the slot's local day
    direction: str  # "CN->KZ"
    status: str
    deadline: datetime  # slot end plus grace, aware
    no_show: bool  # the queue recorded a no-show (swept, or arrived after the deadline)


NO_SHOW_COLUMNS = (
    "booked",
    "cancelled",
    "expired",
    "pending",
    "due",
    "showed",
    "no_shows",
    "late",
    "unswept",
)


def no_show_rate(bookings: Iterable[Bk], as_of: datetime) -> list[dict[str, object]]:
    """Per slot day and direction: no-shows ÷ bookings due, every booking in one column.

    booked = cancelled + expired + pending + due; due = showed + no_shows. A booking is due
    once its deadline has passed at ``as_of`` or it has arrived; a confirmed booking past its
    deadline that the sweep has not marked yet counts as a no-show (``unswept``); ``late``
    are no-shows that arrived after all. ``rate`` is null when nothing was due.
    """
    rows: dict[tuple[dt.date, str], dict[str, int]] = {}
    for b in bookings:
        r = rows.setdefault((b.day, b.direction), dict.fromkeys(NO_SHOW_COLUMNS, 0))
        r["booked"] += 1
        if b.status in ("cancelled", "expired"):
            r[b.status] += 1
            continue
        if b.no_show:
            r["due"] += 1
            r["no_shows"] += 1
            r["late"] += int(b.status != "no_show")
        elif b.status == "confirmed":
            if b.deadline <= as_of:
                r["due"] += 1
                r["no_shows"] += 1
                r["unswept"] += 1
            else:
                r["pending"] += 1
        else:
            r["due"] += 1
            r["showed"] += 1
    return [
        {
            "day": day.isoformat(),
            "direction": direction,
            **r,
            "rate": round(r["no_shows"] / r["due"], 4) if r["due"] else None,
        }
        for (day, direction), r in sorted(rows.items())
    ]
