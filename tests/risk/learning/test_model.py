"""The learned model: artifact round trip, one-vs-batch scoring, no leakage, behaviour, words."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from silkgate.risk.learning import service
from silkgate.risk.learning.datasets import frame_to_records
from silkgate.risk.learning.features import FeatureBuilder, HistoryTable
from silkgate.risk.learning.scorer import RiskModel
from silkgate.risk.selectivity.engine import RiskEngine
from silkgate.risk.selectivity.profiles import profile_from_toml


def test_artifact_round_trip(trained, tmp_path):
    model, _, valid = trained
    folder = model.save(tmp_path)
    assert folder.name == model.model_id
    assert {p.name for p in folder.iterdir()} == {
        "model.txt",
        "preprocessing.json",
        "history.parquet",
        "context.parquet",
        "baseline.txt",
        "metadata.json",
    }
    meta = json.loads((folder / "metadata.json").read_text())
    assert len(meta["training"]["sha256"]) == 64
    assert meta["features"] == model.feature_names
    assert [a["n"] for a in meta["validation_report"]["at"]] == [1, 2, 5, 10]
    assert meta["created_at"] and meta["lightgbm_version"] and meta["search"]
    loaded = RiskModel.load(folder)
    assert np.array_equal(loaded.score_frame(valid), model.score_frame(valid))
    listed = service.list_models(tmp_path)
    assert [m.model_id for m in listed] == [model.model_id]
    assert service.resolve_model("latest", tmp_path) == folder
    (folder / "history.parquet").unlink()
    with pytest.raises(ValueError, match="not a model artifact"):
        RiskModel.load(folder)


def test_one_declaration_scores_like_the_batch(trained):
    model, _, valid = trained
    sample = valid.head(300)
    batch = model.score_frame(sample)
    records = frame_to_records(sample)
    one = np.array([model.score(r) for r in records])
    assert np.allclose(one, batch, atol=1e-9)
    rows = np.vstack([model.row(r) for r in records])
    matrix = model.matrix(sample)
    assert np.array_equal(np.isnan(rows), np.isnan(matrix))
    assert np.allclose(np.nan_to_num(rows), np.nan_to_num(matrix))
    # a plain mapping with canonical keys works as well as a record
    as_dict = {k: v for k, v in records[0].as_fields().items() if k not in ("hs2", "hs4", "hs6")}
    assert model.score(as_dict) == pytest.approx(one[0])


def test_history_features_never_see_the_future(synthetic):
    frame = synthetic.head(3000).reset_index(drop=True)
    builder = FeatureBuilder().fit(frame)
    empty = HistoryTable(prior=0.2)
    base = builder.matrix(frame, empty, mode="expanding")
    cut = frame["date"].iloc[1500]
    flipped = frame.copy()
    later = flipped["date"] >= cut
    flipped.loc[later, "label"] = 1 - flipped.loc[later, "label"]
    after = builder.matrix(flipped, empty, mode="expanding")
    earlier = (~later).to_numpy()
    assert np.array_equal(np.nan_to_num(base[earlier]), np.nan_to_num(after[earlier]))
    # a row's own label (and its same-day neighbours') never reach its features
    one = frame.copy()
    one.loc[0:50, "label"] = 1 - one.loc[0:50, "label"]
    same_day = (frame["date"] == frame["date"].iloc[0]).to_numpy()
    moved = builder.matrix(one, empty, mode="expanding")
    assert np.array_equal(np.nan_to_num(base[same_day]), np.nan_to_num(moved[same_day]))
    assert not np.array_equal(np.nan_to_num(base), np.nan_to_num(moved))


def _hist_slice(model):
    start = len(model.builder.categoricals) + len(model.builder.numerics)
    return slice(start, len(model.feature_names))


@pytest.mark.parametrize("side", ["above", "below"])
def test_unit_value_far_outside_its_band_never_lowers_the_risk(trained, side):
    """Moving a declaration's unit value further outside its band never makes it look safer."""
    model, _, valid = trained
    hist = _hist_slice(model)
    oob = model.feature_names.index("unit_value_out_of_band")
    checked = end_to_end = 0
    for rec in frame_to_records(valid.head(400)):
        hs = rec.hs_code or ""
        band = model.builder.band_of("kg", hs[:6], hs[:4])
        if band is None or not rec.value or not rec.net_mass:
            continue
        x = model.row(rec)
        distance = x[0, oob]
        # 2 (in log units, a factor of e^2) further out than it already was, on one side
        target = band[1] + distance + 2 if side == "above" else band[0] - distance - 2
        changed = type(rec).from_mapping(
            {**rec.as_fields(), "value": math.exp(target) * rec.net_mass}
        )
        x2 = model.row(changed)
        assert x2[0, oob] == pytest.approx(distance + 2)
        # all else equal: the trader and consignment history stays what it was
        x2[0, hist] = x[0, hist]
        before = model.booster.predict(x)[0]
        after = model.booster.predict(x2)[0]
        assert after >= before - 1e-12, (rec.declaration_id, before, after)
        checked += 1
        # end to end, for goods lines never inspected before (no history to lose)
        if model.history.explain_cell(rec.as_fields(), "hs6_value") == (0.0, 0.0):
            assert model.score(changed) >= model.score(rec) - 1e-12
            end_to_end += 1
    assert checked > 300 and end_to_end > 30


def test_explanations_are_words_that_add_up(trained):
    model, _, valid = trained
    rec = frame_to_records(valid.head(1))[0]
    score, reasons = model.explain(rec, top=50)
    assert score == pytest.approx(model.score(rec))
    contrib = model.contributions(rec)
    assert math.log(score / (1 - score)) == pytest.approx(contrib.sum(), abs=1e-6)
    assert sum(r.contribution for r in reasons) + contrib[-1] == pytest.approx(
        contrib.sum(), abs=1e-3
    )
    assert [abs(r.contribution) for r in reasons] == sorted(
        (abs(r.contribution) for r in reasons), reverse=True
    )
    assert all(r.text.endswith(("raises the risk", "lowers the risk")) for r in reasons)
    assert any("past inspections" in r.text or "never inspected" in r.text for r in reasons)
    assert len(model.explain(rec)[1]) <= 5


def test_engine_assesses_with_profile_and_model(trained):
    model, _, valid = trained
    first = frame_to_records(valid.head(1))[0]
    profile = profile_from_toml(
        f"""
office = "NURZHOLY"
[[criteria]]
name = "this-hs"
description = "every declaration of this commodity to red"
when = 'hs6 = "{first.hs_code[:6]}"'
lane = "red"
[model.rates]
red = 5.0
yellow = 5.0
"""
    )
    engine = RiskEngine(profile, model)
    one = engine.assess(first)
    assert one.lane.value == "red" and one.source == "criterion"
    assert one.fired[0].name == "this-hs" and one.fired[0].selected
    assert one.model_id == model.model_id and one.score is not None and one.explanation
    assert engine.assess(first) == one  # reproducible
    records = frame_to_records(valid.head(1000))
    lanes = engine.assess_batch(records)
    red = sum(a.lane.value == "red" for a in lanes)
    forced = sum(r.hs_code[:6] == first.hs_code[:6] for r in records)
    assert red == max(forced, 50)
    assert sum(a.lane.value == "yellow" for a in lanes) == 50
    streamed = [engine.assess(r, explain=False) for r in records]
    assert 0.05 < np.mean([a.lane.value != "green" for a in streamed]) < 0.2


def test_evaluate_frozen_and_online_on_a_file(trained, tmp_path):
    from silkgate.risk.learning.synthetic import to_source_csv

    model, _, valid = trained
    model.save(tmp_path / "models")
    csv = tmp_path / "valid.csv"
    to_source_csv(valid, str(csv))
    frozen = service.evaluate(model.model_id, csv, None, tmp_path / "models")
    online = service.evaluate(model.model_id, csv, None, tmp_path / "models", history="online")
    assert frozen.rows == len(valid) and frozen.history == "frozen"
    assert frozen.auc == pytest.approx(model.metadata.validation_report.auc, abs=1e-9)
    assert online.auc is not None and online.history == "online"
    assert frozen.at_n(10).revenue is not None  # the synthetic set has a revenue column


def test_backtest_replays_weeks(synthetic):
    from silkgate.risk.learning.backtest import BacktestOptions, backtest

    report = backtest(
        synthetic, BacktestOptions(rate=10, exploration=0.2, warmup_weeks=4, max_weeks=6, rounds=50)
    )
    assert len(report.weeks) == 6
    for week in report.weeks:
        assert abs(week.inspected - 0.1 * week.rows) <= 1
        assert week.explored <= week.inspected
        assert 0 <= (week.precision or 0) <= 1
    assert report.weeks[-1].known_labels > report.weeks[0].known_labels
    explored = sum(w.explored for w in report.weeks) / sum(w.inspected for w in report.weeks)
    assert explored == pytest.approx(0.2, abs=0.05)


def test_training_refuses_unusable_data(synthetic):
    from silkgate.risk.learning.training import TrainingError, TrainOptions, summarise, train_model

    one_class = synthetic.assign(label=0.0)
    with pytest.raises(TrainingError, match="both outcomes"):
        train_model(one_class, None, summarise(one_class, "x", ""), None, TrainOptions())
    unlabelled = synthetic.drop(columns=["label"])
    with pytest.raises(TrainingError, match="no label"):
        train_model(unlabelled, None, summarise(unlabelled, "x", ""), None, TrainOptions())


def test_training_without_a_validation_file_holds_out_the_latest_weeks(synthetic):
    from silkgate.risk.learning.training import TrainOptions, summarise, train_model

    result = train_model(
        synthetic,
        None,
        summarise(synthetic, "all", "abc"),
        None,
        TrainOptions(grid=[{"num_leaves": 7, "min_data_in_leaf": 20}]),
    )
    meta = result.model.metadata
    assert meta.validation is not None and meta.validation.date_from > meta.training.date_from
    assert meta.validation.date_to == meta.training.date_to
    assert any("refitted" in note for note in meta.notes)
    assert pd.Timestamp(meta.validation.date_from) > synthetic["date"].quantile(0.7)
