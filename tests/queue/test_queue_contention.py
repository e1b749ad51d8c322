"""Parallel bookings on both databases: the last places of an hour go exactly once."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from silkgate.core.errors import Conflict
from silkgate.core.platform import Platform
from silkgate.declarations import service as declarations
from silkgate.queue import service as queue
from silkgate.queue.models import Booking, Slot
from silkgate.queue.schemas import BookingIn
from tests.factories import export_cn_to_kz
from tests.queue.env import DAY, make_env


def _race(env: Any, bodies: list[dict[str, Any]]) -> tuple[list[Any], list[Exception]]:
    who = env.who("cn-broker")
    barrier = threading.Barrier(len(bodies))
    won: list[Any] = []
    lost: list[Exception] = []
    lock = threading.Lock()

    def run(body: dict[str, Any]) -> None:
        barrier.wait()
        try:
            out = queue.book(env.platform, who, BookingIn.model_validate(body))
            with lock:
                won.append(out)
        except Exception as exc:
            with lock:
                lost.append(exc)

    threads = [threading.Thread(target=run, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return won, lost


def test_parallel_bookings_fill_the_hour_exactly(platform: Platform) -> None:
    env = make_env(platform, cap=120)  # 5 an hour; the day is planned by the racing requests
    bodies = [env.booking_body(hour=13) for _ in range(12)]
    won, lost = _race(env, bodies)
    assert len(won) == 5, lost
    assert len(lost) == 7 and all(
        isinstance(e, Conflict) and e.errors[0].code == "slot_full" for e in lost
    ), lost
    with platform.db.session() as s:
        slot = s.scalar(
            select(Slot).where(
                Slot.day == DAY,
                Slot.hour == 13,
                Slot.quota_class == "regular",
                Slot.exit_country == "CN",
            )
        )
        assert slot is not None and slot.booked == slot.capacity == 5
        stored = s.scalar(
            select(func.count()).select_from(Booking).where(Booking.slot_id == slot.id)
        )
        assert stored == 5
        slots = s.scalar(
            select(func.count()).select_from(Slot).where(Slot.day == DAY, Slot.exit_country == "CN")
        )
        assert slots == 24 * 2  # one plan: regular and live rows for each hour, not duplicated


def test_one_truck_racing_itself_is_booked_once(platform: Platform) -> None:
    env = make_env(platform)
    truck = {"tractor_plate": "新F70001", "tractor_nationality": "CN"}
    who = env.who("cn-broker")
    bodies = []
    for i in range(4):
        out, _ = declarations.create(platform, who, export_cn_to_kz(f"RACE-{i}", transport=truck))
        bodies.append(
            env.booking_body(
                hour=8 + i, declaration_ids=[out.id], truck={**truck, "vin": "LZZ1CCND0J7000001"}
            )
        )
    won, lost = _race(env, bodies)
    assert len(won) == 1 and len(lost) == 3
    assert all(isinstance(e, Conflict) and e.errors[0].code == "already_booked" for e in lost)


def test_the_database_itself_refuses_a_second_active_booking(platform: Platform) -> None:
    env = make_env(platform)
    first = env.book(hour=4)
    with pytest.raises(IntegrityError), platform.db.session() as s:
        row = s.get(Booking, first.id)
        assert row is not None
        clone = Booking(**{c.key: getattr(row, c.key) for c in Booking.__table__.columns})
        clone.id = "0" * 22
        clone.vin = "LZZ1CCND0J7999999"
        s.add(clone)
        s.flush()


def test_full_hint_refuses_without_the_database_and_forgets_on_cancel(platform: Platform) -> None:
    env = make_env(platform, cap=24)  # one an hour
    first = env.book(hour=16)
    body = BookingIn.model_validate(env.booking_body(hour=16))
    with pytest.raises(Conflict):
        queue.book(platform, env.who("cn-broker"), body)
    with pytest.raises(Conflict) as info:
        queue.refuse_if_known_full(platform, body)  # no query: the hint
    assert info.value.errors[0].code == "slot_full"
    queue.cancel(platform, env.who("cn-broker"), first.id, "freed")
    queue.refuse_if_known_full(platform, body)  # forgotten: the place is free again
    assert queue.book(platform, env.who("cn-broker"), body).status == "confirmed"
