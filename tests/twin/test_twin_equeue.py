"""E-queue rules: slot capacity, no-shows, lateness with grace, interleaved priorities."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twin_builders import two_sided

from silkgate.twin.arrivals import SlotBook, build_flow, interleave_pattern
from silkgate.twin.scenario import parse_scenario
from silkgate.twin.schemas import EQueue


def test_interleave_pattern_follows_ratios() -> None:
    assert interleave_pattern([1, 1, 5]) == [0, 1, 2, 2, 2, 2, 2]
    assert interleave_pattern([2]) == [0, 0]


@settings(max_examples=60, deadline=None)
@given(
    per_hour=st.lists(st.integers(0, 5), min_size=24, max_size=24).filter(lambda v: sum(v) > 0),
    per_day=st.one_of(st.none(), st.integers(1, 40)),
    requests=st.lists(st.floats(0, 3 * 1440 - 1, allow_nan=False), max_size=150),
)
def test_slot_book_never_overbooks(
    per_hour: list[int], per_day: int | None, requests: list[float]
) -> None:
    eq = EQueue(slots_per_hour=per_hour, slots_per_day=per_day)
    book = SlotBook(eq, 3 * 24)
    slots = [book.take(t) for t in sorted(requests)]
    used_h: dict[int, int] = {}
    used_d: dict[int, int] = {}
    for t, s in zip(sorted(requests), slots, strict=True):
        if not np.isfinite(s):
            continue
        assert s >= t
        h = int(s // 60)
        used_h[h] = used_h.get(h, 0) + 1
        used_d[h // 24] = used_d.get(h // 24, 0) + 1
    for h, n in used_h.items():
        assert n <= per_hour[h % 24]
    if per_day is not None:
        assert all(n <= per_day for n in used_d.values())
    # first fit: a truck pushed past the horizon means every hour from its request was full
    for t, s in zip(sorted(requests), slots, strict=True):
        if np.isfinite(s):
            continue
        for h in range(int(t // 60), 3 * 24):
            day_full = per_day is not None and used_d.get(h // 24, 0) >= per_day
            assert day_full or used_h.get(h, 0) >= per_hour[h % 24]


def test_slot_book_first_free_hour() -> None:
    book = SlotBook(EQueue(slots_per_hour=2), 48)
    assert [book.take(0.0) for _ in range(5)] == [0.0, 30.0, 60.0, 90.0, 120.0]
    assert book.take(10 * 60 + 5) == 10 * 60 + 5  # free hour: the slot is when you come


def _flow(no_show: float, lateness: dict[str, float], grace: float = 60, tpd: float = 400):
    data = two_sided()
    eq = data["directions"]["kz_to_cn"]["equeue"]
    eq.update(no_show_share=no_show, lateness=lateness, grace_minutes=grace, slots_per_hour=40)
    data["directions"]["kz_to_cn"]["trucks_per_day"] = tpd
    return build_flow(parse_scenario(data), "kz_to_cn", seed=3, replication=0, days=20)


def test_no_shows_rebook_and_still_cross() -> None:
    flow = _flow(0.2, {"dist": "fixed", "value": 0.0})
    assert flow.no_shows / flow.demand == pytest.approx(0.2, abs=0.02)
    assert flow.ready.size + flow.booked_beyond == flow.demand  # nobody lost
    assert np.all(flow.gate >= flow.ready)
    waited = flow.at_border - flow.ready
    assert np.quantile(waited, 0.95) > 60  # no-shows come back hours later


def test_late_beyond_grace_rebooks() -> None:
    lateness = {"dist": "triangular", "low": 0, "mode": 30, "high": 180}
    flow = _flow(0.0, lateness, grace=60)
    # P(lateness > 60) for triangular(0, 30, 180) = (180-60)^2 / (180 * 150)
    expected = (120**2) / (180 * 150)
    assert flow.rebooked / flow.demand == pytest.approx(expected, abs=0.03)
    strict = _flow(0.0, lateness, grace=0)
    assert strict.rebooked > flow.rebooked
    lenient = _flow(0.0, lateness, grace=1000)
    assert lenient.rebooked == 0


def test_equeue_shifts_waiting_off_the_border_when_slots_bind() -> None:
    """Demand above slot capacity in the day: trucks wait for slots, not in the column."""
    flow = _flow(0.0, {"dist": "fixed", "value": 0.0}, tpd=1200)  # 40 slots/h = 960/day
    calls = flow.gate - flow.drive
    per_hour = np.bincount((calls // 60).astype(int))
    assert per_hour.max() <= 40
    assert flow.booked_beyond > 0  # the backlog of bookings outruns the horizon


def test_rebookings_compete_in_time_order() -> None:
    """Slots saturated for 20 days: a no-show or a late truck that books again at hour h gets
    the same place in line as a truck booking at hour h, so the trucks pushed past the
    horizon are the ones that became ready last, not the no-shows of the first day."""
    lateness = {"dist": "triangular", "low": 0, "mode": 30, "high": 180}  # ~36% beyond grace
    flow = _flow(0.2, lateness, tpd=800)  # 40 slots/h = 960/day; a rebooking uses two
    assert flow.no_shows > 1000 and flow.rebooked > 1000
    assert flow.booked_beyond > 1000
    assert flow.ready_beyond.min() > 8 * 1440  # no early truck waits past the horizon
    # and the line moves in order: who became ready earlier is called earlier, give or take
    # the rebooking delays (at most 12 h after the slot, 3 h of lateness)
    order = np.argsort(flow.ready)
    called = (flow.gate - flow.drive)[order]
    ready_days = flow.ready[order] // 1440
    first_day_calls = called[ready_days == 0]
    last_day_calls = called[ready_days == ready_days.max()]
    assert first_day_calls.max() < last_day_calls.min()
