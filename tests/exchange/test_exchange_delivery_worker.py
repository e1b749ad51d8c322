"""Delivery passes: concurrent sends deliver once, a lease left by a killed worker ends and
the message goes again under the same id, outcomes recorded in bulk keep each row's tries and
error, late tries are released, a commit wakes the worker."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from silkgate.core.platform import Platform
from silkgate.exchange import delivery, service
from silkgate.exchange.schemas import DeliveryStatus, SubscriptionIn
from silkgate.exchange.signing import H_MESSAGE
from silkgate.exchange.worker import DeliveryWorker
from silkgate.registry.service import Caller
from tests.exchange.receiver import receiver
from tests.factories import caller, seeded

T0 = datetime(2026, 12, 10, 8, 0, tzinfo=UTC)


@pytest.fixture
def world(platform: Platform) -> tuple[Platform, Caller, list[datetime]]:
    ids = seeded(platform)
    now = [T0]
    platform.clock = lambda: now[0]
    return platform, caller(platform, ids, "cn-carrier"), now


def _enqueue(platform: Platform, org: Caller, ns: range) -> None:
    with platform.db.session() as s:
        for n in ns:
            service.enqueue(s, org.id, "queue.called_forward", {"n": n}, f"m-{n}", T0)


def _utc(at: datetime | None) -> datetime | None:
    """SQLite gives the stored UTC time back without its zone."""
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def _by_message(platform: Platform, org: Caller) -> dict[str, Any]:
    return {d.message_id: d for d in service.list_deliveries(platform, org, None, limit=500)}


def test_concurrent_passes_deliver_each_message_once(world: Any) -> None:
    platform, org, _ = world
    platform.settings.exchange_batch = 10
    platform.settings.exchange_concurrency = 4
    with receiver() as rec:
        service.add_subscription(platform, org, SubscriptionIn(url=rec.url))
        _enqueue(platform, org, range(60))
        reports: list[Any] = []

        def worker() -> None:
            while True:
                r = service.deliver_due(platform)
                reports.append(r)
                if r.delivered == 0:
                    return

        threads = [threading.Thread(target=worker) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    got = [h[H_MESSAGE] for h, _ in rec.hits]
    assert sorted(got) == sorted(f"m-{n}" for n in range(60))  # every one, none twice
    assert sum(r.delivered for r in reports) == 60
    rows = _by_message(platform, org)
    assert {(d.status, d.attempts) for d in rows.values()} == {(DeliveryStatus.DELIVERED, 1)}


def test_a_killed_workers_lease_ends_and_the_message_goes_again_under_its_id(
    world: Any,
) -> None:
    platform, org, now = world
    with receiver() as rec:
        service.add_subscription(platform, org, SubscriptionIn(url=rec.url))
        _enqueue(platform, org, range(3))
        claimed = delivery._claim(platform, T0, 10)  # a worker claims, then dies before sending
        assert len(claimed) == 3
        lease = delivery.lease_for(platform.settings)
        now[0] = T0 + lease - timedelta(seconds=1)
        assert service.deliver_due(platform).delivered == 0  # still leased
        assert rec.hits == []
        now[0] = T0 + lease
        assert service.deliver_due(platform).delivered == 3
    assert sorted(h[H_MESSAGE] for h, _ in rec.hits) == ["m-0", "m-1", "m-2"]
    assert {json.loads(b)["id"] for _, b in rec.hits} == {"m-0", "m-1", "m-2"}
    rows = _by_message(platform, org)
    assert all(d.attempts == 1 and d.status == DeliveryStatus.DELIVERED for d in rows.values())


def test_one_pass_records_each_outcome_with_its_own_tries_and_error(world: Any) -> None:
    platform, org, now = world
    platform.settings.exchange_concurrency = 1  # the receiver answers in turn
    # m-0 ok, m-1 500, m-2 ok, m-3 503: on their first try
    with receiver(codes=[200, 500, 200, 503]) as rec:
        service.add_subscription(platform, org, SubscriptionIn(url=rec.url))
        _enqueue(platform, org, range(4))
        r = service.deliver_due(platform)
        assert (r.delivered, r.retried, r.dead) == (2, 2, 0)
        rows = _by_message(platform, org)
        assert [(rows[m].status, rows[m].attempts, rows[m].last_error) for m in rows] == [
            (DeliveryStatus.PENDING, 1, "HTTP 503"),
            (DeliveryStatus.DELIVERED, 1, None),
            (DeliveryStatus.PENDING, 1, "HTTP 500"),
            (DeliveryStatus.DELIVERED, 1, None),
        ]
        assert _utc(rows["m-1"].next_attempt_at) == T0 + timedelta(seconds=1)
        assert rows["m-1"].delivered_at is None and _utc(rows["m-0"].delivered_at) == T0
        now[0] = T0 + timedelta(seconds=1)
        rec.codes[:] = [500, 200]  # m-1's second try fails again, m-3 goes through
        r = service.deliver_due(platform)
        assert (r.delivered, r.retried) == (1, 1)
    rows = _by_message(platform, org)
    assert (rows["m-1"].attempts, rows["m-1"].last_error) == (2, "HTTP 500")
    assert _utc(rows["m-1"].next_attempt_at) == now[0] + timedelta(seconds=2)
    assert (rows["m-3"].status, rows["m-3"].attempts) == (DeliveryStatus.DELIVERED, 2)
    assert rows["m-3"].last_error is None


def test_removal_during_a_pass_is_not_overwritten(world: Any, monkeypatch: Any) -> None:
    platform, org, _ = world
    with receiver() as rec:
        sub = service.add_subscription(platform, org, SubscriptionIn(url=rec.url))
        _enqueue(platform, org, range(2))
        send_all = delivery._send_all

        def remove_meanwhile(*args: Any) -> Any:
            out = send_all(*args)
            service.remove_subscription(platform, org, sub.id)
            return out

        monkeypatch.setattr(delivery, "_send_all", remove_meanwhile)
        r = service.deliver_due(platform)
    assert (r.delivered, r.retried, r.dead) == (0, 0, 0)
    rows = _by_message(platform, org)
    assert {(d.status, d.last_error, d.attempts) for d in rows.values()} == {
        (DeliveryStatus.DEAD, "subscription removed", 0)
    }


def test_tries_that_would_outlast_the_lease_are_left_for_the_next_pass(world: Any) -> None:
    platform, org, now = world
    platform.settings.exchange_concurrency = 1
    with receiver() as rec:
        service.add_subscription(platform, org, SubscriptionIn(url=rec.url))
        _enqueue(platform, org, range(3))
        late = delivery.last_start(platform.settings, T0) + timedelta(seconds=1)
        ticks = iter([T0, T0, late, late, late, late])  # claim, first try, then too late

        platform.clock = lambda: next(ticks, late)
        r = service.deliver_due(platform)
        assert (r.delivered, r.retried) == (1, 0)
        assert len(rec.hits) == 1
        rows = _by_message(platform, org)
        left = [d for d in rows.values() if d.status == DeliveryStatus.PENDING]
        assert len(left) == 2
        assert all(d.attempts == 0 and d.last_error is None for d in left)  # not a try
        assert all(_utc(d.next_attempt_at) == late for d in left)  # due again now, not leased
        platform.clock = lambda: now[0]
        now[0] = late
        assert service.deliver_due(platform).delivered == 2
    assert sorted(h[H_MESSAGE] for h, _ in rec.hits) == ["m-0", "m-1", "m-2"]


def test_a_committed_message_wakes_the_worker_before_its_poll(world: Any) -> None:
    platform, org, _ = world
    platform.clock = lambda: datetime.now(UTC)
    with receiver() as rec:
        service.add_subscription(platform, org, SubscriptionIn(url=rec.url))
        worker = DeliveryWorker(platform, poll=30.0)
        worker.start()
        try:
            assert not rec.got.wait(0.5)  # idle: waiting up to its 30 s poll
            with platform.db.session() as s:
                service.enqueue(s, org.id, "t.x", {"n": 1}, "woken", datetime.now(UTC))
            assert rec.got.wait(10)
        finally:
            worker.stop()
    assert [h[H_MESSAGE] for h, _ in rec.hits] == ["woken"]


def test_a_rolled_back_message_does_not_wake(world: Any) -> None:
    platform, org, _ = world
    event = threading.Event()
    delivery.listen(event)
    try:
        with pytest.raises(RuntimeError), platform.db.session() as s:
            service.enqueue(s, org.id, "t.x", {"n": 1}, "gone", T0)
            raise RuntimeError("the business change failed")
        assert not event.is_set()
        _enqueue(platform, org, range(1))
        assert event.is_set()
    finally:
        delivery.unlisten(event)
