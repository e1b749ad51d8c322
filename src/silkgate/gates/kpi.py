"""WCO Time Release Study figures from gate events: passages, intervals, splits, throughput.

Pure functions over ``Ev`` records so the figures can be checked by hand; ``service`` and
``timeline`` load the records. A passage is one truck's trip through a crossing: its events
in eventTime order up to a release (entry side) or a refusal (either side).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

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


@dataclass(frozen=True)
class Ev:
    """What the figures need of one (effective, i.e. not corrected) gate event."""

    truck: str
    crossing: str
    side: str
    read_point: str
    at: datetime  # aware, with the reporter's offset
    refs: tuple[str, ...] = ()


@dataclass
class Passage:
    truck: str
    crossing: str
    exit_side: str
    entry_side: str
    events: list[Ev]
    lane: str = "none"
    pre_arrival: str = "no"
    aeo: str = "unknown"
    priority: str = "unknown"

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

    def rows(self) -> list[dict[str, object]]:
        """Flat rows (group, key, interval, figures) for CSV."""
        out: list[dict[str, object]] = []
        groups = [("all", "all", self.overall)] + [
            (split, key, st) for split, keys in self.splits.items() for key, st in keys.items()
        ]
        for group, key, stats in groups:
            for interval, s in stats.items():
                out.append({"group": group, "key": key, "interval": interval, **s.__dict__})
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
    for split in SPLITS:
        keyed: dict[str, list[Passage]] = defaultdict(list)
        for p in ps:
            keyed[p.key(split)].append(p)
        splits[split] = {k: figures(v) for k, v in sorted(keyed.items())}
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
        unreleased={
            "count": len(waiting),
            "waiting_so_far_mean_h": round(float(np.mean(waiting)), 4) if waiting else None,
            "waiting_so_far_max_h": round(max(waiting), 4) if waiting else None,
        },
    )


def throughput(ps: list[Passage]) -> list[dict[str, object]]:
    """Trucks per local day leaving each exit side (exit gate) and released on each entry side."""
    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    for p in ps:
        for e in p.events:
            if e.read_point == "exit_gate" and e.side == p.exit_side:
                counts[(e.at.date().isoformat(), e.side, "exited")] += 1
            elif e.read_point == "release" and e.side == p.entry_side:
                counts[(e.at.date().isoformat(), e.side, "released")] += 1
    return [
        {"day": d, "side": s, "what": w, "trucks": n, "cap": None}
        for (d, s, w), n in sorted(counts.items())
    ]


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
