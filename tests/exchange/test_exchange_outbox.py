"""Outbox atomicity and idempotency, signed delivery, back-off with a frozen clock, dead letters."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from silkgate.core.errors import Conflict, NotFound
from silkgate.core.platform import Platform
from silkgate.exchange import service
from silkgate.exchange.models import Delivery, OutboxMessage
from silkgate.exchange.schemas import DeliveryStatus, SubscriptionIn
from silkgate.exchange.signing import H_MESSAGE, H_SIGNATURE, verify_webhook
from silkgate.registry.service import Caller
from tests.exchange.receiver import receiver
from tests.factories import caller, seeded

T0 = datetime(2026, 12, 10, 8, 0, tzinfo=UTC)


@pytest.fixture
def world(platform: Platform) -> tuple[Platform, Caller, Caller, list[datetime]]:
    ids = seeded(platform)
    now = [T0]
    platform.clock = lambda: now[0]
    return platform, caller(platform, ids, "cn-carrier"), caller(platform, ids, "kz-carrier"), now


def _enqueue(platform: Platform, org: Caller, n: int, topic: str = "queue.called_forward") -> None:
    with platform.db.session() as s:
        service.enqueue(s, org.id, topic, {"n": n}, f"m-{org.id}-{n}", platform.clock())


def _count(platform: Platform, model: Any) -> int:
    with platform.db.session() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_rolled_back_transaction_leaves_no_message(world: Any) -> None:
    platform, org, _, _ = world
    service.add_subscription(platform, org, SubscriptionIn(url="http://127.0.0.1:9/x"))
    with pytest.raises(RuntimeError), platform.db.session() as s:
        service.enqueue(s, org.id, "t.x", {"a": 1}, "m-1", platform.clock())
        s.flush()
        raise RuntimeError("the business change failed")
    assert _count(platform, OutboxMessage) == 0
    assert _count(platform, Delivery) == 0
    _enqueue(platform, org, 1)
    assert (_count(platform, OutboxMessage), _count(platform, Delivery)) == (1, 1)


def test_message_id_is_idempotent(world: Any) -> None:
    platform, org, _, _ = world
    service.add_subscription(platform, org, SubscriptionIn(url="http://127.0.0.1:9/x"))
    _enqueue(platform, org, 1)
    _enqueue(platform, org, 1)
    assert (_count(platform, OutboxMessage), _count(platform, Delivery)) == (1, 1)


def test_signed_delivery_verifies_and_goes_to_subscribers_only(world: Any) -> None:
    platform, org, other, _ = world
    with receiver() as rec:
        service.add_subscription(
            platform, org, SubscriptionIn(url=rec.url, topics=["queue.called_forward"])
        )
        _enqueue(platform, org, 1)
        _enqueue(platform, org, 2, topic="other.topic")  # not subscribed
        _enqueue(platform, other, 3)  # another organization
        r = service.deliver_due(platform)
        assert (r.delivered, r.retried, r.dead) == (1, 0, 0)
        assert len(rec.hits) == 1
    headers, body = rec.hits[0]
    key = service.signing_key(platform)
    now = int(T0.timestamp())
    assert verify_webhook(key.public_key, headers, body, now)
    msg = json.loads(body)
    assert msg["data"] == {"n": 1} and msg["organization"] == org.member_id
    assert headers[H_MESSAGE] == msg["id"] == f"m-{org.id}-1"
    assert not verify_webhook(key.public_key, headers, body.replace(b"1", b"2"), now)
    assert not verify_webhook(key.public_key, headers, body, now + 3600)  # replayed later
    forged = {**headers, H_SIGNATURE: headers[H_SIGNATURE][::-1]}
    assert not verify_webhook(key.public_key, forged, body, now)


def test_retries_back_off_exponentially_then_deliver(world: Any) -> None:
    platform, org, _, now = world
    with receiver(codes=[500, 503]) as rec:
        service.add_subscription(platform, org, SubscriptionIn(url=rec.url))
        _enqueue(platform, org, 1)
        assert service.deliver_due(platform).retried == 1  # try 1 at T0 fails
        now[0] = T0 + timedelta(seconds=0.9)
        assert service.deliver_due(platform).retried == 0  # not due before 1 s
        now[0] = T0 + timedelta(seconds=1)
        assert service.deliver_due(platform).retried == 1  # try 2 fails: next in 2 s
        now[0] = T0 + timedelta(seconds=2.9)
        assert len(rec.hits) == 2 and service.deliver_due(platform).delivered == 0
        now[0] = T0 + timedelta(seconds=3)
        assert service.deliver_due(platform).delivered == 1
    ids = {h[H_MESSAGE] for h, _ in rec.hits}
    assert len(rec.hits) == 3 and len(ids) == 1  # the same message id on every try
    (d,) = service.list_deliveries(platform, org, None)
    assert d.status == DeliveryStatus.DELIVERED and d.attempts == 3


def test_dead_letter_after_seven_tries_and_retry(world: Any) -> None:
    platform, org, other, now = world
    with receiver(codes=[500] * 20) as rec:
        service.add_subscription(platform, org, SubscriptionIn(url=rec.url))
        _enqueue(platform, org, 1)
        at = T0
        for delay in (0, 1, 2, 4, 8, 16, 32):  # 7 tries from 1 s, doubling
            at += timedelta(seconds=delay)
            now[0] = at
            service.deliver_due(platform)
        now[0] = at + timedelta(days=1)
        assert service.deliver_due(platform).dead == 0
        assert len(rec.hits) == 7
        (dead,) = service.list_deliveries(platform, org, DeliveryStatus.DEAD)
        assert dead.attempts == 7 and dead.last_error == "HTTP 500"
        with pytest.raises(NotFound):
            service.retry_delivery(platform, other, dead.id)
        service.retry_delivery(platform, org, dead.id)
        with pytest.raises(Conflict):
            service.retry_delivery(platform, org, dead.id)
        rec.codes.clear()
        assert service.deliver_due(platform).delivered == 1
    assert service.list_deliveries(platform, org, DeliveryStatus.DEAD) == []


def test_unreachable_receiver_is_retried_and_removal_dead_letters(world: Any) -> None:
    platform, org, _, _ = world
    sub = service.add_subscription(platform, org, SubscriptionIn(url="http://127.0.0.1:9/none"))
    _enqueue(platform, org, 1)
    r = service.deliver_due(platform)
    assert r.retried == 1
    (d,) = service.list_deliveries(platform, org, None)
    assert d.last_error and "ConnectError" in d.last_error
    service.remove_subscription(platform, org, sub.id)
    (d,) = service.list_deliveries(platform, org, DeliveryStatus.DEAD)
    assert d.last_error == "subscription removed"
