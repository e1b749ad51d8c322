"""DATE metrics against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from silkgate.risk.learning.metrics import at_n, auc, evaluate_scores


def test_precision_recall_revenue_on_a_hand_computed_case():
    # 20 declarations scored 1..20; discrepancies at scores 20, 19, 17 and 3
    scores = np.arange(1, 21, dtype=float)
    labels = np.zeros(20)
    labels[[19, 18, 16, 2]] = 1
    revenue = np.zeros(20)
    revenue[[19, 18, 16, 2]] = [100, 50, 30, 20]
    # n = 10: threshold = percentile(scores, 90) = 18.1 -> selected 19, 20
    ten = at_n(labels, scores, 10, revenue)
    assert ten.threshold == pytest.approx(18.1)
    assert ten.selected == 2
    assert ten.precision == 1.0
    assert ten.recall == pytest.approx(2 / 4)
    assert ten.revenue == pytest.approx(150 / 200)
    # n = 20: threshold = percentile(scores, 80) = 16.2 -> 17..20 selected, 3 discrepancies
    twenty = at_n(labels, scores, 20, revenue)
    assert twenty.selected == 4
    assert twenty.precision == pytest.approx(3 / 4)
    assert twenty.recall == pytest.approx(3 / 4)
    assert twenty.revenue == pytest.approx(180 / 200)
    # n = 5: threshold = percentile(scores, 95) = 19.05 -> only 20
    assert at_n(labels, scores, 5).selected == 1


def test_ties_at_the_threshold_are_not_selected():
    scores = np.array([0.9, 0.9, 0.9, 0.9, 0.1])
    labels = np.array([1, 0, 1, 0, 0])
    res = at_n(labels, scores, 40)  # threshold = percentile 60 = 0.9, nobody strictly above
    assert res.selected == 0 and res.precision is None
    assert res.recall == 0.0


def test_auc_hand_cases_and_against_sklearn():
    assert auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
    assert auc(np.array([0, 1, 0, 1]), np.array([0.5, 0.5, 0.5, 0.5])) == pytest.approx(0.5)
    assert auc(np.array([1, 1]), np.array([0.2, 0.3])) is None
    sklearn = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    s = np.round(rng.random(2000) + y * 0.3, 2)  # many ties
    assert auc(y, s) == pytest.approx(sklearn.roc_auc_score(y, s))


def test_report_shape():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 1000).astype(float)
    report = evaluate_scores(y, rng.random(1000))
    assert [a.n for a in report.at] == [1, 2, 5, 10]
    assert [a.selected for a in report.at] == [10, 20, 50, 100]
    assert report.rows == 1000 and report.positives == int(y.sum())
    assert report.at_n(5).revenue is None
