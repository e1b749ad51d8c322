"""Pieces of the demo-scale generator with hand-checked answers: opening hours, the next
call-forward time, ids, and exact goods-item counts."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from silkgate.analytics.generator_border import Places
from silkgate.analytics.generator_ids import US_PER_DAY, mix_bits, time_ids
from silkgate.analytics.generator_trade import chunk_targets, chunks, plan, rows_per_shipment
from silkgate.analytics.generator_world import Calendar, _hours, load_crossings

BEIJING = dt.timezone(dt.timedelta(hours=8))


def us(t: dt.datetime) -> int:
    return int(t.timestamp()) * 1_000_000


def test_opening_hours_are_read_from_the_crossings_file() -> None:
    days, opens, closes = _hours("Mon-Fri 09:00-18:00 Beijing time")
    assert days.tolist() == [True] * 5 + [False] * 2 and (opens, closes) == (540, 1080)
    days, opens, closes = _hours("24/7")
    assert days.all() and (opens, closes) == (0, 1440)
    with pytest.raises(ValueError, match="Sat 10:00-12:00"):
        _hours("Sat 10:00-12:00")
    hours = {c.code: (c.opens, c.closes, int(c.days_open.sum())) for c in load_crossings()}
    assert hours["KHG-NZH"] == (0, 1440, 7)
    assert hours["ALA-DOS"] == (540, 1140, 7) and hours["BAK-TAC"] == (540, 1080, 5)


def test_trucks_are_called_forward_only_while_the_crossing_is_open() -> None:
    crossings = load_crossings()
    places = Places(crossings, 8)
    bak = [c.code for c in crossings].index("BAK-TAC")
    khg = [c.code for c in crossings].index("KHG-NZH")
    friday = dt.datetime(2025, 1, 3, tzinfo=BEIJING)  # a Friday
    cases = [  # (arrival, crossing) → called no earlier than
        (friday.replace(hour=17, minute=30), bak, friday.replace(hour=17, minute=30)),
        (friday.replace(hour=18, minute=0), bak, dt.datetime(2025, 1, 6, 9, tzinfo=BEIJING)),
        (friday.replace(hour=7, minute=15), bak, friday.replace(hour=9)),
        (friday + dt.timedelta(days=1, hours=12), bak, dt.datetime(2025, 1, 6, 9, tzinfo=BEIJING)),
        (friday.replace(hour=3), khg, friday.replace(hour=3)),
    ]
    got = places.next_open(
        np.array([us(a) for a, _, _ in cases]), np.array([c for _, c, _ in cases])
    )
    assert got.tolist() == [us(want) for _, _, want in cases]


def test_ids_are_the_platforms_shape_and_never_repeat() -> None:
    ms = np.full(3, 1735689600123)  # 2025-01-01T00:00:00.123Z = 0x01941f297c7b milliseconds
    ids = time_ids(ms, np.arange(3), salt=5).to_pylist()
    assert all(len(i) == 22 and i.startswith("01941f297c7b") for i in ids)
    assert len(set(ids)) == 3
    assert len(np.unique(mix_bits(np.arange(1 << 20), 40, 99))) == 1 << 20  # a bijection


def test_goods_items_add_up_exactly_per_chunk_and_year() -> None:
    crossings = load_crossings()
    cal = Calendar.build(2025, crossings)
    per_shipment = rows_per_shipment(7)
    assert 10 < per_shipment[0] < 30 and 1 < per_shipment[1] < 4  # groupage vs bulk loads
    parts = chunks(cal, 10_000_000)
    assert len(parts) == 48  # four chunks a month at 10 million items
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(365))
    targets = chunk_targets(cal, 10_000_000, per_shipment, parts)
    assert targets.sum() == 10_000_000 and targets.min() > 0
    rng = np.random.default_rng(1)
    for target in (1, 7, 2_500):
        s = plan(rng, cal, parts[5], target, per_shipment)
        assert s.rows().sum() == target
        assert set(np.unique(s.day)) <= set(parts[5].tolist())


def test_the_calendar_knows_weekends_and_holidays() -> None:
    crossings = load_crossings()
    codes = [c.code for c in crossings]
    cal = Calendar.build(2025, crossings)
    bak, khg = codes.index("BAK-TAC"), codes.index("KHG-NZH")
    weekend = cal.weekday >= 5
    assert cal.weights[bak][:, weekend].sum() == 0 and cal.weights[khg][:, weekend].sum() > 0
    assert cal.weights.sum() == pytest.approx(1.0)
    new_year = (dt.date(2025, 1, 29) - dt.date(2025, 1, 1)).days  # Spring Festival 2025
    week_before = cal.weights[khg, 0, new_year - 8 : new_year - 1].mean()
    assert cal.weights[khg, 0, new_year : new_year + 5].mean() < 0.5 * week_before
    assert (cal.first_day + 0) * US_PER_DAY == us(dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
