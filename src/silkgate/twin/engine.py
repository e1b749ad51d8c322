"""The SimPy model of a crossing: both directions, both sides, one replication.

Trucks are integers; their times live in flat lists. Each direction's route runs through
the exit side's stages, the neutral zone and the entry side's stages; trucks skip the
scan or the physical inspection according to their pre-drawn lanes. Timers change shifts,
reset daily acceptance caps and sample queue lengths; nothing else is monitored.
"""

from __future__ import annotations

import gc
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import simpy
from simpy.events import Timeout

from silkgate.twin.arrivals import MINUTES_PER_DAY, Flow, build_flows, interleave_pattern, rng_for
from silkgate.twin.distributions import Pool
from silkgate.twin.schemas import DIRECTIONS, Controls, Scenario
from silkgate.twin.stations import Exit, PriorityStage, Stage, Transit
from silkgate.twin.timetable import open_hours_per_week, weekly_changes

Progress = Callable[[int], None]


@dataclass
class RunConfig:
    """What one replication needs besides the scenario."""

    days: int
    warmup_days: int
    seed: int
    replication: int
    sample_minutes: float = 30.0
    trace: bool = False


@dataclass
class Raw:
    """Everything a replication leaves behind for the metrics step."""

    directions: list[str]
    flows: list[Flow]
    direction_of: np.ndarray
    ready: np.ndarray
    at_border: np.ndarray
    gate: np.ndarray
    drive: np.ndarray
    released: np.ndarray
    wait: np.ndarray
    stages: list[Stage]
    stage_window: dict[str, tuple[float, float, int, int]]  # busy_time, wait_sum, starts, caps
    capacity_minutes: dict[str, float]
    sample_t: np.ndarray
    samples: dict[str, np.ndarray]
    little_area: list[float]
    events: int
    seconds: float
    end_place: np.ndarray  # per truck at the horizon: index into end_places, -1 = not there
    end_places: list[str]  # "queue:<stage>", "service:<stage>" (the neutral zone included)
    wait_end: np.ndarray  # queue waiting so far, including the wait in the current queue
    trace: list[tuple[str, int, float, float]] | None = field(default=None)


class Engine:
    """One replication of a scenario."""

    def __init__(self, scenario: Scenario, cfg: RunConfig):
        self.sc = scenario
        self.cfg = cfg
        self.env = simpy.Environment()
        self.horizon = cfg.days * MINUTES_PER_DAY
        self.directions = list(scenario.directions)
        self.flows = build_flows(scenario, cfg.seed, cfg.replication, cfg.days)
        f = self.flows
        self.direction_of = np.concatenate(
            [np.full(fl.ready.size, i, dtype=np.int64) for i, fl in enumerate(f)]
        )
        self.gate_np = np.concatenate([fl.gate for fl in f])
        n = self.gate_np.size
        self.n = n
        self.klass = np.concatenate([fl.klass for fl in f]).tolist()
        self.pre_arrival = np.concatenate([fl.pre_arrival for fl in f]).tolist()
        self.dir_list = self.direction_of.tolist()
        self.t_enq = [0.0] * n
        self.wait = [0.0] * n
        self.released = [np.inf] * n
        self.pos = [0] * n
        self.trace: list[tuple[str, int, float, float]] | None = [] if cfg.trace else None
        self.stages: list[Stage] = []
        self._timelines: list[tuple[Stage, list[tuple[int, int]]]] = []
        self.routes, route_of = self._build_routes()
        self.route_of = route_of.tolist()
        self.in_system = [0] * len(self.directions)
        self.area = [0.0] * len(self.directions)
        self.t_last = [0.0] * len(self.directions)
        self.order = np.argsort(self.gate_np, kind="stable").tolist()
        self.gate = self.gate_np.tolist()
        self._ai = 0
        self.sample_t: list[float] = []
        self.samples: dict[str, list[int]] = {}
        self._window: dict[str, tuple[float, float, int, int]] = {}

    # --- construction -------------------------------------------------------------------

    def _controls_stages(
        self, side: str, role: str, controls: Controls, d: int, first: bool
    ) -> dict[str, Stage]:
        out: dict[str, Stage] = {}
        sc, cfg = self.sc, self.cfg
        for i, spec in enumerate(controls.stages):
            name = f"{side}.{role}.{spec.kind}"
            pool = Pool(spec.service, rng_for(cfg.seed, cfg.replication, f"svc.{name}"))
            fast = None
            if spec.fast_track is not None:
                fast = Pool(spec.fast_track, rng_for(cfg.seed, cfg.replication, f"fast.{name}"))
            changes = weekly_changes(spec)
            cap = controls.acceptance_per_day if i == 0 else None
            args = (self, name, spec.kind, d, pool, fast, changes[0][1], cap)
            classes = sc.demand.classes
            if first and i == 0 and len(classes) > 1:
                pattern = interleave_pattern([c.ratio for c in classes])
                stage: Stage = PriorityStage(*args, pattern=pattern, n_classes=len(classes))
            else:
                stage = Stage(*args)
            stage.open_hours = open_hours_per_week(spec)
            self.stages.append(stage)
            if len(changes) > 1:
                self._timelines.append((stage, changes))
            out[spec.kind] = stage
        return out

    def _build_routes(self) -> tuple[list[tuple[object, ...]], np.ndarray]:
        """Up to 16 routes per direction (scan / red lane on each side); trucks share them."""
        routes: list[tuple[object, ...]] = []
        route_of = np.zeros(self.n, dtype=np.int64)
        done = Exit(self)
        for d, (name, flow) in enumerate(zip(self.directions, self.flows, strict=True)):
            exit_side, entry_side = DIRECTIONS[name]
            ex = self._controls_stages(exit_side, "exit", self.sc.sides[exit_side].exit, d, True)
            en = self._controls_stages(
                entry_side, "entry", self.sc.sides[entry_side].entry, d, not ex
            )
            nz_rng = rng_for(self.cfg.seed, self.cfg.replication, f"neutral.{name}")
            transit = Transit(
                self, f"neutral_zone.{name}", Pool(self.sc.neutral_zone.transit, nz_rng)
            )
            base = len(routes)
            for bits in range(16):
                ex_scan, ex_red, en_scan, en_red = (bool(bits & (1 << k)) for k in range(4))
                seq: list[object] = [None]  # position 0 is "not yet arrived"
                seq += _visit(ex, ex_scan, ex_red)
                seq.append(transit)
                seq += _visit(en, en_scan, en_red)
                seq.append(done)
                routes.append(tuple(seq))
            mask = self.direction_of == d
            code = (
                flow.exit_scan.astype(np.int64)
                | flow.exit_red.astype(np.int64) << 1
                | flow.entry_scan.astype(np.int64) << 2
                | flow.entry_red.astype(np.int64) << 3
            )
            route_of[mask] = base + code
        return routes, route_of

    # --- truck movement (hot path) ------------------------------------------------------

    def advance(self, truck: int) -> None:
        p = self.pos[truck] + 1
        self.pos[truck] = p
        self.routes[self.route_of[truck]][p].arrive(truck)

    def release(self, truck: int) -> None:
        now = self.env._now
        self.released[truck] = now
        d = self.dir_list[truck]
        self.area[d] += self.in_system[d] * (now - self.t_last[d])
        self.t_last[d] = now
        self.in_system[d] -= 1

    def _arrival(self, ev: object = None) -> None:
        now = self.env._now
        i = self._ai
        truck = self.order[i]
        d = self.dir_list[truck]
        self.area[d] += self.in_system[d] * (now - self.t_last[d])
        self.t_last[d] = now
        self.in_system[d] += 1
        self._ai = i + 1
        if i + 1 < self.n:
            nxt = self.gate[self.order[i + 1]]
            if nxt < self.horizon:
                Timeout(self.env, nxt - now).callbacks.append(self._arrival)
        self.advance(truck)

    # --- timers ---------------------------------------------------------------------------

    def _shifts(self, stage: Stage, changes: list[tuple[int, int]]):
        week = 7 * MINUTES_PER_DAY
        for k in itertools.count():
            for minute, servers in changes:
                t = k * week + minute
                if t > self.env.now:
                    yield self.env.timeout(t - self.env.now)
                if t >= self.env.now:
                    stage.set_servers(servers)

    def _sampler(self):
        step = self.cfg.sample_minutes
        names = [s.name for s in self.stages]
        for name in names:
            self.samples[name] = []
        for d in self.directions:
            self.samples[f"{d}.in_system"] = []
        while True:
            self.sample_t.append(self.env.now)
            for s in self.stages:
                self.samples[s.name].append(s.queue_length())
            for i, d in enumerate(self.directions):
                self.samples[f"{d}.in_system"].append(self.in_system[i])
            yield self.env.timeout(step)

    def _snapshot(self) -> dict[str, tuple[float, float, int, int]]:
        return {
            s.name: (s.busy_time, s.wait_sum, s.starts, s.cap_reached_days) for s in self.stages
        }

    def _days(self, progress: Progress | None):
        for day in itertools.count(1):
            yield self.env.timeout(MINUTES_PER_DAY)
            for s in self.stages:
                s.new_day()
            if day == self.cfg.warmup_days:
                self._window = self._snapshot()
            if progress is not None:
                progress(1)

    # --- run ----------------------------------------------------------------------------

    def run(self, progress: Progress | None = None) -> Raw:
        started = time.perf_counter()
        env = self.env
        if self.cfg.warmup_days == 0:
            self._window = self._snapshot()
        for stage, changes in self._timelines:
            env.process(self._shifts(stage, changes))
        env.process(self._sampler())
        env.process(self._days(progress))
        if self.n and self.gate[self.order[0]] < self.horizon:
            Timeout(env, self.gate[self.order[0]]).callbacks.append(self._arrival)
        # The cyclic GC would walk millions of live truck records over and over (and, in a
        # forked worker, touch every inherited page); nothing in the loop needs it.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            env.run(until=self.horizon)
        finally:
            if was_enabled:
                gc.enable()
        for d in range(len(self.directions)):
            self.area[d] += self.in_system[d] * (self.horizon - self.t_last[d])
        events = next(env._eid)
        for s in self.stages:  # the last day ends at the horizon, where no timer fires
            if s.daily_cap is not None and s.cap_left <= 0:
                s.cap_reached_days += 1
        end_place, end_places, wait_end = self._end_state()
        end = self._snapshot()
        window = {
            k: tuple(e - b for e, b in zip(end[k], self._window[k], strict=True)) for k in end
        }
        flows = self.flows
        return Raw(
            directions=self.directions,
            flows=flows,
            direction_of=self.direction_of,
            ready=np.concatenate([f.ready for f in flows]),
            at_border=np.concatenate([f.at_border for f in flows]),
            gate=self.gate_np,
            drive=np.concatenate([f.drive for f in flows]),
            released=np.asarray(self.released),
            wait=np.asarray(self.wait),
            stages=self.stages,
            stage_window=window,  # type: ignore[arg-type]
            capacity_minutes=self._capacity_minutes(),
            sample_t=np.asarray(self.sample_t),
            samples={k: np.asarray(v) for k, v in self.samples.items()},
            little_area=list(self.area),
            events=events,
            seconds=time.perf_counter() - started,
            end_place=end_place,
            end_places=end_places,
            wait_end=wait_end,
            trace=self.trace,
        )

    def _end_state(self) -> tuple[np.ndarray, list[str], np.ndarray]:
        """Where each truck still at the checkpoints stands at the horizon (in which queue,
        or in service at which stage) and its queue waiting so far, for censored figures."""
        horizon = self.horizon
        names: list[str] = []
        place = np.full(self.n, -1, dtype=np.int64)
        wait = np.asarray(self.wait, dtype=float)
        t_enq = np.asarray(self.t_enq, dtype=float)
        for s in self.stages:
            trucks = s.queued()
            if trucks:
                idx = np.asarray(trucks, dtype=np.int64)
                place[idx] = len(names)
                wait[idx] += horizon - t_enq[idx]
            names.append(f"queue:{s.name}")
        pos = np.asarray(self.pos)
        busy = np.flatnonzero((pos > 0) & ~np.isfinite(np.asarray(self.released)) & (place < 0))
        index: dict[str, int] = {}
        for t in busy.tolist():
            name = f"service:{self.routes[self.route_of[t]][self.pos[t]].name}"
            if name not in index:
                index[name] = len(names)
                names.append(name)
            place[t] = index[name]
        return place, names, wait

    def _capacity_minutes(self) -> dict[str, float]:
        """Server-minutes on offer in the measurement window, for utilization."""
        lo, hi = self.cfg.warmup_days * MINUTES_PER_DAY, self.horizon
        out = {}
        timelines = {s.name: ch for s, ch in self._timelines}
        for s in self.stages:
            ch = timelines.get(s.name, [(0, s.cap)])
            out[s.name] = _integrate(ch, lo, hi)
        return out


def _visit(stages: dict[str, Stage], scan: bool, red: bool) -> list[Stage]:
    return [
        s
        for kind, s in stages.items()
        if not (kind == "scanning" and not scan) and not (kind == "inspection" and not red)
    ]


def _integrate(changes: list[tuple[int, int]], lo: float, hi: float) -> float:
    """Integral of a weekly step function (servers) over [lo, hi) minutes."""
    week = 7 * MINUTES_PER_DAY
    pts = [m for m, _ in changes] + [week]
    total = 0.0
    k0, k1 = int(lo // week), int(hi // week)
    for k in range(k0, k1 + 1):
        for (m, servers), m_next in zip(changes, pts[1:], strict=True):
            a, b = max(lo, k * week + m), min(hi, k * week + m_next)
            if b > a:
                total += servers * (b - a)
    return total
