"""Trucks not released at the end of a run count: how many, how long so far, and where."""

from __future__ import annotations

import numpy as np
import pytest
from twin_builders import single_stage, two_sided

from silkgate.twin import service
from silkgate.twin.arrivals import build_flows
from silkgate.twin.engine import Engine, RunConfig
from silkgate.twin.metrics import summarize
from silkgate.twin.scenario import parse_scenario


def _one(data: dict, days: int, warmup: int = 0):
    sc = parse_scenario(data)
    cfg = RunConfig(
        days=days,
        warmup_days=warmup,
        seed=5,
        replication=0,
        sample_minutes=sc.run.sample_minutes,
    )
    raw = Engine(sc, cfg).run()
    return raw, summarize(raw, 0, warmup, days)


def test_overloaded_gate_counts_every_truck_still_waiting() -> None:
    """Twice the gate's capacity for three days: half the trucks are still queued at the end,
    and the figures are over all trucks, each still-queued one with its wait so far."""
    days = 3
    raw, res = _one(single_stage(1, 2.0, 1.0, days=days, warmup_days=0), days)
    m = res.metrics
    hi = days * 1440
    ready = raw.ready
    released = raw.released < hi
    tis = (np.minimum(raw.released, hi) - ready) / 60
    assert m["cn_to_kz.unreleased_end"] == np.count_nonzero(~released) > 1000
    assert m["cn_to_kz.censored_share"] == pytest.approx(np.mean(~released))
    assert m["cn_to_kz.time_in_system_h.mean"] == pytest.approx(tis.mean())
    assert m["cn_to_kz.time_in_system_h.p90"] == pytest.approx(np.percentile(tis, 90))
    assert m["cn_to_kz.unreleased_wait_h.max"] == pytest.approx(tis[~released].max())
    # nobody is left out: released plus still waiting is every truck that became ready
    assert m["cn_to_kz.released_per_day"] * days + m["cn_to_kz.unreleased_end"] == ready.size
    # every unreleased truck is somewhere: here, in the gate's queue or at the gate
    places = {k: v for k, v in m.items() if k.startswith("cn_to_kz.unreleased_at.")}
    assert sum(places.values()) == m["cn_to_kz.unreleased_end"]
    assert (
        places["cn_to_kz.unreleased_at.queue.cn.exit.gate_in"] == m["cn_to_kz.unreleased_end"] - 1
    )
    assert places["cn_to_kz.unreleased_at.service.cn.exit.gate_in"] == 1
    # waiting so far includes the wait in the queue they still stand in
    assert m["cn_to_kz.waiting_h.mean"] > 0.9 * (m["cn_to_kz.time_in_system_h.mean"] - 1 / 60)
    assert m["cn_to_kz.over_24h_share"] == pytest.approx(np.mean(tis > 24))
    assert m["cn_to_kz.over_24h_share"] > 0.05
    assert len(res.censored_h["cn_to_kz"]) == m["cn_to_kz.unreleased_end"]


def test_places_add_up_with_an_equeue_and_both_sides() -> None:
    data = two_sided(trucks_per_day=900, days=3)  # above what both sides can serve
    _raw, res = _one(data, 3, warmup=1)
    m = res.metrics
    for d in ("cn_to_kz", "kz_to_cn"):
        places = sum(v for k, v in m.items() if k.startswith(f"{d}.unreleased_at."))
        assert places == m[f"{d}.unreleased_end"] > 0
    # with an e-queue the backlog away from the border is part of the unreleased trucks
    assert m["kz_to_cn.unreleased_at.equeue"] == m["kz_to_cn.equeue_backlog_end"]
    flow = build_flows(parse_scenario(data), 5, 0, 3)[1]
    assert m["kz_to_cn.unreleased_end"] >= flow.booked_beyond


def test_run_report_lists_where_trucks_wait(tmp_path) -> None:
    from test_twin_cli import _toml
    from typer.testing import CliRunner

    from silkgate.twin.cli import app

    path = _toml(two_sided(trucks_per_day=900, days=3), tmp_path / "s.toml")
    res = CliRunner().invoke(app, ["run", str(path), "-r", "2", "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert "trucks not released at the end" in res.stdout
    assert "waiting for an e-queue slot" in res.stdout
    assert "unreleased_end" in res.stdout


def test_service_run_reports_censoring_per_direction() -> None:
    rep = service.run(parse_scenario(two_sided(trucks_per_day=900, days=3)), workers=1)
    for d in ("cn_to_kz", "kz_to_cn"):
        e = rep.estimates
        assert e[f"{d}.censored_share"].mean > 0
        assert e[f"{d}.unreleased_wait_h.mean"].mean > 0


def test_waiting_area_series_ends_with_the_trucks_counted_there() -> None:
    """The plotted waiting area at the last sample holds the trucks the census puts there
    (late trucks rebooked past the horizon included), up to those called since."""
    data = two_sided(trucks_per_day=900, days=3)
    data["run"]["sample_minutes"] = 1
    _raw, res = _one(data, 3, warmup=1)
    last = res.series["kz_to_cn.waiting_area"][-1]
    counted = res.metrics["kz_to_cn.unreleased_at.waiting_area"]
    assert counted > 0 and abs(last - counted) <= 3
