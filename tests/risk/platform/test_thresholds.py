"""Streaming thresholds: ties drawn to meet the rate; on the platform, from live scores."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sqlalchemy import select

from silkgate.declarations import service as declarations
from silkgate.risk.platform import live_thresholds, model_registry
from silkgate.risk.platform import profiles as profile_service
from silkgate.risk.platform.models import RiskAssessment
from silkgate.risk.platform.worker import assess_pending, assessor_for
from silkgate.risk.selectivity.schemas import Lane, ModelSelection
from silkgate.risk.selectivity.selection import StreamThresholds
from tests.risk.platform_env import Env
from tests.risk.platform_history import SMALL_GRID, cn_exports, inspected_history


def test_ties_at_the_threshold_are_drawn_to_meet_the_rate() -> None:
    reference = [0.2] * 900 + [0.8] * 100  # a coarse model: 10% share the top score
    policy = ModelSelection(rates={Lane.RED: 5.0}, exploration=0.0)
    t = StreamThresholds.from_reference(reference, policy)
    assert t.exploit[Lane.RED] == 0.8 and t.ties[Lane.RED] == pytest.approx(0.5)
    share = np.mean([t.exceeds(Lane.RED, 0.8, 1, f"D{i}") for i in range(4000)])
    assert share == pytest.approx(0.5, abs=0.03)
    assert t.exceeds(Lane.RED, 0.81, 1, "D") and not t.exceeds(Lane.RED, 0.79, 1, "D")
    assert t.exceeds(Lane.RED, 0.8, 1, "D7") == t.exceeds(Lane.RED, 0.8, 1, "D7")  # replayable
    ref = np.random.default_rng(3).beta(1, 6, 5000).round(2)  # many ties, any shape
    t = StreamThresholds.from_reference(ref.tolist(), policy)
    share = np.mean([t.exceeds(Lane.RED, float(x), 1, f"D{i}") for i, x in enumerate(ref)])
    assert share == pytest.approx(0.05, abs=0.006)


def test_thresholds_follow_the_offices_live_declaration_scores(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    inspected_history(env, n=100)
    model_registry.train_from_platform(
        env.platform, "test", "CN-KHORGOS", activate_it=True, grid=SMALL_GRID
    )
    profile = {"model": {"rates": {"red": 10.0}, "exploration": 0.0}}
    profile_service.save(env.platform, "test", "CN-KHORGOS", "export", profile)
    monkeypatch.setattr(live_thresholds, "MIN_SCORES", 30)
    report = declarations.create_batch(
        env.platform, env.caller("cn-broker"), cn_exports(40, seed=9, prefix="L")
    )
    assert report.accepted == 40
    assert assess_pending(env.platform) == 40
    key = ("CN-KHORGOS", "export")
    assessor = assessor_for(env.platform)
    built = assessor._engines[key]
    built.refreshed = -math.inf
    with env.platform.db.session() as s:
        assessor._refresh_thresholds(s, key, built)
        live = [
            x
            for x in s.scalars(
                select(RiskAssessment.score).where(RiskAssessment.model_id.is_not(None))
            )
        ]
    assert len(live) == 40
    assert built.engine.thresholds is not None
    assert built.engine.thresholds.exploit[Lane.RED] == pytest.approx(np.quantile(live, 0.9))


def test_explain_many_gives_what_explain_gives_one_by_one(trained) -> None:  # type: ignore[no-untyped-def]
    from silkgate.risk.learning.datasets import frame_to_records

    model, _, valid = trained
    records = frame_to_records(valid.head(60))
    many = model.explain_many(records, top=4)
    for rec, (score, reasons) in zip(records, many, strict=True):
        one_score, one_reasons = model.explain(rec, 4)
        assert score == pytest.approx(one_score, abs=1e-9)
        assert [r.text for r in reasons] == [r.text for r in one_reasons]
        assert [r.contribution for r in reasons] == pytest.approx(
            [r.contribution for r in one_reasons], abs=1e-4
        )
