"""Grace window, no-shows, lateness and the deposit ledger, with a frozen clock."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from silkgate.core.platform import Platform
from silkgate.declarations import service as declarations
from silkgate.queue import noshow
from silkgate.queue.models import Booking, DepositEntry
from silkgate.queue.schemas import BookingIn
from tests.queue.env import DAY, NOW, make_env


def deposit_kinds(platform: Platform, booking_id: str) -> list[str]:
    with platform.db.session() as s:
        return list(
            s.scalars(
                select(DepositEntry.kind)
                .where(DepositEntry.booking_id == booking_id)
                .order_by(DepositEntry.id)
            )
        )


def status(platform: Platform, booking_id: str) -> str:
    with platform.db.session() as s:
        b = s.get(Booking, booking_id)
        assert b is not None
        return b.status


def test_sweep_waits_for_the_end_of_the_grace_window(platform: Platform) -> None:
    env = make_env(platform)
    b = env.book(hour=10)  # 02:00–03:00 UTC on DAY; due by 04:00 UTC with 1 h grace
    due = b.starts_at + timedelta(hours=2)
    env.set_now(due - timedelta(seconds=1))
    assert noshow.sweep(platform).no_shows == []
    env.set_now(due + timedelta(seconds=1))
    report = noshow.sweep(platform)
    assert report.no_shows == [b.id] and report.forfeited == []
    assert status(platform, b.id) == "no_show"
    assert deposit_kinds(platform, b.id) == ["held", "released"]
    assert noshow.sweep(platform).no_shows == []  # swept once


def test_second_no_show_of_a_vehicle_within_90_days_forfeits(platform: Platform) -> None:
    env = make_env(platform)
    first = env.book(hour=1)
    env.set_now(first.starts_at + timedelta(hours=3))
    noshow.sweep(platform)
    # the same truck books again (a new declaration for it) and does not come either
    body = env.booking_body(hour=1, day=DAY + timedelta(days=1))
    body["truck"]["vin"] = first.truck["vin"]
    from silkgate.queue import service as queue

    second = queue.book(platform, env.who("cn-broker"), BookingIn.model_validate(body))
    env.set_now(second.starts_at + timedelta(hours=3))
    report = noshow.sweep(platform)
    assert report.forfeited == [second.id]
    assert deposit_kinds(platform, second.id) == ["held", "forfeited"]


def test_no_show_outside_the_window_does_not_count(platform: Platform) -> None:
    env = make_env(platform)
    platform.settings.queue_forfeit_window_days = 1
    first = env.book(hour=1)
    env.set_now(first.starts_at + timedelta(hours=3))
    noshow.sweep(platform)
    env.set_now(NOW + timedelta(days=3))
    body = env.booking_body(hour=1, day=DAY + timedelta(days=3))
    body["truck"]["vin"] = first.truck["vin"]
    from silkgate.queue import service as queue

    second = queue.book(platform, env.who("cn-broker"), BookingIn.model_validate(body))
    env.set_now(second.starts_at + timedelta(hours=3))
    assert noshow.sweep(platform).forfeited == []


def test_arrival_on_time_and_late(platform: Platform) -> None:
    env = make_env(platform)
    on_time = env.book(hour=6)
    late = env.book(hour=6)
    assert (
        noshow.record_arrival(
            platform, on_time.id, on_time.starts_at + timedelta(minutes=100), "gate"
        )
        == "arrived"
    )
    assert deposit_kinds(platform, on_time.id) == ["held", "released"]
    assert (
        noshow.record_arrival(platform, late.id, late.starts_at + timedelta(minutes=121), "gate")
        == "late"
    )
    with platform.db.session() as s:
        row = s.get(Booking, late.id)
        assert row is not None and row.no_show_at is not None


def test_cancelled_declaration_expires_its_booking(platform: Platform) -> None:
    env = make_env(platform)
    b = env.book(hour=9)
    declarations.cancel(platform, env.who("cn-broker"), b.declaration_ids[0], "order cancelled")
    report = noshow.sweep(platform)
    assert report.expired == [b.id] and status(platform, b.id) == "expired"
    assert deposit_kinds(platform, b.id) == ["held", "released"]


def test_a_rebooked_no_show_arrives_on_its_new_booking_only(platform: Platform) -> None:
    from silkgate.core.errors import Conflict
    from silkgate.queue import service as queue

    env = make_env(platform)
    first = env.book(hour=1)
    env.set_now(first.starts_at + timedelta(hours=3))
    noshow.sweep(platform)
    body = env.booking_body(hour=1, day=DAY + timedelta(days=1))
    body["truck"] = dict(first.truck)
    body["declaration_ids"] = list(first.declaration_ids)
    second = queue.book(platform, env.who("cn-broker"), BookingIn.model_validate(body))
    try:
        noshow.record_arrival(platform, first.id, first.starts_at + timedelta(hours=4), "gate")
        raise AssertionError("the old booking was revived beside the new one")
    except Conflict as exc:
        assert [(e.field, e.code) for e in exc.errors] == [("/booking_id", "rebooked")]
        assert second.id in exc.errors[0].message
    assert status(platform, first.id) == "no_show"
    assert status(platform, second.id) == "confirmed"


def test_no_shows_of_different_trucks_of_one_broker_do_not_forfeit(platform: Platform) -> None:
    env = make_env(platform)
    first, second = env.book(hour=1), env.book(hour=1)  # two trucks, one broker
    env.set_now(first.starts_at + timedelta(hours=3))
    report = noshow.sweep(platform)
    assert sorted(report.no_shows) == sorted([first.id, second.id])
    assert report.forfeited == []
