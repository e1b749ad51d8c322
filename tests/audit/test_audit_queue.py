"""Every edit of an e-queue or exchange record that the log recorded fails `silkgate audit
verify`, naming the record and what differs; so do records without their entry and logged
records that were deleted. The untampered history verifies."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from silkgate.audit.models import AuditEntry
from silkgate.audit.verify import verify_all
from silkgate.core.platform import Platform
from silkgate.exchange.models import Delivery, OutboxMessage, Subscription
from silkgate.queue.models import (
    BookedDeclaration,
    Booking,
    CapacityCap,
    DayPlan,
    DepositEntry,
    Notification,
    Slot,
    Stage,
    WaitingTruck,
)
from tests.audit.queue_world import QueueWorld, build_queue
from tests.audit.world import run_verify

Tamper = Callable[[Session, QueueWorld], None]


def _booking(s: Session, booking_id: str, **values: object) -> None:
    s.execute(update(Booking).where(Booking.id == booking_id).values(**values))


def _slot_of(s: Session, booking_id: str) -> int:
    slot_id = s.scalar(select(Booking.slot_id).where(Booking.id == booking_id))
    assert slot_id is not None
    return slot_id


def _booking_hour(s: Session, w: QueueWorld) -> None:
    _booking(s, w.moved, hour=13)


def _booking_slot(s: Session, w: QueueWorld) -> None:
    _booking(s, w.moved, slot_id=_slot_of(s, w.called))


def _booking_truck(s: Session, w: QueueWorld) -> None:
    _booking(s, w.called, tractor_plate="新F99999")


def _booking_status(s: Session, w: QueueWorld) -> None:
    _booking(s, w.no_show, status="arrived")


def _booking_displaced_cleared(s: Session, w: QueueWorld) -> None:
    _booking(s, w.moved, displaced=False)


def _booking_deleted(s: Session, w: QueueWorld) -> None:
    for table, column in (
        (BookedDeclaration, BookedDeclaration.booking_id),
        (DepositEntry, DepositEntry.booking_id),
        (Booking, Booking.id),
    ):
        s.execute(delete(table).where(column == w.cancelled))


def _booking_inserted(s: Session, w: QueueWorld) -> None:
    row = s.execute(select(Booking.__table__).where(Booking.id == w.cancelled)).one()
    s.execute(insert(Booking.__table__), [{**row._asdict(), "id": "ffffffffffffff00000000"}])


def _deposit_amount(s: Session, w: QueueWorld) -> None:
    s.execute(
        update(DepositEntry)
        .where(DepositEntry.booking_id == w.cancelled, DepositEntry.kind == "held")
        .values(amount=0)
    )


def _forfeit_deleted(s: Session, w: QueueWorld) -> None:
    s.execute(
        delete(DepositEntry).where(
            DepositEntry.booking_id == w.no_show, DepositEntry.kind == "forfeited"
        )
    )


def _link_deactivated(s: Session, w: QueueWorld) -> None:
    s.execute(
        update(BookedDeclaration)
        .where(BookedDeclaration.booking_id == w.called)
        .values(active=False)
    )


def _waiting_state(s: Session, w: QueueWorld) -> None:
    s.execute(update(WaitingTruck).where(WaitingTruck.booking_id == w.called).values(state="left"))


def _cap_value(s: Session, w: QueueWorld) -> None:
    s.execute(update(CapacityCap).where(CapacityCap.id == w.first_cap).values(daily_cap=999))


def _cap_deleted(s: Session, w: QueueWorld) -> None:
    s.execute(delete(CapacityCap).where(CapacityCap.id == w.first_cap))


def _slot_booked(s: Session, w: QueueWorld) -> None:
    s.execute(update(Slot).where(Slot.id == _slot_of(s, w.moved)).values(booked=Slot.booked + 1))


def _slot_capacity(s: Session, w: QueueWorld) -> None:
    s.execute(update(Slot).where(Slot.id == _slot_of(s, w.no_show)).values(capacity=99))


def _slot_deleted(s: Session, w: QueueWorld) -> None:
    hour = s.scalar(select(Booking.hour).where(Booking.id == w.moved))
    s.execute(delete(Slot).where(Slot.hour == hour + 5, Slot.quota_class == "regular"))


def _day_plan(s: Session, w: QueueWorld) -> None:
    s.execute(update(DayPlan).values(daily_cap=500))


def _stage_capacity(s: Session, w: QueueWorld) -> None:
    s.execute(update(Stage).values(capacity=50))


def _stage_deleted(s: Session, w: QueueWorld) -> None:
    s.execute(delete(Stage))


def _notice(s: Session, w: QueueWorld) -> None:
    s.execute(update(Notification).values(booking_ids=[]))


def _subscription_url(s: Session, w: QueueWorld) -> None:
    s.execute(
        update(Subscription)
        .where(Subscription.id == w.subscription)
        .values(url="https://attacker.example/hook")
    )


def _message_payload(s: Session, w: QueueWorld) -> None:
    msg = s.get(OutboxMessage, w.message)
    assert msg is not None
    msg.payload = {**msg.payload, "called_at": "2026-12-10T00:00:00+00:00", "class": "aeo"}


def _message_deleted(s: Session, w: QueueWorld) -> None:
    s.execute(delete(Delivery).where(Delivery.outbox_id == w.message))
    s.execute(delete(OutboxMessage).where(OutboxMessage.id == w.message))


def _message_inserted(s: Session, w: QueueWorld) -> None:
    row = s.execute(select(OutboxMessage.__table__).where(OutboxMessage.id == w.message)).one()
    s.execute(
        insert(OutboxMessage.__table__),
        [{**row._asdict(), "id": w.message + 100, "message_id": "forged:1"}],
    )


CASES: dict[str, tuple[Tamper, str, tuple[str, ...]]] = {
    "booking hour": (_booking_hour, "moved", ("/hour is 13", "recorded 12")),
    "booking slot": (_booking_slot, "moved", ("/slot_id is",)),
    "booking truck": (_booking_truck, "called", ("/truck/tractor_plate is '新F99999'",)),
    "booking status": (_booking_status, "no_show", ("/status is 'arrived'", "'no_show'")),
    "booking displacement cleared": (_booking_displaced_cleared, "moved", ("/displaced is False",)),
    "booking deleted": (_booking_deleted, "cancelled", ("missing from queue_bookings",)),
    "booking inserted": (
        _booking_inserted,
        "",
        ("booking ffffffffffffff00000000", "in queue_bookings, but no audit entry"),
    ),
    "deposit amount": (_deposit_amount, "cancelled", ("/deposits/0/amount is 0", "recorded 20")),
    "forfeit deleted": (_forfeit_deleted, "no_show", ("/deposits is", "'forfeited'")),
    "declaration link": (_link_deactivated, "called", ("declaration link", "is inactive")),
    "waiting row": (_waiting_state, "called", ("waiting-area state is 'left'", "'called'")),
    "cap value": (_cap_value, "", ("/daily_cap is 999", "recorded 240")),
    "cap deleted": (_cap_deleted, "", ("missing from queue_caps",)),
    "slot counter": (_slot_booked, "", ("booked is 2; 1 booking(s) hold it",)),
    "slot capacity": (_slot_capacity, "", ("01:00 regular", "capacity is 99")),
    "slot deleted": (_slot_deleted, "", ("day plan KHG-NZH CN→KZ", "17:00 regular is missing")),
    "day plan": (_day_plan, "", ("day plan KHG-NZH CN→KZ", "daily cap 500")),
    "stage capacity": (_stage_capacity, "", ("stage KHG-NZH:CN-KZ", "/capacity is 50")),
    "stage deleted": (_stage_deleted, "", ("stage KHG-NZH:CN-KZ", "missing from queue_stages")),
    "notice": (_notice, "", ("queue notice", "/booking_ids")),
    "subscription url": (
        _subscription_url,
        "",
        ("webhook subscription", "/url is 'https://attacker.example/hook'", "127.0.0.1"),
    ),
    "message payload": (_message_payload, "", ("outbox message", "payload differs")),
    "message deleted": (
        _message_deleted,
        "",
        ("outbox message", "exchange.enqueued", "missing from exchange_outbox"),
    ),
    "message inserted": (_message_inserted, "", ("outbox message", "no audit entry records it")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_queue_tampering_fails_verify_naming_record_and_difference(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    w = build_queue(platform)
    tamper, which, expected = CASES[case]
    with platform.db.session() as s:
        tamper(s, w)
    out = run_verify(platform, monkeypatch)
    assert out.exit_code == 1, out.output
    text = " ".join(out.output.split())
    if which:
        assert f"booking {getattr(w, which)}" in text, text
    for fragment in expected:
        assert fragment in text, text


def test_the_untampered_queue_world_verifies(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_queue(platform)
    out = run_verify(platform, monkeypatch)
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    for count in ("5 bookings", "3 queue caps", "1 stages", "2 outbox messages", "48 slots"):
        assert count in text, text


def test_queue_entries_carry_state_without_the_driver(platform: Platform) -> None:
    w = build_queue(platform)
    with platform.db.session() as s:
        entries = list(
            s.scalars(
                select(AuditEntry)
                .where(AuditEntry.entity_type == "queue_booking", AuditEntry.entity_id == w.no_show)
                .order_by(AuditEntry.seq)
            )
        )
    assert [e.action for e in entries] == ["queue.booked", "queue.no_show"]
    booked, swept = (e.state or {} for e in entries)
    assert booked["status"] == "confirmed" and swept["status"] == "no_show"
    assert [d["kind"] for d in swept["deposits"]] == ["held", "forfeited"]
    assert "driver" not in booked and "Wang Lei" not in str(booked)
    assert verify_all(platform).ok


def test_entries_from_before_states_are_counted_not_compared(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from silkgate.audit.service import AuditEvent, append
    from silkgate.registry.models import Organization
    from tests.factories import seeded

    ids = seeded(platform)
    with platform.db.session() as s:
        org = s.scalars(select(Organization).where(Organization.member_id == ids["cn-broker"]))
        sub = Subscription(
            organization_id=org.one().id,
            url="http://127.0.0.1:9/old",
            topics=["*"],
            active=True,
            created_by=ids["cn-broker"],
            created_at=datetime.now(UTC),
        )
        s.add(sub)
        s.flush()
        old = {"url": sub.url, "topics": sub.topics}  # as entries were written before states
        event = AuditEvent(
            ids["cn-broker"], "exchange.subscribed", "exchange_subscription", str(sub.id), old
        )
        append(s, platform.signer, [event])
    out = run_verify(platform, monkeypatch)
    text = " ".join(out.output.split())
    assert out.exit_code == 0, text
    assert "1 records logged before states were kept (not compared)" in text, text
    assert "1 webhook subscriptions" in text, text
