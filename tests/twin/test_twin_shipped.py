"""The shipped baseline lands where the ADB corridor monitoring measured Khorgos."""

from __future__ import annotations

from silkgate.twin import service

OBSERVED_H = (23.5, 51.4)  # ADB CAREC average time to cross at Khorgos, 2022 and 2023


def test_baseline_lands_in_observed_range() -> None:
    rep = service.run("khorgos-2023-baseline", workers=2)
    for d in ("cn_to_kz", "kz_to_cn"):
        est = rep.estimates[f"{d}.time_in_system_h.mean"]
        assert OBSERVED_H[0] <= est.low and est.high <= OBSERVED_H[1], (d, est)
        assert rep.estimates[f"{d}.little_rel_gap"].mean < 1e-9
        # stable: released keeps pace with demand, no runaway queue
        assert (
            abs(
                rep.estimates[f"{d}.released_per_day"].mean
                - rep.estimates[f"{d}.demand_per_day"].mean
            )
            < 5
        )


def test_november_2025_backlog_grows_every_day() -> None:
    """Demand above what the slots and China's acceptance carry: the KZ-side backlog grows."""
    import numpy as np

    rep = service.run("khorgos-2025-november", replications=2, workers=2)
    for r in rep.replications:
        t = np.asarray(r.sample_t_h)
        backlog = np.asarray(r.series["kz_to_cn.equeue_backlog"])
        daily = [backlog[np.searchsorted(t, 24 * d) - 1] for d in range(2, 15)]
        assert np.all(np.diff(daily) > 0)
        # never above China's acceptance (the cap counts admissions at the KZ exit's gate)
        assert r.metrics["stage.kz.exit.gate_in.visits_per_day"] <= 725
    assert rep.estimates["cn_to_kz.in_system_end"].mean < 100  # the other way flows freely
