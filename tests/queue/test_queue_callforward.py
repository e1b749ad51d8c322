"""Waiting area and call-forward: the interleave exactly as configured, booked before live in
slot order, the stage's room, carrier messages, position and estimate, gate-event moves."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from silkgate.core.errors import Conflict, Forbidden
from silkgate.core.platform import Platform
from silkgate.exchange.models import OutboxMessage
from silkgate.queue import reading, waiting
from silkgate.queue.callforward import call_order, round_of
from silkgate.queue.models import Booking, WaitingTruck
from silkgate.queue.schemas import StageIn
from tests.queue.env import NOW, Env, make_env

ECHERHA = {"priority_aeo_tir": 1, "priority": 1, "aeo": 1, "regular": 5}


@pytest.fixture
def env(platform: Platform) -> Env:
    return make_env(platform)


def stage(env: Env, capacity: int, who: str = "cn-customs") -> Any:
    body = StageIn(crossing="KHG-NZH", exit_country="CN", entry_country="KZ", capacity=capacity)
    return waiting.set_stage(env.platform, env.who(who), body)


def booking(env: Env, hour: int, quota: str = "regular", aeo: bool = False) -> str:
    """A booking whose class is set in the table (the evidence rules are tested elsewhere)."""
    b = env.book(hour=hour)
    with env.platform.db.session() as s:
        row = s.get(Booking, b.id)
        assert row is not None
        row.quota_class = quota
        row.evidence = {"aeo_certificate": "CNAEO1"} if aeo else {}
    return b.id


def check_in(env: Env, booking_id: str, late: bool = False) -> Any:
    at = NOW + (timedelta(days=2) if late else timedelta(0))
    return waiting.move(env.platform, env.who("cn-customs"), booking_id, "check_in", at)


def test_round_and_order_exactly_as_configured() -> None:
    pattern = round_of(ECHERHA)
    assert pattern == ["priority_aeo_tir", "priority", "aeo"] + ["regular"] * 5
    short = {"priority_aeo_tir": "P", "priority": "p", "aeo": "a", "regular": "r"}
    queues = {c: [f"{short[c]}{i}" for i in range(12 if c == "regular" else 3)] for c in ECHERHA}
    got, cursor = call_order(queues, pattern, 0, 16)  # type: ignore[arg-type]
    first = ["P0", "p0", "a0", "r0", "r1", "r2", "r3", "r4"]
    second = ["P1", "p1", "a1", "r5", "r6", "r7", "r8", "r9"]
    assert got == [*first, *second]
    assert cursor == 0
    # empty classes are skipped, the round carries on from the cursor
    got, cursor = call_order({"regular": ["r0", "r1"], "aeo": ["a0"]}, pattern, 3, 3)
    assert got == ["r0", "r1", "a0"] and cursor == 3
    # another ratio: 2 regular per AEO
    got, _ = call_order(
        {"regular": list("rrrr"), "aeo": list("AA")}, ["aeo", "regular", "regular"], 0, 6
    )
    assert got == ["A", "r", "r", "A", "r", "r"]
    # a class left out of the round still goes when the round finds nobody
    got, _ = call_order({"priority": ["p"]}, ["regular"], 0, 1)
    assert got == ["p"]


def test_interleave_across_classes_in_slot_order(env: Env) -> None:
    stage(env, 0)
    ids = {
        "P": [booking(env, 10, "perishables", aeo=True), booking(env, 9, "perishables", aeo=True)],
        "p": [booking(env, 10, "humanitarian"), booking(env, 11, "dangerous_goods")],
        "a": [booking(env, 12, "aeo_tir"), booking(env, 13, "aeo_tir")],
        "r": [booking(env, h, "regular") for h in (15, 14, 13, 12, 11, 10)],
    }
    for group in ids.values():
        for b in reversed(group):
            check_in(env, b)
    out = stage(env, 12)
    expected = [ids["P"][1], ids["p"][0], ids["a"][0]]
    expected += list(reversed(ids["r"]))[:5]
    expected += [ids["P"][0], ids["p"][1], ids["a"][1], ids["r"][0]]
    assert out.called == expected
    assert out.occupied == 12 and out.waiting == 0


def test_booked_before_live_room_messages_position_estimate(env: Env) -> None:
    stage(env, 0)
    a, b, c = booking(env, 12), booking(env, 10), booking(env, 11)
    check_in(env, a)
    check_in(env, b, late=True)  # beyond grace: live queue, behind every booked truck
    check_in(env, c)
    pos = {x: reading.position(env.platform, env.who("cn-broker"), x) for x in (a, b, c)}
    assert [pos[x].position for x in (c, a, b)] == [1, 2, 3]
    assert pos[c].estimated_call_at is None and pos[c].calls_per_hour == 0  # no calls yet
    assert stage(env, 1).called == [c]
    assert stage(env, 1).called == []  # full: nobody more
    p = env.platform
    with p.db.session() as s:
        assert s.get(Booking, c).status == "called"  # type: ignore[union-attr]
        msgs = list(s.scalars(select(OutboxMessage)))
    assert [(m.topic, m.payload["booking_id"]) for m in msgs] == [("queue.called_forward", c)]
    waiting.move(p, env.who("cn-eport"), c, "gate_in", NOW)
    env.set_now(NOW + timedelta(minutes=30))
    after = waiting.move(p, env.who("cn-eport"), c, "exit", NOW + timedelta(minutes=30))
    assert after.state == "left"
    with p.db.session() as s:
        assert s.get(Booking, a).status == "called"  # type: ignore[union-attr]
        assert s.get(Booking, c).status == "exited"  # type: ignore[union-attr]
    last = reading.position(p, env.who("cn-broker"), b)
    assert last.position == 1 and last.calls_per_hour == 2.0
    assert last.estimated_call_at == NOW + timedelta(minutes=30) + timedelta(minutes=30)
    with pytest.raises(Conflict):
        waiting.move(p, env.who("cn-eport"), c, "exit", NOW)


def test_only_exit_side_officials_move_trucks(env: Env) -> None:
    b = booking(env, 10)
    with pytest.raises(Forbidden):
        waiting.move(env.platform, env.who("cn-broker"), b, "check_in", NOW)
    with pytest.raises(Forbidden):
        stage(env, 5, who="kz-customs")
    with env.platform.db.session() as s:
        assert s.get(WaitingTruck, b) is None


def test_gate_events_check_in_and_free_the_stage(env: Env) -> None:
    stage(env, 1)
    a, b = booking(env, 10), booking(env, 11)
    p = env.platform
    with p.db.session() as s:
        trucks = {x: f"CN:{s.get(Booking, x).tractor_plate}" for x in (a, b)}  # type: ignore[union-attr]

    def rows(point: str, x: str, minutes: int, side: str = "CN") -> list[dict[str, Any]]:
        return [
            {
                "read_point": point,
                "truck": trucks[x],
                "crossing_code": "KHG-NZH",
                "side": side,
                "event_time": NOW + timedelta(minutes=minutes),
                "reporter": "cn-eport",
                "corrects": None,
            }
        ]

    with p.db.session() as s:
        waiting.on_gate_events(s, p, rows("waiting_area", b, 1) + rows("waiting_area", a, 0))
        waiting.on_gate_events(s, p, rows("waiting_area", b, 3, side="KZ"))  # other side
    with p.db.session() as s:
        assert s.get(WaitingTruck, a).state == "called"  # type: ignore[union-attr]
        assert s.get(WaitingTruck, b).state == "waiting"  # type: ignore[union-attr]
    with p.db.session() as s:  # the exit event arrives before the late gate-in event
        waiting.on_gate_events(s, p, rows("exit_gate", a, 20))
        waiting.on_gate_events(s, p, rows("gate_in", a, 5))
    with p.db.session() as s:
        assert s.get(WaitingTruck, a).state == "left"  # type: ignore[union-attr]
        assert s.get(WaitingTruck, b).state == "called"  # type: ignore[union-attr]
        assert s.get(Booking, b).status == "called"  # type: ignore[union-attr]


def test_ratios_setting_is_checked() -> None:
    from pydantic import ValidationError

    from silkgate.core.settings import Settings

    with pytest.raises(ValidationError, match="unknown call-forward class"):
        Settings(database_url="sqlite://", demo_mode=True, queue_callforward_ratios={"vip": 1})
    with pytest.raises(ValidationError, match="at least one"):
        Settings(database_url="sqlite://", demo_mode=True, queue_callforward_ratios={"aeo": 0})
