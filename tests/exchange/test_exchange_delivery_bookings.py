"""Every booking state change reaches the ``booking`` category's subscribers, in its own
transaction, under the id ``booking:<id>:<status>@<updated ms>``: call-forward, check-in,
gate-in and exit (by API and by gate event), the no-show sweep (one decision pass for the
batch), late arrival, walk-ins and bookings displaced by a cap change."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import event

from silkgate.core.platform import Platform
from silkgate.core.signing import public_key_b64
from silkgate.declarations import service as declarations
from silkgate.exchange import publish as pub
from silkgate.exchange.agreements.catalogue import Category
from silkgate.exchange.models import OutboxMessage
from silkgate.gates import service as gates
from silkgate.gates.ingest import sign_event
from silkgate.queue import noshow, waiting, walkin
from silkgate.queue.schemas import StageIn, WalkInIn
from silkgate.registry import service as registry
from tests.exchange.delivery_world import ALLOWED, agree_and_subscribe, messages
from tests.exchange.enforce_world import covered, leaves
from tests.queue.env import DAY, NOW, Env, make_env

CONSUMER = "kz-service"


@pytest.fixture
def env(platform: Platform) -> Env:
    e = make_env(platform)
    agree_and_subscribe(e, CONSUMER, Category.BOOKING)
    return e


def booking_msgs(env: Env, booking_id: str) -> list[OutboxMessage]:
    prefix = f"booking:{booking_id}:"
    return [m for m in messages(env.platform, env.who(CONSUMER)) if m.message_id.startswith(prefix)]


def statuses(env: Env, booking_id: str) -> list[str]:
    """The statuses published for a booking, in order, checking each message's id and payload."""
    out = []
    for m in booking_msgs(env, booking_id):
        status, at = m.message_id.removeprefix(f"booking:{booking_id}:").split("@")
        assert at.isdigit() and m.payload["status"] == status and m.payload["id"] == booking_id
        assert all(covered(p, set(ALLOWED[Category.BOOKING])) for p in leaves(m.payload))
        assert m.topic in ("booking.made", "booking.changed")
        out.append(status)
    return out


def stage(env: Env, capacity: int) -> None:
    body = StageIn(crossing="KHG-NZH", exit_country="CN", entry_country="KZ", capacity=capacity)
    waiting.set_stage(env.platform, env.who("cn-customs"), body)


@contextmanager
def agreement_reads(platform: Platform) -> Iterator[list[str]]:
    """The SQL statements that read the agreements table, while the block runs."""
    seen: list[str] = []

    def on(conn: Any, cursor: Any, sql: str, *_: Any) -> None:
        if "FROM exchange_agreements" in sql:
            seen.append(sql)

    event.listen(platform.db.engine, "before_cursor_execute", on)
    try:
        yield seen
    finally:
        event.remove(platform.db.engine, "before_cursor_execute", on)


def test_queue_moves_by_api_are_published(env: Env) -> None:
    p = env.platform
    stage(env, 0)  # nobody is called at check-in: the call comes with room
    b = env.book(hour=10)
    assert statuses(env, b.id) == ["confirmed"]
    cn = env.who("cn-customs")
    waiting.move(p, cn, b.id, "check_in", NOW)
    assert statuses(env, b.id) == ["confirmed", "arrived"]
    env.set_now(NOW + timedelta(minutes=5))
    stage(env, 1)
    env.set_now(NOW + timedelta(minutes=10))
    waiting.move(p, cn, b.id, "gate_in", env.now[0])
    env.set_now(NOW + timedelta(minutes=40))
    waiting.move(p, cn, b.id, "exit", env.now[0])
    assert statuses(env, b.id) == ["confirmed", "arrived", "called", "in_checkpoint", "exited"]
    topics = [m.topic for m in booking_msgs(env, b.id)]
    assert topics == ["booking.made", *["booking.changed"] * 4]
    # the id carries the change's time: each state once, stable if published again
    called = booking_msgs(env, b.id)[2]
    ms = int((NOW + timedelta(minutes=5)).timestamp() * 1000)
    assert called.message_id == f"booking:{b.id}:called@{ms}"


def test_gate_events_move_the_truck_and_each_change_is_published(env: Env) -> None:
    p = env.platform
    b = env.book(hour=10)
    key = Ed25519PrivateKey.generate()
    registry.register_signing_key(p, env.ids["cn-eport"], public_key_b64(key), "test")

    def report(point: str, local: str) -> None:
        ev = {
            "eventTime": f"2026-12-10T{local}+08:00",
            "bizStep": "arriving" if point == "waiting_area" else "departing",
            "readPoint": point,
            "crossing": "KHG-NZH",
            "side": "CN",
            "truck": {"nationality": "CN", "plate": b.truck["tractor_plate"]},
        }
        out = gates.ingest(
            p, env.who("cn-eport"), [{"event": ev, "signature": sign_event(key, ev)}]
        )
        assert out.lines[0].status == "stored", out

    report("waiting_area", "07:40:00")  # on time: arrived, and called at once (stage has room)
    assert statuses(env, b.id) == ["confirmed", "arrived", "called"]
    env.set_now(NOW + timedelta(minutes=10))
    report("gate_in", "07:58:00")
    env.set_now(NOW + timedelta(minutes=20))
    report("exit_gate", "08:05:00")
    assert statuses(env, b.id)[3:] == ["in_checkpoint", "exited"]


def test_no_show_sweep_publishes_the_batch_in_one_decision_pass(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = env.platform
    booked = [env.book(hour=h) for h in (9, 10, 11)]
    dropped = env.book(hour=12, day=DAY + timedelta(days=2))  # not overdue: expires
    declarations.cancel(p, env.who("cn-broker"), dropped.declaration_ids[0], "withdrawn")
    env.set_now(NOW + timedelta(days=2))  # past every slot and its grace
    passes: list[int] = []
    real = pub.publish

    def spy(s: Any, platform: Platform, facts: Any, *a: Any) -> Any:
        facts = list(facts)
        passes.append(len(facts))
        return real(s, platform, facts, *a)

    monkeypatch.setattr(pub, "publish", spy)
    with agreement_reads(p) as reads:
        report = noshow.sweep(p)
    monkeypatch.undo()
    assert passes == [4]  # one publish call for the three no-shows and the expired one
    assert sorted(report.no_shows) == sorted(b.id for b in booked)
    assert report.expired == [dropped.id]
    assert len(reads) == 1, reads  # the agreements are read once for the four bookings
    for b in booked:
        assert statuses(env, b.id) == ["confirmed", "no_show"]
    assert statuses(env, dropped.id)[-1] == "expired"
    # a no-show truck that comes after all is late: published too
    late_at = env.now[0]
    assert noshow.record_arrival(p, booked[0].id, late_at, "test") == "late"
    assert statuses(env, booked[0].id) == ["confirmed", "no_show", "late"]


def test_a_walk_in_is_published_as_made(env: Env) -> None:
    p = env.platform
    for side in ("cn-customs", "kz-customs"):
        env.cap(side, 240, live_share=0.1)
    stage(env, 0)
    body = WalkInIn.model_validate(
        {
            "crossing": "KHG-NZH",
            "exit_country": "CN",
            "entry_country": "KZ",
            "truck": {"tractor_nationality": "KZ", "tractor_plate": "123ABC02"},
        }
    )
    out = walkin.register(p, env.who("cn-eport"), body)
    [made] = booking_msgs(env, out.booking.id)
    assert (made.topic, made.payload["status"]) == ("booking.made", "arrived")


def test_a_booking_displaced_by_a_cap_cut_is_published(env: Env) -> None:
    env.book(hour=6)
    b = env.book(hour=6)
    env.set_now(NOW + timedelta(minutes=1))
    change = env.cap("kz-customs", 24, valid_from=DAY)  # one an hour: the later one goes
    assert change.displaced_bookings == [b.id]
    msgs = booking_msgs(env, b.id)  # its status stays; the change is published all the same
    assert [(m.payload["status"], m.topic) for m in msgs] == [
        ("confirmed", "booking.made"),
        ("confirmed", "booking.changed"),
    ]
    assert len({m.message_id for m in msgs}) == 2


def test_no_subscriber_no_booking_message(platform: Platform) -> None:
    env = make_env(platform)
    b = env.book(hour=10)
    waiting.move(platform, env.who("cn-customs"), b.id, "check_in", NOW)
    with platform.db.session() as s:
        assert s.query(OutboxMessage).filter(OutboxMessage.topic.like("booking.%")).count() == 0
