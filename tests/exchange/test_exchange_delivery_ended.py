"""Messages of an agreement no longer in force — revoked, or past ``valid_until`` — are not
sent, served by the pull feed, nor streamed: ``agreements_in_force`` and
``ended_agreement_rows`` (the worker's check of a claimed batch, one query), the feed, the
pull status, ``messages_after`` and ``GET /exchange/events``, and a retry."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select, update

from silkgate.app import create_app
from silkgate.core.errors import Conflict
from silkgate.core.platform import Platform
from silkgate.exchange import publish as pub
from silkgate.exchange import service
from silkgate.exchange.agreements import service as agreements
from silkgate.exchange.agreements.catalogue import Category
from silkgate.exchange.agreements.models import Agreement
from silkgate.exchange.feed import read_feed
from silkgate.exchange.models import Delivery
from silkgate.exchange.schemas import SubscriptionIn
from silkgate.exchange.subscriptions import status
from tests.exchange.delivery_world import agree_and_subscribe
from tests.factories import tokens
from tests.queue.env import NOW, Env, make_env

CONSUMER = "kz-service"
HOOK = "http://127.0.0.1:9/hook"  # never reached: these tests do not send


@pytest.fixture
def env(platform: Platform) -> Env:
    return make_env(platform)


def expire_at(p: Platform, aid: str, until: datetime) -> None:
    with p.db.session() as s:
        s.execute(update(Agreement).where(Agreement.agreement_id == aid).values(valid_until=until))


@contextmanager
def statements(p: Platform) -> Iterator[list[str]]:
    seen: list[str] = []

    def on(conn: Any, cursor: Any, sql: str, *_: Any) -> None:
        if sql.lstrip().upper().startswith(("SELECT", "UPDATE")):  # not BEGIN
            seen.append(sql)

    event.listen(p.db.engine, "before_cursor_execute", on)
    try:
        yield seen
    finally:
        event.remove(p.db.engine, "before_cursor_execute", on)


def pending(p: Platform) -> list[Delivery]:
    with p.db.session() as s:
        rows = list(s.scalars(select(Delivery).order_by(Delivery.id)))
        s.expunge_all()
    return rows


def test_agreements_in_force_one_query(env: Env) -> None:
    p = env.platform
    live, _ = agree_and_subscribe(env, CONSUMER, Category.PRE_ARRIVAL)
    expiring, _ = agree_and_subscribe(env, CONSUMER, Category.RISK_LANE)
    revoked, _ = agree_and_subscribe(env, CONSUMER, Category.RISK_SCORE)
    expire_at(p, expiring, NOW + timedelta(hours=1))
    agreements.revoke(p, env.who("cn-customs"), revoked, "ended")
    ids = [live, expiring, revoked, "no-such-agreement"]
    with p.db.session() as s, statements(p) as seen:
        assert pub.agreements_in_force(s, ids, NOW) == {live, expiring}
        assert pub.agreements_in_force(s, ids, NOW + timedelta(hours=1)) == {live}  # until: out
        assert pub.agreements_in_force(s, [], NOW) == set()
        before_start = datetime(2019, 12, 31, tzinfo=UTC)  # the grants start in 2020
        assert pub.agreements_in_force(s, [live], before_start) == set()
    assert len(seen) == 3  # one each; none for no ids


def test_worker_check_dead_letters_the_claimed_deliveries_of_an_expired_agreement(
    env: Env,
) -> None:
    p = env.platform
    ending, ending_sub = agree_and_subscribe(env, CONSUMER, Category.PRE_ARRIVAL, url=HOOK)
    still, still_sub = agree_and_subscribe(env, CONSUMER, Category.DECLARATION, url=HOOK)
    raw = service.add_subscription(p, env.who("cn-broker"), SubscriptionIn(url=HOOK, topics=["*"]))
    env.declaration()
    with p.db.session() as s:  # a raw-topic message (no agreement) for the broker's webhook
        broker = env.who("cn-broker").id
        service.enqueue(s, broker, "queue.called_forward", {"x": 1}, "raw:1", NOW)
    expire_at(p, ending, NOW + timedelta(minutes=30))
    rows = pending(p)
    assert len(rows) == 3 and all(d.status == "pending" for d in rows)
    # in force: nothing ends
    with p.db.session() as s:
        assert pub.ended_agreement_rows(s, rows, NOW) == set()
    later = NOW + timedelta(hours=1)
    with p.db.session() as s:
        claimed = list(s.scalars(select(Delivery).where(Delivery.status == "pending")))
        with statements(p) as seen:
            ended = pub.ended_agreement_rows(s, claimed, later)
    ending_ids = {d.id for d in rows if d.subscription_id == ending_sub}
    assert ended == ending_ids and len(ended) == 1
    assert len(seen) == 2  # one query decides the batch, one update dead-letters
    after = {d.id: d for d in pending(p)}
    for d_id, d in after.items():
        if d_id in ended:
            assert (d.status, d.last_error) == ("dead", pub.ENDED)
        else:
            assert (d.status, d.last_error) == ("pending", None)
    assert {d.subscription_id for d in after.values() if d.status == "pending"} >= {raw.id}
    with p.db.session() as s, statements(p) as seen:
        assert pub.ended_agreement_rows(s, [], later) == set()
    assert seen == []
    # the same check from (delivery id, agreement id) pairs, as the worker's claim reads them
    under = {ending_sub: ending, still_sub: still}
    again = [(d.id, under.get(d.subscription_id)) for d in rows]
    with p.db.session() as s, statements(p) as seen:
        assert pub.ended_deliveries(s, again, later) == ending_ids
    assert len(seen) == 2 and seen[0].lstrip().upper().startswith("SELECT")
    assert sorted(d.status for d in pending(p)) == ["dead", "pending", "pending"]
    with p.db.session() as s, statements(p) as seen:
        assert pub.ended_deliveries(s, [(rows[2].id, None)], later) == set()
    assert seen == []  # no agreement among them: no query
    # the dead letter cannot be retried while the agreement is not in force
    env.set_now(later)
    with pytest.raises(Conflict) as exc:
        service.retry_delivery(p, env.who(CONSUMER), next(iter(ended)))
    assert exc.value.errors[0].code == "agreement_ended"


def test_feed_status_and_stream_stop_when_the_agreement_expires(env: Env) -> None:
    p = env.platform
    who = env.who(CONSUMER)
    aid, sub_id = agree_and_subscribe(env, CONSUMER, Category.PRE_ARRIVAL)
    env.declaration()
    with p.db.session() as s:  # a raw-topic message of the same organization stays visible
        service.enqueue(s, who.id, "queue.called_forward", {"x": 1}, "raw:1", NOW)
    expire_at(p, aid, NOW + timedelta(hours=1))
    assert len(read_feed(p, who, None, 10).messages) == 2
    assert len(service.messages_after(p, who, 0)) == 2
    assert status(p, who, sub_id).undelivered == 1
    env.set_now(NOW + timedelta(hours=1))
    assert [m.topic for m in read_feed(p, who, None, 10).messages] == ["queue.called_forward"]
    assert [m.topic for m in service.messages_after(p, who, 0)] == ["queue.called_forward"]
    st = status(p, who, sub_id)
    assert (st.undelivered, st.lag_seconds) == (0, None)


def test_sse_stops_showing_a_revoked_agreements_messages(env: Env) -> None:
    p = env.platform
    client = TestClient(create_app(platform=p))
    h = {"Authorization": f"Bearer {tokens(p, env.ids)[CONSUMER]}"}
    aid, _ = agree_and_subscribe(env, CONSUMER, Category.PRE_ARRIVAL)
    decl, _ = env.declaration()

    def streamed() -> str:
        r = client.get("/api/v1/exchange/events", params={"wait": 0}, headers=h)
        assert r.status_code == 200
        return r.text

    assert f"pre_arrival:{decl}:v1:accepted" in streamed()
    agreements.revoke(p, env.who("cn-customs"), aid, "ended")
    text = streamed()
    assert "event: pre_arrival" not in text and decl not in text


def test_a_delivery_pass_does_not_send_an_expired_agreements_message(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker's claim dead-letters (without a try) what an agreement that ended wrote."""
    p = env.platform
    monkeypatch.setattr(p.settings, "exchange_webhook_allow", ["127.0.0.1/32"])
    ending, ending_sub = agree_and_subscribe(env, CONSUMER, Category.PRE_ARRIVAL, url=HOOK)
    _, still_sub = agree_and_subscribe(env, CONSUMER, Category.DECLARATION, url=HOOK)
    env.declaration()
    expire_at(p, ending, NOW + timedelta(minutes=30))
    env.set_now(NOW + timedelta(hours=1))
    service.deliver_due(p)  # nothing listens on port 9: the live delivery's try fails
    by_sub = {d.subscription_id: d for d in pending(p)}
    ended, live = by_sub[ending_sub], by_sub[still_sub]
    assert (ended.status, ended.attempts, ended.last_error) == ("dead", 0, pub.ENDED)
    assert (live.status, live.attempts) == ("pending", 1) and live.last_error
