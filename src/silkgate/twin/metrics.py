"""Turn one replication's raw record into named figures, series and samples.

Trucks count in the window [warm-up, horizon) when they are released in it: that is what
a border survey measures (trucks that crossed), and it stays defined when queues grow
without bound. Times are reported in hours.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from silkgate.twin.arrivals import MINUTES_PER_DAY
from silkgate.twin.engine import Raw

MAX_SAMPLES = 20_000


@dataclass
class ReplicationResult:
    """Figures of one replication; plain data, cheap to pickle back from a worker."""

    replication: int
    metrics: dict[str, float]
    bottleneck: dict[str, str]
    sample_t_h: list[float]
    series: dict[str, list[float]]
    time_in_system_h: dict[str, list[float]]  # released in the window and censored alike
    censored_h: dict[str, list[float]]  # time so far of the trucks not released at the end
    trucks: int
    events: int
    seconds: float
    trace: list[tuple[str, int, float, float]] | None = field(default=None)


def _pct(x: np.ndarray, q: float) -> float:
    return float(np.percentile(x, q)) if x.size else float("nan")


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if x.size else float("nan")


def summarize(raw: Raw, replication: int, warmup_days: int, days: int) -> ReplicationResult:
    """Compute the per-replication metrics (see docs/twin.md for each name)."""
    lo, hi = warmup_days * MINUTES_PER_DAY, days * MINUTES_PER_DAY
    window_days = days - warmup_days
    m: dict[str, float] = {}
    bottleneck: dict[str, str] = {}
    tis_samples: dict[str, list[float]] = {}
    censored_h: dict[str, list[float]] = {}
    rel = raw.released
    in_window = (rel >= lo) & (rel < hi)
    rng = np.random.default_rng(replication)
    t_s = raw.sample_t
    w_mask = t_s >= lo
    series: dict[str, list[float]] = {}
    for d_idx, d in enumerate(raw.directions):
        flow = raw.flows[d_idx]
        mine = raw.direction_of == d_idx
        trucks = _population(raw, d_idx, lo, hi)
        done = ~trucks.censored
        tis, waiting = trucks.tis_h, trucks.waiting_h
        m[f"{d}.demand_per_day"] = flow.demand / days
        m[f"{d}.released_per_day"] = float(np.count_nonzero(mine & in_window)) / window_days
        arrived = mine & (raw.gate >= lo) & (raw.gate < hi)
        m[f"{d}.arrived_per_day"] = float(arrived.sum()) / window_days
        m[f"{d}.time_in_system_h.mean"] = _mean(tis)
        for q in (50, 90, 99):
            m[f"{d}.time_in_system_h.p{q}"] = _pct(tis, q)
        m[f"{d}.time_in_system_released_h.mean"] = _mean(tis[done])
        m[f"{d}.time_in_system_released_h.p90"] = _pct(tis[done], 90)
        m[f"{d}.censored_share"] = float(trucks.censored.mean()) if tis.size else 0.0
        m[f"{d}.over_24h_share"] = float(np.mean(tis > 24)) if tis.size else 0.0
        at_border = np.isfinite(trucks.border_h)
        m[f"{d}.time_at_border_h.mean"] = _mean(trucks.border_h[at_border])
        m[f"{d}.waiting_h.mean"] = _mean(waiting)
        m[f"{d}.service_h.mean"] = _mean(tis - waiting)
        m[f"{d}.equeue_wait_h.mean"] = _mean(trucks.off_site_h)
        m[f"{d}.waiting_area_h.mean"] = _mean(trucks.waiting_area_h)
        waited = tis[trucks.censored]
        m[f"{d}.unreleased_end"] = float(waited.size)
        m[f"{d}.unreleased_wait_h.mean"] = _mean(waited) if waited.size else 0.0
        m[f"{d}.unreleased_wait_h.max"] = float(waited.max()) if waited.size else 0.0
        m[f"{d}.unreleased_over_24h_end"] = float(np.count_nonzero(waited > 24))
        for place, count in trucks.places.items():
            m[f"{d}.unreleased_at.{place}"] = float(count)
        m[f"{d}.no_shows"] = float(flow.no_shows)
        m[f"{d}.booked_beyond_horizon"] = float(flow.booked_beyond)
        m[f"{d}.in_system_end"] = float(np.count_nonzero(mine & (raw.gate < hi) & ~(rel < hi)))
        m[f"{d}.little_rel_gap"] = _little_gap(raw, d_idx, hi)
        censored_h[d] = waited[:MAX_SAMPLES].tolist()
        if tis.size > MAX_SAMPLES:
            tis = rng.choice(tis, MAX_SAMPLES, replace=False)
        tis_samples[d] = tis.tolist()
        # late trucks whose new slot lies past the horizon wait in the area until the end
        came = flow.at_border_beyond[np.isfinite(flow.at_border_beyond)]
        wa = _occupancy(
            np.concatenate([raw.at_border[mine], came]),
            np.concatenate([raw.gate[mine] - raw.drive[mine], np.full(came.size, np.inf)]),
            t_s,
        )
        series[f"{d}.waiting_area"] = wa.tolist()
        series[f"{d}.in_system"] = raw.samples[f"{d}.in_system"].tolist()
        if flow.equeue:
            m[f"{d}.waiting_area_peak"] = float(wa[w_mask].max()) if w_mask.any() else 0.0
            # ready to cross but not yet at the border: waiting for a (new) slot elsewhere
            became_ready = np.concatenate([raw.ready[mine], flow.ready_beyond])
            reached = np.concatenate([raw.at_border[mine], flow.at_border_beyond])
            backlog = _occupancy(became_ready, reached, t_s)
            series[f"{d}.equeue_backlog"] = backlog.tolist()
            m[f"{d}.equeue_backlog_end"] = float(np.count_nonzero(reached >= hi))
        waits = {
            f"{d}.equeue_booking": float(trucks.off_site_h.sum()),
            f"{d}.waiting_area": float(trucks.waiting_area_h.sum()),
        }
        still = raw.wait_end - raw.wait  # the current queue wait of trucks queued at the end
        for s in raw.stages:
            if s.direction == d_idx:
                queued = raw.end_place == raw.end_places.index(f"queue:{s.name}")
                waits[s.name] = (raw.stage_window[s.name][1] + float(still[queued].sum())) / 60
        bottleneck[d] = _bottleneck(raw, waits)
    for s in raw.stages:
        busy, wait_sum, starts, caps = raw.stage_window[s.name]
        cap_minutes = raw.capacity_minutes[s.name]
        m[f"stage.{s.name}.utilization"] = busy / cap_minutes if cap_minutes else float("nan")
        m[f"stage.{s.name}.wait_h"] = wait_sum / starts / 60 if starts else 0.0
        m[f"stage.{s.name}.visits_per_day"] = starts / window_days
        qs = raw.samples[s.name]
        m[f"stage.{s.name}.queue_mean"] = float(qs[w_mask].mean()) if w_mask.any() else 0.0
        if s.daily_cap is not None:
            m[f"stage.{s.name}.cap_reached_days"] = float(caps)
        series[s.name] = qs.tolist()
    return ReplicationResult(
        replication=replication,
        metrics=m,
        bottleneck=bottleneck,
        sample_t_h=(t_s / 60).tolist(),
        series=series,
        time_in_system_h=tis_samples,
        censored_h=censored_h,
        trucks=int(np.count_nonzero(raw.gate < hi)),
        events=raw.events,
        seconds=raw.seconds,
        trace=raw.trace,
    )


@dataclass
class Population:
    """One direction's trucks that count: released in the window, plus every truck ready
    before the horizon and not yet released (censored: its times run to the horizon)."""

    tis_h: np.ndarray
    waiting_h: np.ndarray
    off_site_h: np.ndarray
    waiting_area_h: np.ndarray
    border_h: np.ndarray  # time at the border so far; inf for trucks not there yet
    censored: np.ndarray
    places: dict[str, int]  # where the censored trucks are at the horizon


def _population(raw: Raw, d_idx: int, lo: float, hi: float) -> Population:
    flow = raw.flows[d_idx]
    rel = raw.released
    mine = raw.direction_of == d_idx
    sel = mine & (((rel >= lo) & (rel < hi)) | ~(rel < hi))
    n_beyond = flow.ready_beyond.size
    ready = np.concatenate([raw.ready[sel], flow.ready_beyond])
    border = np.concatenate([raw.at_border[sel], flow.at_border_beyond])
    called = np.concatenate([(raw.gate - raw.drive)[sel], np.full(n_beyond, np.inf)])
    end = np.concatenate([np.minimum(rel[sel], hi), np.full(n_beyond, hi)])
    q_wait = np.concatenate([raw.wait_end[sel], np.zeros(n_beyond)])
    censored = np.concatenate([~(rel[sel] < hi), np.ones(n_beyond, dtype=bool)])
    off_site = np.minimum(border, end) - ready
    waiting_area = np.maximum(np.minimum(called, end) - np.minimum(border, end), 0.0)
    tis = end - ready
    at_border = np.where(border <= end, end - border, np.inf)
    return Population(
        tis_h=tis / 60,
        waiting_h=(off_site + waiting_area + q_wait) / 60,
        off_site_h=off_site / 60,
        waiting_area_h=waiting_area / 60,
        border_h=at_border / 60,
        censored=censored,
        places=_places(raw, d_idx, hi),
    )


def _places(raw: Raw, d_idx: int, hi: float) -> dict[str, int]:
    """Count the unreleased trucks of a direction by where they stand at the horizon: away
    from the border waiting for a slot, in the waiting area, driving to the gate, or in a
    stage's queue or service (every place of the direction is listed, zeros included)."""
    flow = raw.flows[d_idx]
    d = raw.directions[d_idx]
    mine = (raw.direction_of == d_idx) & ~(raw.released < hi)
    border = np.concatenate([raw.at_border[mine], flow.at_border_beyond])
    called = np.concatenate([(raw.gate - raw.drive)[mine], np.full(flow.ready_beyond.size, np.inf)])
    gate = np.concatenate([raw.gate[mine], np.full(flow.ready_beyond.size, np.inf)])
    out: dict[str, int] = {}
    if flow.equeue:
        out["equeue"] = int(np.count_nonzero(border >= hi))
        out["waiting_area"] = int(np.count_nonzero((border < hi) & (called >= hi)))
        out["call_forward"] = int(np.count_nonzero((called < hi) & (gate >= hi)))
    codes = raw.end_place[mine]
    counts = np.bincount(codes[codes >= 0], minlength=len(raw.end_places))
    by_name = dict(zip(raw.end_places, counts.tolist(), strict=True))
    for s in raw.stages:
        if s.direction == d_idx:
            out[f"queue.{s.name}"] = by_name.get(f"queue:{s.name}", 0)
            out[f"service.{s.name}"] = by_name.get(f"service:{s.name}", 0)
    out[f"service.neutral_zone.{d}"] = by_name.get(f"service:neutral_zone.{d}", 0)
    return out


def _occupancy(enter: np.ndarray, leave: np.ndarray, t: np.ndarray) -> np.ndarray:
    """How many intervals [enter, leave) contain each time t."""
    return np.searchsorted(np.sort(enter), t, side="right") - np.searchsorted(
        np.sort(leave), t, side="right"
    )


def _little_gap(raw: Raw, d_idx: int, hi: float) -> float:
    """Little's law over [0, T): the event-by-event area under N(t) against λ·W built from
    each truck's own times. Zero up to rounding when no truck is lost or double-counted."""
    mine = (raw.direction_of == d_idx) & (raw.gate < hi)
    sojourn = np.minimum(raw.released[mine], hi) - raw.gate[mine]
    lam_w = float(sojourn.sum()) / hi  # = (A/T) * (sum/A)
    area = raw.little_area[d_idx] / hi
    if lam_w == 0 and area == 0:
        return 0.0
    return abs(area - lam_w) / max(abs(lam_w), 1e-12)


def _bottleneck(raw: Raw, waits: dict[str, float]) -> str:
    """Where the waiting happens: the stage (or e-queue part) with most truck-hours waited,
    why (closed hours, a reached acceptance cap), and the runner-up."""
    total = sum(waits.values())
    if total <= 0:
        return "none (no waiting)"
    ranked = sorted(waits, key=lambda k: -waits[k])
    stages = {s.name: s for s in raw.stages}

    def describe(name: str) -> str:
        label = f"{name} ({waits[name] / total:.0%} of waiting"
        s = stages.get(name)
        if s is not None and s.open_hours < 168:
            label += f"; open {s.open_hours:.0f} h a week"
        if s is not None and s.daily_cap is not None and raw.stage_window[name][3] > 0:
            label += (
                f"; acceptance cap {s.daily_cap}/day reached on {raw.stage_window[name][3]} days"
            )
        return label + ")"

    out = describe(ranked[0])
    if len(ranked) > 1 and waits[ranked[1]] > 0:
        out += f", then {describe(ranked[1])}"
    return out
