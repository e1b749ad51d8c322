"""Value-control bands: robust to outliers, most specific band wins, hits read in words."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from silkgate.risk.selectivity.schemas import ValueBand, ValueControls
from silkgate.risk.selectivity.value_controls import BandIndex, compute_bands


def history(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Two origins of one HS6 at different price levels, plus absurd declarations."""
    rng = np.random.default_rng(seed)
    origin = np.where(np.arange(n) % 2 == 0, "CN", "DE")
    per_kg = np.where(origin == "CN", 2.0, 8.0) * np.exp(rng.normal(0, 0.2, n))
    mass = rng.uniform(100, 1000, n)
    value = per_kg * mass
    value[:6] = mass[:6] * 1e-4  # six absurdly cheap declarations in the history
    return pd.DataFrame(
        {
            "hs_code": "080810",
            "origin": pd.Series(origin, dtype=object),
            "value": value,
            "net_mass": mass,
            "label": 0.0,
        }
    )


def test_bands_follow_the_bulk_and_ignore_outliers():
    bands = compute_bands(history(), ValueControls(min_count=20))
    by_key = {(b.hs6, b.origin): b for b in bands}
    cn, de, anywhere = by_key[("080810", "CN")], by_key[("080810", "DE")], by_key[("080810", "*")]
    assert cn.min_per_kg < 2.0 < cn.max_per_kg
    assert de.min_per_kg < 8.0 < de.max_per_kg
    assert cn.max_per_kg < 8.0 * 1.5  # not widened by the other origin
    assert cn.min_per_kg > 1e-3  # not dragged down by the absurd six
    assert anywhere.min_per_kg < cn.min_per_kg and anywhere.max_per_kg >= de.max_per_kg * 0.9
    assert all(b.source == "history" and b.count for b in bands)


def test_quantile_method_and_min_count():
    cfg = ValueControls(method="quantile", low_quantile=0.05, high_quantile=0.95, min_count=20)
    bands = compute_bands(history(), cfg)
    cn = next(b for b in bands if b.origin == "CN")
    assert 1.0 < cn.min_per_kg < 2.0 < cn.max_per_kg < 3.0
    # 15 rows per origin: only the any-origin band has enough history
    assert {b.origin for b in compute_bands(history(30), ValueControls(min_count=20))} == {"*"}
    assert compute_bands(history(10), ValueControls(min_count=20)) == []


def test_rows_with_discrepancies_are_left_out_of_the_band():
    data = history()
    data.loc[:100, "value"] = data.loc[:100, "net_mass"] * 0.01
    data.loc[:100, "label"] = 1.0
    clean = compute_bands(data, ValueControls(exclude_hits=True))
    dirty = compute_bands(data, ValueControls(exclude_hits=False))
    low = {b.origin: b.min_per_kg for b in clean}
    low_dirty = {b.origin: b.min_per_kg for b in dirty}
    assert low["*"] > low_dirty["*"]


def test_most_specific_band_wins_and_manual_beats_history():
    index = BandIndex(
        [
            ValueBand(hs6="080810", origin="*", min_per_kg=1, max_per_kg=10, source="history"),
            ValueBand(hs6="080810", origin="US", min_per_kg=3, max_per_kg=5, source="history"),
            ValueBand(hs6="080810", origin="US", min_per_kg=4, max_per_kg=6, source="manual"),
        ]
    )
    assert index.band_for("080810", "US").source == "manual"
    assert index.band_for("080810", "CN").origin == "*"
    assert index.band_for("080811", "US") is None
    ok = {"hs_code": "080810", "origin": "US", "value": 5000.0, "net_mass": 1000.0}
    cheap = dict(ok, value=3500.0)
    dear = dict(ok, origin="CN", value=20000.0)
    assert index.check(ok) is None
    hit = index.check(cheap)
    assert hit is not None and hit.side == "below" and hit.bound == 4
    assert (
        "below the minimum 4.00" in hit.describe()
        and "from United States (US) (manual)" in hit.describe()
    )
    hit = index.check(dear)
    assert hit is not None and hit.side == "above" and "any origin" in hit.describe()
    assert index.check(dict(ok, net_mass=None)) is None
    assert index.check(dict(ok, value=None)) is None


def test_supplementary_unit_band():
    index = BandIndex([ValueBand(hs6="870323", min_per_unit=5000, max_per_unit=90000)])
    car = {"hs_code": "8703231900", "value": 1000.0, "supplementary_quantity": 1, "net_mass": 1400}
    hit = index.check(car)
    assert hit is not None and hit.basis == "unit"
    assert index.check(dict(car, value=20000.0)) is None


def test_frame_check_matches_row_check():
    rng = np.random.default_rng(3)
    index = BandIndex(compute_bands(history(), ValueControls()))
    frame = pd.DataFrame(
        {
            "hs_code": rng.choice(["080810", "080820", None], 500),
            "origin": rng.choice(["CN", "DE", "US", None], 500),
            "value": np.where(rng.random(500) < 0.1, np.nan, rng.lognormal(7, 2, 500)),
            "net_mass": rng.choice([0.0, 100.0, 500.0, np.nan], 500),
        }
    )
    frame["hs_code"] = frame["hs_code"].astype(object)
    frame["origin"] = frame["origin"].astype(object)
    rows = [index.check(r) is not None for r in frame.to_dict("records")]
    assert index.check_frame(frame).tolist() == rows
    assert any(rows)


def test_band_validation():
    with pytest.raises(ValidationError, match="above the maximum"):
        ValueBand(hs6="080810", min_per_kg=5, max_per_kg=1)
    with pytest.raises(ValidationError):
        ValueBand(hs6="0808", min_per_kg=1)
