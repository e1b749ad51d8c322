"""The shipped scenarios against what was observed at Khorgos, year by year."""

from __future__ import annotations

import numpy as np

from silkgate.twin import service
from silkgate.twin.observed import CROSSING_TIME_H

# How far the shipped baseline's mean time in system (both directions, 95% interval) may
# sit from each year's ADB figure; docs/twin.md gives the measured gaps.
GAP_H = {2021: (-60.0, -38.0), 2022: (2.0, 14.0), 2023: (-26.0, -14.0)}


def test_baseline_against_each_year() -> None:
    rep = service.run("khorgos-2023-baseline", workers=2)
    for d in ("cn_to_kz", "kz_to_cn"):
        est = rep.estimates[f"{d}.time_in_system_h.mean"]
        for year, observed in CROSSING_TIME_H.items():
            lo, hi = GAP_H[year]
            assert lo <= est.low - observed and est.high - observed <= hi, (d, year, est)
        assert rep.estimates[f"{d}.little_rel_gap"].mean < 1e-9
        released = rep.estimates[f"{d}.released_per_day"].mean
        assert abs(released - rep.estimates[f"{d}.demand_per_day"].mean) < 5  # no runaway
        # trucks still waiting at the horizon are counted, and they are few here
        assert 0 < rep.estimates[f"{d}.censored_share"].mean < 0.1


def test_november_2025_shows_the_observed_column() -> None:
    """8-12 Nov 2025: ~1,500 trucks queued on the KZ side, waits of days (domain notes)."""
    rep = service.run("khorgos-2025-november", replications=2, workers=2)
    for r in rep.replications:
        t = np.asarray(r.sample_t_h)
        backlog = np.asarray(r.series["kz_to_cn.equeue_backlog"])
        daily = [backlog[np.searchsorted(t, 24 * d) - 1] for d in range(1, 6)]
        assert np.all(np.diff(daily) > 0)
        # never above China's acceptance (the cap counts admissions at the KZ exit's gate)
        assert r.metrics["stage.kz.exit.gate_in.visits_per_day"] <= 725
    e = rep.estimates
    assert 1200 <= e["kz_to_cn.unreleased_at.equeue"].mean <= 1800  # the column
    assert e["kz_to_cn.unreleased_end"].mean > e["kz_to_cn.unreleased_at.equeue"].mean
    assert e["kz_to_cn.unreleased_wait_h.max"].mean > 48  # multi-day waits
    assert e["kz_to_cn.unreleased_over_24h_end"].mean > 500
    assert e["cn_to_kz.in_system_end"].mean < 100  # the other way flows freely
