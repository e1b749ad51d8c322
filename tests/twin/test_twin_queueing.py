"""The engine against queueing theory: Erlang C, Little's law, seeds, acceptance caps."""

from __future__ import annotations

import math

import numpy as np
import pytest
from twin_builders import single_stage, two_sided

from silkgate.twin import service
from silkgate.twin.scenario import parse_scenario
from silkgate.twin.stats import mmc_mean_wait

GATE = "stage.cn.exit.gate_in"


@pytest.mark.parametrize(
    ("servers", "load"),
    [(1, 0.5), (1, 0.8), (2, 0.75), (4, 0.85), (8, 0.9)],
)
def test_mmc_mean_wait_matches_erlang_c(servers: int, load: float) -> None:
    """Poisson arrivals, exponential service: the 95% interval of the run covers Erlang C,
    and is tight enough to rule out the wrong number of servers."""
    mean_service = 1.0  # minutes
    lam = load * servers / mean_service
    sc = parse_scenario(single_stage(servers, lam, mean_service, days=12, replications=8))
    rep = service.run(sc, workers=1)
    est = rep.estimates[f"{GATE}.wait_h"]
    theory_h = mmc_mean_wait(servers, lam, 1 / mean_service) / 60
    assert est.covers(theory_h), (est, theory_h)
    assert est.half_width < 0.25 * theory_h  # the interval says something
    for wrong in (servers - 1, servers + 1):
        if wrong >= 1:
            assert not est.covers(mmc_mean_wait(wrong, lam, 1 / mean_service) / 60)
    util = rep.estimates[f"{GATE}.utilization"]
    assert util.mean == pytest.approx(load, rel=0.03)


def test_little_law_in_steady_state() -> None:
    """L (time-average trucks in the system) ≈ λ·W (arrival rate × mean time in system)."""
    sc = parse_scenario(single_stage(3, 2.4, 1.0, days=12, replications=4))
    rep = service.run(sc, workers=1)
    for r in rep.replications:
        t = np.asarray(r.sample_t_h)
        n = np.asarray(r.series["cn_to_kz.in_system"])[t >= 24]
        lam_per_h = r.metrics["cn_to_kz.arrived_per_day"] / 24
        w_h = r.metrics["cn_to_kz.time_in_system_h.mean"]
        assert n.mean() == pytest.approx(lam_per_h * w_h, rel=0.05)


@pytest.mark.parametrize("build", ["mmc", "two_sided", "capped"])
def test_little_identity_holds_on_every_run(build: str) -> None:
    """The event-by-event area under N(t) equals λ·W built from each truck's own times."""
    data = {
        "mmc": single_stage(2, 1.5, 1.0, days=3, replications=2),
        "two_sided": two_sided(days=4),
        "capped": single_stage(4, 0.3, 5.0, days=4, replications=2, cap=200),
    }[build]
    rep = service.run(parse_scenario(data), workers=1)
    gaps = [v for r in rep.replications for k, v in r.metrics.items() if "little_rel_gap" in k]
    assert gaps
    assert max(gaps) < 1e-9


def test_identical_seeds_identical_results_across_workers() -> None:
    sc = parse_scenario(two_sided(days=4))
    one = service.run(sc, workers=1, replications=2)
    again = service.run(sc, workers=1, replications=2)
    pooled = service.run(sc, workers=2, replications=2)
    other_seed = service.run(sc, workers=1, replications=2, seed=99)
    assert one.per_rep == again.per_rep == pooled.per_rep
    assert one.per_rep != other_seed.per_rep
    assert [r.series for r in one.replications] == [r.series for r in pooled.replications]


def test_replications_differ_from_each_other() -> None:
    rep = service.run(parse_scenario(two_sided(days=3)), workers=1, replications=2)
    a, b = rep.per_rep
    assert a["cn_to_kz.time_in_system_h.mean"] != b["cn_to_kz.time_in_system_h.mean"]


def test_queue_grows_when_demand_exceeds_the_cap() -> None:
    """300 trucks a day against an acceptance of 200: about 100 more wait every day."""
    days = 10
    data = single_stage(10, 300 / 1440, 2.0, days=days, warmup_days=1, replications=2, cap=200)
    rep = service.run(parse_scenario(data), workers=1)
    for r in rep.replications:
        t = np.asarray(r.sample_t_h)
        q = np.asarray(r.series["cn.exit.gate_in"])
        daily_end = [q[np.searchsorted(t, 24 * d) - 1] for d in range(2, days + 1)]
        growth = np.diff(daily_end)
        assert np.all(growth > 0)
        assert np.mean(growth) == pytest.approx(100, rel=0.25)
        assert r.metrics["cn_to_kz.released_per_day"] == pytest.approx(200, abs=1)
        assert r.metrics[f"{GATE}.cap_reached_days"] == days - 1
    assert "acceptance cap 200/day" in rep.bottleneck["cn_to_kz"]


def test_queue_stays_bounded_under_the_cap() -> None:
    data = single_stage(10, 150 / 1440, 2.0, days=8, replications=1, cap=200)
    r = service.run(parse_scenario(data), workers=1).replications[0]
    assert max(r.series["cn.exit.gate_in"]) < 20
    assert r.metrics[f"{GATE}.cap_reached_days"] == 0


def test_service_only_starts_in_opening_hours() -> None:
    shifts = [{"days": "mon-fri", "start": "09:00", "end": "18:00"}]
    data = single_stage(3, 0.1, 5.0, days=14, replications=1, shifts=shifts)
    rep = service.run(parse_scenario(data), workers=1, trace=True)
    trace = rep.replications[0].trace
    assert trace
    for _, _, start, _ in trace:
        day, minute = divmod(start, 1440)
        assert int(day) % 7 < 5 and 9 * 60 <= minute < 18 * 60, start
    # closed 15 h a night and all weekend: trucks arriving then wait for the morning
    assert rep.estimates[f"{GATE}.wait_h"].mean > 5


def test_priority_interleave_serves_perishables_first_under_load() -> None:
    classes = [
        {"name": "perishable", "share": 0.1, "ratio": 1},
        {"name": "regular", "share": 0.9, "ratio": 5},
    ]
    data = single_stage(1, 0.95, 1.0, days=6, replications=2, classes=classes)
    rep = service.run(parse_scenario(data), workers=1, trace=True)
    assert rep.estimates[f"{GATE}.wait_h"].mean > 0.05  # the queue is busy enough to matter
    sc = parse_scenario(data)
    from silkgate.twin.engine import Engine, RunConfig

    eng = Engine(sc, RunConfig(days=6, warmup_days=1, seed=7, replication=0))
    raw = eng.run()
    klass = np.asarray(eng.klass)
    done = np.isfinite(raw.released)
    wait_p = raw.wait[done & (klass == 0)].mean()
    wait_r = raw.wait[done & (klass == 1)].mean()
    assert wait_p < 0.5 * wait_r


def test_digital_measures_cut_time_and_raise_capacity() -> None:
    """Sanity on the shipped pair at short length (the full comparison is in docs/twin.md)."""
    cmp = service.compare(
        "khorgos-2023-baseline",
        "khorgos-digital",
        days=28,
        replications=2,
        warmup_days=7,
        workers=2,
    )
    d = cmp.differences["cn_to_kz.time_in_system_h.mean"]
    assert d.mean < -10 and math.isfinite(d.half_width)
    assert cmp.b.estimates["cn_to_kz.time_in_system_h.mean"].mean < 6
