"""Booking: the happy path, every refusal, quotas, caps binding, reschedule, cancel, displacement."""

from __future__ import annotations

import datetime as dt
from datetime import timedelta

import pytest
from sqlalchemy import select

from silkgate.core.errors import Conflict, Forbidden, SilkgateError, ValidationFailed
from silkgate.core.platform import Platform
from silkgate.declarations import service as declarations
from silkgate.declarations.schemas import DeclarationStatus
from silkgate.queue import service as queue
from silkgate.queue.models import DepositEntry, Notification, Slot
from silkgate.queue.schemas import BookingIn, SlotRef
from tests.queue.env import DAY, NOW, Env, make_env


@pytest.fixture
def env(platform: Platform) -> Env:
    return make_env(platform)


def refused(env: Env, body: dict, who: str = "cn-broker") -> SilkgateError:
    with pytest.raises(SilkgateError) as info:
        queue.book(env.platform, env.who(who), BookingIn.model_validate(body))
    return info.value


def fields(err: SilkgateError) -> set[tuple[str, str]]:
    return {(e.field, e.code) for e in err.errors}


def slot(env: Env, hour: int, cls: str = "regular", day: dt.date = DAY) -> Slot:
    with env.platform.db.session() as s:
        row = s.scalar(
            select(Slot).where(
                Slot.day == day,
                Slot.hour == hour,
                Slot.quota_class == cls,
                Slot.exit_country == "CN",
            )
        )
        assert row is not None
        return row


def test_booking_takes_one_slot_and_holds_a_deposit(env: Env) -> None:
    out = env.book(hour=10)
    assert out.status == "confirmed" and out.driver and out.starts_at.hour == 2  # 10:00 at UTC+8
    assert slot(env, 10).booked == 1 and slot(env, 10).capacity == 10  # 240 a day over 24 hours
    with env.platform.db.session() as s:
        kinds = list(s.scalars(select(DepositEntry.kind).where(DepositEntry.booking_id == out.id)))
    assert kinds == ["held"]


def test_binding_cap_is_the_lower_side_and_both_sides_are_needed(platform: Platform) -> None:
    from tests.queue.env import Env, seeded

    env = Env(platform, seeded(platform))
    platform.clock = lambda: NOW
    env.cap("cn-customs", 700)
    err = refused(env, env.booking_body())
    assert ("/slot/day", "no_capacity") in fields(err)
    env.cap("kz-customs", 480)
    env.book(hour=3)
    with platform.db.session() as s:
        total = sum(
            s.scalars(select(Slot.capacity).where(Slot.day == DAY, Slot.exit_country == "CN"))
        )
    assert total == 480


def test_refusals_name_the_field(env: Env) -> None:
    assert ("/slot/hour", "in_past") in fields(
        refused(env, env.booking_body(day=dt.date(2026, 12, 10), hour=7))
    )
    far = NOW.date() + timedelta(days=30)
    assert ("/slot/day", "beyond_horizon") in fields(refused(env, env.booking_body(day=far)))
    body = env.booking_body()
    body["crossing"] = "ALA-DOS"
    assert ("/declaration_ids/0", "crossing_mismatch") in fields(refused(env, body))
    body = env.booking_body()
    body["exit_country"], body["entry_country"] = "KZ", "CN"
    assert ("/declaration_ids/0", "direction_mismatch") in fields(refused(env, body))
    body = env.booking_body()
    body["truck"]["tractor_plate"] = "新F99999"
    assert ("/truck/tractor_plate", "vehicle_mismatch") in fields(refused(env, body))
    # a declaration of another declarant: not entitled (and its existence not disclosed)
    assert ("/declaration_ids/0", "not_entitled") in fields(
        refused(env, env.booking_body(), who="kz-service")
    )
    body = env.booking_body(quota_class="perishables")
    assert ("/quota_class", "wrong_evidence") in fields(refused(env, body))
    body = env.booking_body(quota_class="dangerous_goods", evidence={"un_numbers": ["UN1203"]})
    assert ("/evidence", "wrong_evidence") in fields(refused(env, body))
    body = env.booking_body(quota_class="live")
    assert ("/quota_class", "not_bookable") in fields(refused(env, body))
    with pytest.raises(Forbidden):
        queue.book(
            env.platform, env.who("cn-customs"), BookingIn.model_validate(env.booking_body())
        )


def test_declaration_must_be_accepted(env: Env) -> None:
    body = env.booking_body()
    decl_id = body["declaration_ids"][0]
    declarations.transition(
        env.platform, env.who("cn-customs"), decl_id, DeclarationStatus.AT_BORDER, None
    )
    assert ("/declaration_ids/0", "not_accepted") in fields(refused(env, body))


def test_vehicle_and_declaration_cannot_be_booked_twice(env: Env) -> None:
    body = env.booking_body(hour=11)
    queue.book(env.platform, env.who("cn-broker"), BookingIn.model_validate(body))
    again = dict(body, slot={"day": DAY.isoformat(), "hour": 12})
    err = refused(env, again)
    assert isinstance(err, Conflict)
    assert {
        ("/truck/tractor_plate", "already_booked"),
        ("/truck/vin", "already_booked"),
        ("/declaration_ids/0", "already_booked"),
    } <= fields(err)
    assert slot(env, 12).booked == 0  # nothing half-written


def test_slot_full_for_its_quota_and_priority_quota_accounted_apart(platform: Platform) -> None:
    env = make_env(platform, cap=48)  # 2 an hour, of which perishables 25% → 12 a day
    env.cap("cn-customs", 48, quotas={"perishables": 0.25}, live_share=0.25)
    env.cap("kz-customs", 48, quotas={"perishables": 0.25}, live_share=0.25)
    env.book(hour=5)
    assert slot(env, 5).capacity == 1
    err = refused(env, env.booking_body(hour=5))
    assert ("/slot/hour", "slot_full") in fields(err) and slot(env, 5).booked == 1
    body = env.booking_body(hour=5, quota_class="perishables")
    decl_id, truck = env.declaration(goods_items=_fruit_items())
    body["declaration_ids"], body["truck"] = [decl_id], {**truck, "vin": body["truck"]["vin"]}
    out = queue.book(env.platform, env.who("cn-broker"), BookingIn.model_validate(body))
    assert out.quota_class == "perishables" and slot(env, 5, "perishables").booked == 1


def _fruit_items() -> list[dict]:
    from tests.factories import export_cn_to_kz

    return [{**it, "hs_code": "080810"} for it in export_cn_to_kz()["goods_items"]]


def test_cancel_frees_the_slot_and_releases_the_deposit(env: Env) -> None:
    out = env.book(hour=9)
    queue.cancel(env.platform, env.who("cn-broker"), out.id, "load not ready")
    assert slot(env, 9).booked == 0
    with pytest.raises(Conflict):
        queue.cancel(env.platform, env.who("cn-broker"), out.id, "twice")
    with env.platform.db.session() as s:
        kinds = list(
            s.scalars(
                select(DepositEntry.kind)
                .where(DepositEntry.booking_id == out.id)
                .order_by(DepositEntry.id)
            )
        )
    assert kinds == ["held", "released"]


def test_reschedule_within_limits(env: Env) -> None:
    out = env.book(hour=9)
    who = env.who("cn-broker")
    queue.reschedule(env.platform, who, out.id, SlotRef(day=DAY, hour=14))
    assert slot(env, 9).booked == 0 and slot(env, 14).booked == 1
    queue.reschedule(env.platform, who, out.id, SlotRef(day=DAY, hour=15))
    with pytest.raises(Conflict) as info:
        queue.reschedule(env.platform, who, out.id, SlotRef(day=DAY, hour=16))
    assert ("/slot", "reschedule_limit") in fields(info.value)
    late = env.book(hour=20, day=dt.date(2026, 12, 10))  # 12:00 UTC; now is 00:00 UTC
    env.set_now(NOW + timedelta(hours=11))
    with pytest.raises(Conflict) as info:
        queue.reschedule(env.platform, who, late.id, SlotRef(day=DAY, hour=16))
    assert ("/slot", "too_late") in fields(info.value)
    with pytest.raises(Forbidden):
        queue.reschedule(env.platform, env.who("cn-customs"), out.id, SlotRef(day=DAY, hour=3))


def test_lower_cap_displaces_the_latest_bookings_and_notifies(env: Env) -> None:
    first = env.book(hour=6)
    second = env.book(hour=6)
    change = env.cap("kz-customs", 24, valid_from=DAY)  # one an hour
    assert DAY in change.replanned_days
    assert change.displaced_bookings == [second.id]
    assert slot(env, 6).capacity == 1
    with env.platform.db.session() as s:
        note = s.scalar(select(Notification))
        assert note is not None and note.booking_ids == [second.id]
    # a displaced booking may move without spending a reschedule
    moved = queue.reschedule(
        env.platform, env.who("cn-broker"), second.id, SlotRef(day=DAY, hour=7)
    )
    assert moved.reschedules == 0 and not moved.displaced
    assert first.id != second.id


def test_invalid_cap_refused(env: Env) -> None:
    with pytest.raises(Forbidden):
        env.cap("cn-broker", 100)
    with pytest.raises(ValidationFailed):
        queue.set_cap(
            env.platform,
            env.who("cn-customs"),
            __import__("silkgate.queue.schemas", fromlist=["CapIn"]).CapIn(
                crossing="KHG-NZH",
                exit_country="CN",
                entry_country="UZ",
                valid_from=DAY,
                daily_cap=5,
            ),
        )
