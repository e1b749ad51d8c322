"""From caps to slots: splits add up, hours parse, both sides' hours intersect."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from silkgate.queue.planning import class_totals, crossing_hours, largest_remainder, open_hours


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 5000), st.lists(st.floats(0, 10, allow_nan=False), min_size=1, max_size=24))
def test_largest_remainder_adds_up_and_stays_near_shares(total: int, weights: list[float]) -> None:
    out = largest_remainder(total, weights)
    if sum(weights) == 0:
        assert out == [0] * len(weights)
        return
    assert sum(out) == total and all(n >= 0 for n in out)
    for n, w in zip(out, weights, strict=True):
        assert abs(n - total * w / sum(weights)) < 1 + 1e-6


def test_class_totals_give_priority_and_live_shares_and_the_rest_regular() -> None:
    got = class_totals(1000, {"perishables": 0.1, "aeo_tir": 0.05}, 0.15)
    assert got == {"perishables": 100, "aeo_tir": 50, "live": 150, "regular": 700}
    assert sum(class_totals(7, {"humanitarian": 0.33}, 0.33).values()) == 7


def test_opening_hours() -> None:
    assert open_hours("24/7", 6) == set(range(24))
    assert open_hours("Mon-Fri 09:00-18:00 Beijing time", 0) == set(range(9, 18))
    assert open_hours("Mon-Fri 09:00-18:00 Beijing time", 5) == set()
    with pytest.raises(ValueError):
        open_hours("sunrise to sunset", 0)
    assert crossing_hours("KHG-NZH", dt.date(2026, 12, 5)) == list(range(24))
    assert crossing_hours("BAK-TAC", dt.date(2026, 12, 5)) == []  # a Saturday
