"""Figures on never-seen goods lines beside the plain baseline, and the bootstrap behind them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from silkgate.risk.learning import service
from silkgate.risk.learning.comparison import _Sorted, bootstrap_differences, never_seen
from silkgate.risk.learning.features import FeatureBuilder, HistoryTable
from silkgate.risk.learning.generalisation import feature_names as context_names
from silkgate.risk.learning.metrics import at_n, auc
from silkgate.risk.learning.synthetic import to_source_csv


@settings(max_examples=60, deadline=None)
@given(
    data=st.lists(st.tuples(st.booleans(), st.integers(0, 6)), min_size=2, max_size=40),
    picks=st.lists(st.integers(0, 10_000), min_size=1, max_size=40),
)
def test_weighted_figures_equal_the_figures_of_the_resample(data, picks):
    """The O(rows) resample figures are exactly AUC and DATE Precision@n of the resample."""
    y = np.array([float(d[0]) for d in data])
    s = np.array([d[1] / 6 for d in data])  # few distinct scores: ties everywhere
    idx = np.array([p % len(y) for p in picks])
    weights = np.bincount(idx, minlength=len(y)).astype(float)
    got = _Sorted(y, s).figures(weights, (5, 10, 50))
    ys, ss = y[idx], s[idx]
    a = auc(ys, ss)
    expected = [np.nan if a is None else a]
    for n in (5, 10, 50):
        p = at_n(ys, ss, n).precision
        expected.append(np.nan if p is None else p)
    np.testing.assert_allclose(got, expected, equal_nan=True)


def test_bootstrap_interval_covers_a_real_gap_and_straddles_none():
    rng = np.random.default_rng(3)
    y = (rng.random(3000) < 0.25).astype(float)
    good = y + rng.normal(0, 0.8, len(y))
    noise = rng.random(len(y))
    gap = bootstrap_differences(y, good, noise, resamples=300)
    assert [d.metric for d in gap] == ["auc", "precision@5%", "precision@10%"]
    assert all(d.low is not None and d.low > 0 for d in gap)
    assert all(d.low <= d.difference <= d.high for d in gap)
    same = bootstrap_differences(y, noise, noise, resamples=100)
    assert all(d.difference == 0 and d.low == 0 and d.high == 0 for d in same)


def test_never_seen_rows_are_the_triples_missing_from_training(synthetic):
    train, later = synthetic.iloc[:3000], synthetic.iloc[3000:].reset_index(drop=True)
    history = HistoryTable.fit(train)
    mask = never_seen(history, later)
    triples = set(
        zip(train["hs_code"], train["net_mass"].round(3), train["value"].round(3), strict=True)
    )
    expected = [
        (h, m, v) not in triples
        for h, m, v in zip(
            later["hs_code"], later["net_mass"].round(3), later["value"].round(3), strict=True
        )
    ]
    assert mask.tolist() == expected
    assert 0 < mask.sum() < len(later)
    # online: a triple first met earlier in the evaluated file is not never-seen any more
    online = never_seen(history, later, online=True)
    assert (online <= mask).all() and online.sum() < mask.sum()


def test_evaluate_reports_both_slices_beside_the_baseline(trained, tmp_path):
    model, _, valid = trained
    folder = model.save(tmp_path)
    path = tmp_path / "valid.csv"
    to_source_csv(valid, str(path))
    report = service.evaluate(folder, path, resamples=50)
    assert [s.name for s in report.slices] == ["all", "never-seen"]
    everything, unseen = report.slices
    assert everything.rows == report.rows and everything.model.auc == pytest.approx(report.auc)
    assert 0 < unseen.rows < everything.rows
    for sl in report.slices:
        assert sl.baseline is not None and sl.baseline.rows == sl.rows
        assert sl.resamples == 50
        for d in sl.differences:
            assert d.difference == pytest.approx(d.model - d.baseline)
            assert d.low <= d.difference <= d.high
    assert model.metadata.validation_report.slices[1].name == "never-seen"


def test_the_baseline_sees_no_history(trained):
    model, _, _ = trained
    assert model.baseline is not None
    names = model.baseline.feature_names
    assert not any(n.startswith(("hist_", "ctx_")) for n in names)
    assert {"hs6", "log_value"} <= set(names)


def test_context_features_see_only_earlier_dates(synthetic):
    """Changing a later declaration's value, mass or trader never moves an earlier row's
    context features; same-day rows do not see each other."""
    frame = synthetic.iloc[:1500].reset_index(drop=True)
    builder = FeatureBuilder().fit(frame)
    empty = HistoryTable(prior=0.2)
    names = builder.feature_names(empty)
    cols = [names.index(n) for n in context_names()]
    base = builder.matrix(frame, empty, mode="expanding")[:, cols]
    cut = frame["date"].iloc[900]
    later = (frame["date"] >= cut).to_numpy()
    changed = frame.copy()
    changed.loc[later, "value"] = changed.loc[later, "value"] * 50
    changed.loc[later, "net_mass"] = changed.loc[later, "net_mass"] / 3
    changed.loc[later, "importer"] = "SOMEONE-ELSE"
    moved = builder.matrix(changed, empty, mode="expanding")[:, cols]
    np.testing.assert_array_equal(base[~later], moved[~later])
    assert not np.array_equal(np.nan_to_num(base[later]), np.nan_to_num(moved[later]))
    first_day = (frame["date"] == frame["date"].iloc[0]).to_numpy()
    volume = names.index("ctx_importer_volume")
    assert (builder.matrix(frame, empty, mode="expanding")[first_day, volume] == 0).all()


def test_context_features_frozen_match_one_declaration(trained):
    model, _, valid = trained
    from silkgate.risk.learning.datasets import frame_to_records

    x = model.matrix(valid.head(200))
    names = model.feature_names
    cols = [names.index(n) for n in context_names()]
    for i, rec in enumerate(frame_to_records(valid.head(200))):
        np.testing.assert_allclose(model.row(rec)[0, cols], x[i, cols], equal_nan=True)
    assert np.isfinite(x[:, cols]).any(axis=0).all()


def test_a_unit_value_far_from_the_usual_never_lowers_the_risk(trained):
    model, _, valid = trained
    names = model.feature_names
    checked = 0
    for rec_x in model.matrix(valid.head(300)):
        for name in [n for n in names if n.endswith("_uv_unusual")]:
            j = names.index(name)
            if not np.isfinite(rec_x[j]):
                continue
            lower, higher = rec_x.copy(), rec_x.copy()
            higher[j] = rec_x[j] + 3
            a = model.booster.predict(lower[None, :])[0]
            b = model.booster.predict(higher[None, :])[0]
            assert b >= a - 1e-12
            checked += 1
    assert checked > 100
