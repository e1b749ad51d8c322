"""Explanations an officer can trust: names for codes, no words against their sign, reasons on
the lane, and ``risk explain`` answering in the order asked."""

from __future__ import annotations

import re

import numpy as np
import pytest

from silkgate.risk.learning import service
from silkgate.risk.learning.datasets import frame_to_records
from silkgate.risk.learning.explain import describe_feature, explain_contributions
from silkgate.risk.learning.synthetic import to_source_csv
from silkgate.risk.names import country_named, hs_named
from silkgate.risk.selectivity.engine import RiskEngine
from silkgate.risk.selectivity.profiles import profile_from_toml

_RATE = re.compile(r"(\d+) of (\d+) past inspections? found a discrepancy")


def test_codes_are_shown_with_their_names(trained):
    model, _, valid = trained
    assert hs_named("080810") == "080810 (Fruit, edible; apples, fresh)"
    assert country_named("CN") == "China (CN)"
    assert country_named("XX") == "XX"
    rec = frame_to_records(valid.head(1))[0].as_fields()
    rec["origin"] = "KZ"
    words = describe_feature(model, "origin", rec, {"origin": 1.0})
    assert words == "origin Kazakhstan (KZ)"
    rec["hs6"] = rec["hs_code"] = "080810"
    words = describe_feature(model, "hist_hs6_origin", rec, {})
    assert words.startswith(
        "commodity from this origin, HS 080810 (Fruit, edible; apples, fresh) from Kazakhstan"
    )


def test_history_words_never_contradict_their_sign(trained):
    """A hit rate above the base rate is never said to lower the risk, nor one below to raise
    it; the contribution is kept (the lines still add up) in an 'other features' line."""
    model, _, valid = trained
    names = model.feature_names
    prior = model.history.prior
    for rec in frame_to_records(valid.head(300)):
        fields = rec.as_fields()
        x = model.row(rec)[0]
        cell = model.history.explain_cell(fields, "hs6")
        if cell is None or cell[0] < 5 or cell[1] / cell[0] <= prior + 0.05:
            continue
        # a contribution against the words: the hs6 rate is high, make it lower the risk
        contrib = np.zeros(len(names) + 1)
        contrib[names.index("hist_hs6_rate")] = -1.5
        contrib[names.index("hist_importer_rate")] = 0.4
        reasons = explain_contributions(model, fields, x, contrib, top=10)
        texts = [r.text for r in reasons]
        assert not any(t.startswith("commodity (HS6)") for t in texts), texts
        assert texts[0].startswith("other features together") and "lowers the risk" in texts[0]
        assert sum(r.contribution for r in reasons) == pytest.approx(-1.1)
        break
    else:
        pytest.fail("no declaration of a commodity riskier than the base rate")


def test_real_explanations_agree_with_their_words(trained):
    model, _, valid = trained
    prior = model.history.prior
    checked = 0
    for rec in frame_to_records(valid.head(300)):
        _, reasons = model.explain(rec, top=50)
        for r in reasons:
            m = _RATE.search(r.text)
            if m is None:
                continue
            rate = int(m.group(1)) / int(m.group(2))
            if "raises the risk" in r.text:
                assert rate >= prior, r.text
            else:
                assert rate <= prior, r.text
            assert f"base rate {prior:.0%}" in r.text
            checked += 1
    assert checked > 100


def test_explain_keeps_the_order_of_the_ids(trained, tmp_path):
    model, _, valid = trained
    folder = model.save(tmp_path)
    path = tmp_path / "v.csv"
    to_source_csv(valid, str(path))
    ids = list(valid["declaration_id"].iloc[[40, 3, 17, 3, 25]])
    found = service.explain_declarations(folder, path, ids)
    assert [f["declaration_id"] for f in found] == [ids[0], ids[1], ids[2], ids[4]]


def test_a_lane_the_model_decided_carries_the_models_reasons(trained):
    model, _, valid = trained
    profile = profile_from_toml(
        """
office = "NURZHOLY"
[model]
exploration = 0.0
[model.rates]
red = 10.0
"""
    )
    engine = RiskEngine(profile, model)
    records = frame_to_records(valid.head(300))
    by_model = [a for a in (engine.assess(r) for r in records) if a.source == "model"]
    assert by_model
    for a in by_model:
        raising = [c.text for c in a.explanation if c.contribution > 0]
        assert a.reasons[0].startswith("model score")
        assert a.reasons[1] == "the model's main reasons: " + "; ".join(raising[:3])
    batch = engine.assess_batch(records, explain=True)
    assert any("the model's main reasons: " in " ".join(a.reasons) for a in batch)
