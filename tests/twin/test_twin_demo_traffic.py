"""Arrivals from silkgate.demo's traffic generator (`[demand] source = "demo-generator"`)."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_twin_cli import _toml
from twin_builders import two_sided
from typer.testing import CliRunner

from silkgate.demo.traffic import TrafficGenerator
from silkgate.twin import service
from silkgate.twin.arrivals import build_flows
from silkgate.twin.cli import app
from silkgate.twin.demo_traffic import DIRECTION_NAMES, direction_of, traffic_pool
from silkgate.twin.scenario import ScenarioError, parse_scenario, with_traffic
from silkgate.twin.schemas import Scenario

SAMPLE = 2000  # a small pool keeps the tests fast; the default is 20,000
CLASSES = [
    {"name": "perishable", "share": 0.08, "ratio": 1},
    {"name": "tir_aeo", "share": 0.15, "ratio": 1},
    {"name": "regular", "share": 0.77, "ratio": 5},
]


def demo_crossing(days: int = 6, seed: int = 5, **demand: Any) -> dict[str, Any]:
    data = two_sided(days=days)
    data["demand"] = {
        "source": "demo-generator",
        "seed": seed,
        "sample_size": SAMPLE,
        "classes": copy.deepcopy(CLASSES),
        **demand,
    }
    return data


def _flows(data: dict[str, Any], replication: int = 0) -> dict[str, Any]:
    """Each direction's flow, drawn as the engine draws them for this replication."""
    sc = parse_scenario(data)
    flows = build_flows(sc, sc.run.seed, replication, sc.run.days)
    return dict(zip(sc.directions, flows, strict=True))


def test_pool_is_the_generators_own_stream() -> None:
    """Sampling goes through TrafficGenerator.day unchanged: same declarations, same order."""
    pool = traffic_pool(5, SAMPLE)
    gen = TrafficGenerator(5)
    bodies = gen.day(date(2026, 11, 2), 1000) + gen.day(date(2026, 11, 3), 1000)
    assert pool.size == SAMPLE
    assert pool.direction.tolist() == [direction_of(b) for b in bodies]
    assert pool.tir.tolist() == ["tir_carnet" in b for b in bodies]
    assert pool.minute.min() >= 0 and pool.minute.max() < 1440
    assert DIRECTION_NAMES[direction_of(bodies[0])] in ("cn_to_kz", "kz_to_cn")


def test_same_seed_same_result() -> None:
    sc = parse_scenario(demo_crossing(days=4))
    a = service.run(sc, replications=2, workers=1)
    b = service.run(sc, replications=2, workers=2)  # pool generated in the parent, then forked
    assert a.per_rep == b.per_rep
    assert a.to_dict()["traffic"] == "demo-generator (seed 5)"
    c = service.run(sc, replications=2, workers=1, seed=99)  # other draws from the same pool
    assert c.per_rep != a.per_rep
    d = service.run(sc, replications=2, workers=1, traffic_seed=6)  # another generator stream
    assert d.per_rep != a.per_rep
    flows_a, flows_b = _flows(demo_crossing()), _flows(demo_crossing())
    for name in DIRECTION_NAMES:
        assert np.array_equal(flows_a[name].ready, flows_b[name].ready)
        assert np.array_equal(flows_a[name].klass, flows_b[name].klass)


def test_direction_split_tir_share_and_volume_match_the_generator() -> None:
    days = 20
    data = demo_crossing(days=days)  # 300 + 150 trucks a day in the scenario
    pool = traffic_pool(5, SAMPLE)
    flows = _flows(data)
    n = {d: flows[d].demand for d in DIRECTION_NAMES}
    total = sum(n.values())
    # the volume is the scenario's (450 a day over both directions); Poisson per day, so the
    # 20-day mean has sd ~1.1% (20 replications: 450.5 ± 5.0); this one lands at +3.3%
    assert abs(total / days - 450) / 450 < 0.05
    # the split and the TIR share are the generator's (sd of a share over ~9,000 trucks ~ 0.005)
    share = n["cn_to_kz"] / total
    assert abs(share - pool.direction_share("cn_to_kz")) < 0.02
    assert abs(pool.direction_share("cn_to_kz") - 0.7) < 0.04  # TrafficGenerator's 70%
    tir_idx = [c["name"] for c in CLASSES].index("tir_aeo")
    for d in DIRECTION_NAMES:
        f = flows[d]
        assert f.tir is not None
        assert abs(f.tir.mean() - pool.tir_share(d)) < 0.03
        assert abs(pool.tir_share(d) - 0.25) < 0.04  # ~25% carry a TIR carnet
        # TIR carnet ⇔ the TIR/AEO priority class; the others keep the scenario's proportions
        assert np.array_equal(f.klass == tir_idx, f.tir)
        perishable = np.mean(f.klass[~f.tir] == 0)
        assert abs(perishable - 0.08 / 0.85) < 0.03
    # the same figures come out of a full run
    rep = service.run(parse_scenario(data), replications=1, workers=1)
    m = rep.replications[0].metrics
    per_day = {d: m[f"{d}.demand_per_day"] for d in DIRECTION_NAMES}
    assert per_day == pytest.approx({d: n[d] / days for d in DIRECTION_NAMES})
    assert all(m[f"{d}.little_rel_gap"] < 1e-9 for d in DIRECTION_NAMES)


def test_arrival_hours_follow_the_generators_day_profile() -> None:
    """With no lead time, ready hours are submission hours; a fixed lead shifts them."""
    pool = traffic_pool(5, SAMPLE)
    expected = np.bincount((pool.minute // 60).astype(int), minlength=24) / pool.size
    for lead in (0, 120):
        data = demo_crossing(days=20, lead_time={"dist": "fixed", "value": lead})
        flows = _flows(data)
        ready = np.concatenate([flows[d].ready for d in DIRECTION_NAMES])
        hours = ((ready - lead) % 1440 // 60).astype(int)
        got = np.bincount(hours, minlength=24) / ready.size
        assert np.abs(got - expected).max() < 0.015, (lead, got.round(3))
    # the generator's daytime peak, not the scenario's (flat) hourly profile
    assert expected[9:16].sum() > 0.45 and expected[0:5].sum() < 0.06


def test_pre_arrival_stays_a_scenario_rule() -> None:
    """Every generated truck has a declaration; the fast track is used only where the
    scenario says so (the baseline says no)."""
    data = demo_crossing()
    data["directions"]["cn_to_kz"]["pre_arrival_share"] = 1.0
    flows = _flows(data)
    assert flows["cn_to_kz"].pre_arrival.all()
    assert not flows["kz_to_cn"].pre_arrival.any()  # pre_arrival_share left at 0


def test_profile_source_is_unchanged_by_default() -> None:
    sc = parse_scenario(two_sided())
    assert sc.demand.source == "profile"
    flows = _flows(two_sided())
    assert all(f.tir is None for f in flows.values())
    assert with_traffic(sc, None) is sc


BAD: list[tuple[dict[str, Any], str, str]] = [
    ({"source": "census"}, "demand.source", "'profile' or 'demo-generator'"),
    ({"seed": -1}, "demand.seed", "greater than or equal to 0"),
    ({"sample_size": 10}, "demand.sample_size", "greater than or equal to 1000"),
    (
        {"lead_time": {"dist": "triangular", "low": -60, "mode": 0, "high": 60}},
        "demand.lead_time",
        "cannot be negative",
    ),
    ({"tir_class": "carnet"}, "demand.tir_class", "no class 'carnet'"),
    (
        {
            "classes": [
                {"name": "tir_aeo", "share": 1.0, "ratio": 1},
                {"name": "regular", "share": 0.0, "ratio": 5},
            ]
        },
        "demand.classes",
        "positive share",
    ),
    ({"source": "profile"}, "demand.seed", "only with source = 'demo-generator'"),
    (
        {"source": "profile", "seed": None, "sample_size": None, "tir_class": "x"},
        "demand.tir_class",
        "only with",
    ),
]


@pytest.mark.parametrize(("change", "key", "reason"), BAD)
def test_bad_generator_keys_name_their_key(change: dict[str, Any], key: str, reason: str) -> None:
    data = demo_crossing()
    data["demand"] = {k: v for k, v in {**data["demand"], **change}.items() if v is not None}
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data, "bad.toml")
    problems = {p.key: p.reason for p in info.value.problems}
    assert key in problems, problems
    assert reason in problems[key]
    assert "bad.toml" in str(info.value)


def test_generator_needs_both_directions_and_keeps_volume_rules() -> None:
    data = demo_crossing()
    del data["directions"]["kz_to_cn"]
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    assert info.value.problems[0].key == "demand.source"
    assert "both directions" in info.value.problems[0].reason
    # one class only: every truck is in it, and tir_class need not name it
    data = demo_crossing()
    data["demand"]["classes"] = [{"name": "all", "share": 1.0, "ratio": 1}]
    assert all((f.klass == 0).all() for f in _flows(data).values())


def test_round_trip_and_switching_source() -> None:
    sc = parse_scenario(
        demo_crossing(lead_time={"dist": "lognormal", "mean_min": 300, "sd_min": 90})
    )
    assert parse_scenario(sc.model_dump()) == sc
    plain = with_traffic(sc, "profile")
    assert plain.demand.source == "profile" and plain.demand.seed is None
    back = with_traffic(plain, "demo", seed=9)
    assert back.demand.source == "demo-generator" and back.demand.generator_seed() == 9
    assert back.demand.generator_sample_size() == 20_000  # the default pool
    with pytest.raises(ScenarioError) as info:
        with_traffic(sc, "census")
    assert info.value.problems[0].key == "traffic"
    with pytest.raises(ScenarioError, match="only with source"):
        with_traffic(plain, None, seed=3)


def test_shipped_scenarios_accept_the_generator() -> None:
    from silkgate.twin.scenario import load_scenario, shipped_scenarios

    for name in shipped_scenarios():
        sc: Scenario = with_traffic(load_scenario(name), "demo")
        assert sc.demand.generator_tir_class() in [c.name for c in sc.demand.classes]


def test_cli_traffic_flag(tmp_path: Path) -> None:
    data = two_sided(days=3)
    data["demand"] = {"classes": CLASSES}
    path = _toml(data, tmp_path / "s.toml")
    runner = CliRunner()
    res = runner.invoke(
        app, ["run", str(path), "-r", "1", "--traffic", "demo", "--traffic-seed", "5", "--json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["traffic"] == "demo-generator (seed 5)"
    res = runner.invoke(
        app, ["compare", str(path), str(path), "-r", "1", "--traffic", "demo", "--json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["a"]["traffic"] == out["b"]["traffic"] == "demo-generator (seed 7)"
    diff = out["difference_b_minus_a"]["cn_to_kz.demand_per_day"]
    assert diff["mean"] == 0  # same scenario, same seeds: the same trucks
    res = runner.invoke(app, ["run", str(path), "--traffic", "census"])
    assert res.exit_code == 2
    res = runner.invoke(app, ["run", str(path), "--traffic", "profile", "--traffic-seed", "5"])
    assert res.exit_code == 2 and "demand.seed" in res.stderr
