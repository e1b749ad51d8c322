"""Twin operations the CLI (and anyone else) calls: run, compare, calibrate.

Replications run in parallel worker processes, one per core by default. Each replication
draws from streams seeded by (seed, replication number, purpose), so results do not depend
on how many workers ran them or in which order they finished.
"""

from __future__ import annotations

import os
import queue
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from silkgate.twin.scenario import load_scenario, scale_demand, with_run, with_traffic
from silkgate.twin.schemas import Scenario
from silkgate.twin.stats import Estimate, aggregate, paired_differences

OnProgress = Callable[[int], None]

if TYPE_CHECKING:  # the engine (simpy) is imported inside the workers only
    from silkgate.twin.metrics import ReplicationResult


@dataclass
class RunReport:
    """A scenario's figures over all replications."""

    scenario: Scenario
    source: str
    days: int
    warmup_days: int
    seed: int
    replications: list[ReplicationResult]
    estimates: dict[str, Estimate]
    wall_seconds: float
    workers: int
    bottleneck: dict[str, str] = field(default_factory=dict)

    @property
    def per_rep(self) -> list[dict[str, float]]:
        return [r.metrics for r in self.replications]

    def series_mean(self) -> dict[str, Any]:
        """Queue-length series averaged over replications (trucks, sampled every few minutes)."""
        import numpy as np

        reps = self.replications
        out: dict[str, Any] = {"t_hours": reps[0].sample_t_h}
        for key in reps[0].series:
            n = min(len(r.series[key]) for r in reps)
            out[key] = np.round(np.mean([r.series[key][:n] for r in reps], axis=0), 2).tolist()
        return out

    def to_dict(self, series: bool = False) -> dict[str, Any]:
        reps = self.replications
        extra = {"queue_series": self.series_mean()} if series else {}
        return {
            "scenario": self.scenario.name,
            "source": self.source,
            "days": self.days,
            "warmup_days": self.warmup_days,
            "replications": len(reps),
            "seed": self.seed,
            "traffic": traffic_label(self.scenario),
            "workers": self.workers,
            "wall_seconds": round(self.wall_seconds, 3),
            "trucks_simulated": sum(r.trucks for r in reps),
            "events_simulated": sum(r.events for r in reps),
            "counting": (
                "figures count every truck released after the warm-up and every truck not "
                "yet released at the end (censored, with its wait so far): see "
                "D.censored_share, D.unreleased_end and D.unreleased_at.*"
            ),
            "bottleneck": self.bottleneck,
            "bottleneck_by_replication": [r.bottleneck for r in reps],
            "metrics": {k: e.as_dict() for k, e in self.estimates.items()},
            **extra,
        }


@dataclass
class CompareReport:
    """Two scenarios under the same seeds, and B − A per figure."""

    a: RunReport
    b: RunReport
    differences: dict[str, Estimate]

    def to_dict(self, series: bool = False) -> dict[str, Any]:
        return {
            "a": self.a.to_dict(series),
            "b": self.b.to_dict(series),
            "difference_b_minus_a": {k: e.as_dict() for k, e in self.differences.items()},
        }


def _replicate(
    scenario: Scenario,
    days: int,
    warmup_days: int,
    seed: int,
    replication: int,
    trace: bool,
    progress: Any = None,
) -> ReplicationResult:
    """One replication, from arrivals to figures (runs inside a worker process)."""
    from silkgate.twin.engine import Engine, RunConfig
    from silkgate.twin.metrics import summarize

    cfg = RunConfig(
        days=days,
        warmup_days=warmup_days,
        seed=seed,
        replication=replication,
        sample_minutes=scenario.run.sample_minutes,
        trace=trace,
    )
    report: Callable[[int], None] | None = None
    if progress is not None:
        report = progress if callable(progress) else progress.put
    raw = Engine(scenario, cfg).run(report)
    return summarize(raw, replication, warmup_days, days)


def traffic_label(scenario: Scenario) -> str:
    """Where the trucks come from, for reports: the profiles or the demo generator's seed."""
    demand = scenario.demand
    if demand.source == "profile":
        return "profile"
    return f"demo-generator (seed {demand.generator_seed()})"


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def run(
    scenario: Scenario | str | Path,
    *,
    days: int | None = None,
    replications: int | None = None,
    seed: int | None = None,
    warmup_days: int | None = None,
    workers: int | None = None,
    demand_factor: float | None = None,
    traffic: str | None = None,
    traffic_seed: int | None = None,
    trace: bool = False,
    on_progress: OnProgress | None = None,
) -> RunReport:
    """Run a scenario's replications (in parallel when workers > 1) and estimate figures.

    traffic ("profile" or "demo") and traffic_seed override the scenario's demand source.
    on_progress receives simulated days as they complete, summed over replications.
    """
    source = scenario if isinstance(scenario, str | Path) else scenario.name
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    sc = with_run(sc, days=days, replications=replications, seed=seed, warmup_days=warmup_days)
    if demand_factor is not None:
        sc = scale_demand(sc, demand_factor)
    sc = with_traffic(sc, traffic, traffic_seed)
    r = sc.run
    n_workers = min(workers or default_workers(), r.replications)
    started = time.perf_counter()
    if sc.demand.source == "demo-generator" and n_workers > 1:
        from silkgate.twin.demo_traffic import pool_for

        pool_for(sc.demand)  # generate once here; forked workers inherit the cached pool
    args = [(sc, r.days, r.warmup_days, r.seed, i, trace) for i in range(r.replications)]
    if n_workers <= 1:
        results = [_replicate(*a, on_progress) for a in args]
    else:
        results = _in_pool(args, n_workers, on_progress)
    results.sort(key=lambda x: x.replication)
    common = Counter(b for res in results for b in res.bottleneck.items())
    bottleneck: dict[str, str] = {}
    for (direction, label), _ in common.most_common():
        bottleneck.setdefault(direction, label)
    return RunReport(
        scenario=sc,
        source=str(source),
        days=r.days,
        warmup_days=r.warmup_days,
        seed=r.seed,
        replications=results,
        estimates=aggregate([x.metrics for x in results]),
        wall_seconds=time.perf_counter() - started,
        workers=n_workers,
        bottleneck=bottleneck,
    )


def _in_pool(
    args: list[tuple[Any, ...]], n_workers: int, on_progress: OnProgress | None
) -> list[ReplicationResult]:
    """Run replications on a process pool, relaying day-by-day progress through a queue."""
    import multiprocessing as mp

    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
    manager = ctx.Manager() if on_progress is not None else None
    try:
        ticks = manager.Queue() if manager is not None else None
        with ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx) as pool:
            futures: list[Future[ReplicationResult]] = [
                pool.submit(partial(_replicate, progress=ticks), *a) for a in args
            ]
            while not all(f.done() for f in futures):
                _drain(ticks, on_progress, timeout=0.2)
            _drain(ticks, on_progress, timeout=0.0)
            return [f.result() for f in futures]
    finally:
        if manager is not None:
            manager.shutdown()


def _drain(ticks: Any, on_progress: OnProgress | None, timeout: float) -> None:
    if ticks is None or on_progress is None:
        if timeout:
            time.sleep(timeout)
        return
    try:
        on_progress(ticks.get(timeout=timeout) if timeout else ticks.get_nowait())
        while True:
            on_progress(ticks.get_nowait())
    except queue.Empty:
        return


def compare(
    a: Scenario | str | Path,
    b: Scenario | str | Path,
    **kwargs: Any,
) -> CompareReport:
    """Run A and B with the same seeds and lengths; differences are paired by replication."""
    ra = run(a, **kwargs)
    kwargs = {**kwargs, "seed": ra.seed, "days": ra.days, "warmup_days": ra.warmup_days}
    kwargs["replications"] = len(ra.replications)
    rb = run(b, **kwargs)
    return CompareReport(ra, rb, paired_differences(ra.per_rep, rb.per_rep))


@dataclass
class Calibration:
    """A scenario fragment fitted from gate events, and the fits that look poor."""

    text: str
    warnings: list[str]


def calibrate(
    events_csv: str | Path, out: str | Path | None = None, family: str = "auto"
) -> Calibration:
    """Fit service-time distributions per stage from gate events; return (and write) TOML."""
    from silkgate.twin.calibration import fit_events, read_events, to_toml

    records = read_events(events_csv)
    fits = fit_events(records, family=family)
    text = to_toml(fits, source=str(events_csv))
    if out is not None:
        Path(out).write_text(text, encoding="utf-8")
    return Calibration(text, [w for f in fits for w in f.warnings()])


EVENT_TIME_FORMATS = ("minutes", "iso")
# Day 0 of the model clock is a Monday at 00:00 Beijing time (the shipped scenarios' clock).
DEFAULT_EPOCH = "2023-01-02T00:00:00+08:00"


@dataclass
class ExportedEvents:
    """Gate events written by ``export_events``: how many, from which run."""

    path: Path
    events: int
    trucks: int
    days: int
    seed: int


def export_events(
    scenario: Scenario | str | Path,
    out: str | Path,
    *,
    days: int | None = None,
    seed: int | None = None,
    time_format: str = "minutes",
    epoch: str = DEFAULT_EPOCH,
) -> ExportedEvents:
    """Run one replication with a trace and write its gate events (stage, truck, start,
    end) in the format ``calibrate`` reads. Services still running at the horizon are left
    out: a real gate log would not have their end either."""
    import csv
    from datetime import datetime, timedelta

    if time_format not in EVENT_TIME_FORMATS:
        raise ValueError(f"time format must be one of {', '.join(EVENT_TIME_FORMATS)}")
    t0 = None
    if time_format == "iso":
        try:
            t0 = datetime.fromisoformat(epoch)
        except ValueError:
            raise ValueError(f"epoch {epoch!r} is not an ISO 8601 time") from None
        if t0.tzinfo is None:
            raise ValueError(f"epoch {epoch!r} needs an offset, e.g. +08:00")
    rep = run(scenario, days=days, seed=seed, replications=1, workers=1, trace=True)
    horizon = rep.days * 1440.0
    trace = [e for e in rep.replications[0].trace or [] if e[3] <= horizon]
    path = Path(out)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["stage", "truck", "start", "end"])
        for stage, truck, a, b in trace:
            if t0 is None:
                w.writerow([stage, truck, f"{a:.4f}", f"{b:.4f}"])
            else:
                w.writerow(
                    [
                        stage,
                        truck,
                        (t0 + timedelta(minutes=a)).isoformat(),
                        (t0 + timedelta(minutes=b)).isoformat(),
                    ]
                )
    return ExportedEvents(path, len(trace), len({e[1] for e in trace}), rep.days, rep.seed)


@dataclass
class SensitivityRow:
    """One factor on a stage kind's service time, and the run it gave."""

    factor: float
    mean_service_min: float
    report: RunReport


def sensitivity(
    scenario: Scenario | str | Path,
    *,
    kind: str = "documents",
    factors: list[float],
    on_progress: OnProgress | None = None,
    **kwargs: Any,
) -> list[SensitivityRow]:
    """Run the scenario with the full-check service time of every ``kind`` stage scaled by
    each factor (same seeds, so the rows differ by the factor only)."""
    from silkgate.twin.scenario import scale_service

    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    rows = []
    for f in factors:
        scaled = scale_service(sc, kind, f)
        means = [
            st.service.mean()
            for side in scaled.sides.values()
            for ctl in (side.exit, side.entry)
            for st in ctl.stages
            if st.kind == kind
        ]
        rep = run(scaled, on_progress=on_progress, **kwargs)
        rows.append(SensitivityRow(f, sum(means) / len(means), rep))
    return rows


def capacity_limits(scenario: Scenario) -> list[str]:
    """Why a scenario cannot carry its own demand on average, one reason per limit: the
    e-queue's slots a day (a no-show or a late truck books a second slot) and the daily
    acceptance caps on a direction's route. Empty when nothing caps the demand."""
    import numpy as np

    from silkgate.twin.distributions import draw
    from silkgate.twin.schemas import DIRECTIONS

    out = []
    for d, spec in scenario.directions.items():
        tpd = spec.trucks_per_day
        eq = spec.equeue
        if eq is not None:
            slots = float(sum(eq.hourly()))
            if eq.slots_per_day is not None:
                slots = min(slots, eq.slots_per_day)
            lateness = draw(eq.lateness, np.random.default_rng(0), 20_000)
            late = float(np.mean(lateness > eq.grace_minutes))
            uses = 1 + eq.no_show_share + late
            if tpd * uses > slots:
                out.append(
                    f"{d}: {tpd:,.0f} trucks a day need ~{tpd * uses:,.0f} e-queue slots a day "
                    f"(no-shows and late trucks book a second slot: {uses:.2f} per truck), "
                    f"but the e-queue offers {slots:,.0f}"
                )
        exit_side, entry_side = DIRECTIONS[d]
        for where, controls in (
            (f"{exit_side} exit", scenario.sides[exit_side].exit),
            (f"{entry_side} entry", scenario.sides[entry_side].entry),
        ):
            cap = controls.acceptance_per_day
            if cap is not None and tpd > cap:
                out.append(f"{d}: {tpd:,.0f} trucks a day, but the {where} accepts {cap:,} a day")
    return out
