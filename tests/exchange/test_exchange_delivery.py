"""Delivery under agreements: category subscriptions, messages written with the fact and
decided as reads, retries with a frozen clock, restart, pull feed, revocation."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from silkgate.core.errors import Conflict, ValidationFailed
from silkgate.core.platform import Platform
from silkgate.declarations.models import Declaration
from silkgate.exchange import publish as pub
from silkgate.exchange import service
from silkgate.exchange.agreements import service as agreements
from silkgate.exchange.agreements.catalogue import Category, spec
from silkgate.exchange.agreements.policy import touches_personal
from silkgate.exchange.disclosures.models import Disclosure
from silkgate.exchange.feed import make_cursor, read_feed
from silkgate.exchange.models import Delivery, OutboxMessage
from silkgate.exchange.schemas import SubscriptionIn
from silkgate.exchange.signing import H_MESSAGE, verify_webhook
from silkgate.exchange.subscriptions import DELIVERED, status
from tests.exchange.delivery_world import (
    ALLOWED,
    agree_and_subscribe,
    happen,
    messages,
    subscribe,
)
from tests.exchange.enforce_world import covered, drop_grants, grant, leaves
from tests.exchange.receiver import receiver
from tests.queue.env import Env, make_env

CONSUMER = "kz-service"


@pytest.fixture
def env(platform: Platform) -> Env:
    return make_env(platform)


def _codes(exc: ValidationFailed) -> dict[str, str]:
    return {e.field or "": e.code for e in exc.errors}


# ---------------------------------------------------------------- subscribing


def test_subscription_refused_naming_the_field(env: Env) -> None:
    p, who = env.platform, env.who(CONSUMER)
    aid = grant(p, who.member_id, Category.PRE_ARRIVAL, ALLOWED[Category.PRE_ARRIVAL])
    cases = [
        ({"agreement_id": "nope", "categories": ["pre_arrival"], "purpose": "statistics"},
         "/agreement_id", "not_consumer"),
        ({"agreement_id": aid, "categories": ["booking"], "purpose": "statistics"},
         "/categories/0", "not_in_agreement"),
        ({"agreement_id": aid, "categories": ["pre_arrival"], "purpose": "risk_analysis"},
         "/purpose", "not_allowed"),
        ({"agreement_id": aid, "categories": ["pre_arrival"], "purpose": "statistics",
          "place": "CN"}, "/place", "not_allowed"),
        ({"agreement_id": aid, "categories": ["pre_arrival"], "purpose": "statistics",
          "topics": ["*"]}, "/topics", "excluded"),
        ({"agreement_id": aid, "purpose": "statistics"}, "/categories", "required"),
        ({"categories": ["pre_arrival"]}, "/categories", "needs_agreement"),
    ]  # fmt: skip
    for body, where, code in cases:
        with pytest.raises(ValidationFailed) as exc:
            service.add_subscription(p, who, SubscriptionIn.model_validate(body))
        assert _codes(exc.value).get(where) == code, (body, exc.value.errors)
    # another organization is not a consumer of it: refused as if it did not exist
    with pytest.raises(ValidationFailed) as exc:
        subscribe(p, env.who("kz-carrier"), aid, ["pre_arrival"])
    assert _codes(exc.value) == {"/agreement_id": "not_consumer"}


# ---------------------------------------------------------------- every category


@pytest.mark.parametrize("category", sorted(DELIVERED, key=str))
def test_every_category_with_and_without_agreement(env: Env, category: Category) -> None:
    p = env.platform
    with_it = env.who(CONSUMER)
    aid, sub_id = agree_and_subscribe(env, CONSUMER, category)
    # kz-carrier subscribed under its own agreement, which is then withdrawn: no agreement
    lost = grant(p, env.who("kz-carrier").member_id, category, ALLOWED[category])
    subscribe(p, env.who("kz-carrier"), lost, [category.value])
    with p.db.session() as s:
        from silkgate.exchange.agreements.models import Agreement

        s.execute(
            Agreement.__table__.update()
            .where(Agreement.agreement_id == lost)
            .values(status="revoked")
        )
    done = happen(env)
    got = messages(p, with_it)
    assert got, f"no {category} message under the agreement"
    assert {m.topic.split(".")[0] for m in got} == {category.value}
    assert all(m.agreement_id == aid for m in got)
    allowed = set(ALLOWED[category])
    for m in got:
        assert m.payload, m.message_id
        assert all(covered(ptr, allowed) for ptr in leaves(m.payload)), m.payload
    ids = {m.message_id for m in got}
    expected = {
        Category.GATE_EVENTS: f"gate_events:{done.event_id}",
        Category.INSPECTION_RESULT: f"inspection_result:{done.decl}:v1",
        Category.RISK_LANE: f"risk_lane:{done.decl}:v1",
        Category.RISK_SCORE: f"risk_score:{done.decl}:v1",
        Category.DECLARATION: f"declaration:{done.decl}:v1:risk_assessed",
        Category.PRE_ARRIVAL: f"pre_arrival:{done.decl}:v1:accepted",
    }.get(category)
    if expected is not None:
        assert expected in ids, ids
    else:
        assert any(i.startswith(f"booking:{done.booking}:confirmed@") for i in ids), ids
    assert messages(p, env.who("kz-carrier")) == []  # no agreement, no message
    assert messages(p, env.who("kz-carrier")) == []
    with p.db.session() as s:  # each delivery is a disclosure on the delivery channel
        n = s.scalar(
            select(func.count())
            .select_from(Disclosure)
            .where(Disclosure.channel == "delivery", Disclosure.consumer == with_it.member_id)
        )
    assert n == len(got)
    assert status(p, with_it, sub_id).undelivered == len(got)


def test_condition_and_purpose_decide_like_a_read(env: Env) -> None:
    """The agreement's CEL condition is evaluated per fact: submitted declarations are not
    pre-arrival information, accepted ones are."""
    p = env.platform
    who = env.who(CONSUMER)
    aid = grant(
        p,
        who.member_id,
        Category.PRE_ARRIVAL,
        ["/id", "/status"],
        condition='status == "risk_assessed"',
    )
    subscribe(p, who, aid, ["pre_arrival"])
    done = happen(env)
    assert [m.message_id for m in messages(p, who)] == [f"pre_arrival:{done.decl}:v1:risk_assessed"]


# ---------------------------------------------------------------- allow-list (Hypothesis)

_PRE = spec(Category.PRE_ARRIVAL)
_POINTERS = sorted(_PRE.pointers)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(fields=st.lists(st.sampled_from(_POINTERS), min_size=1, max_size=6, unique=True))
def test_no_field_outside_the_allow_list_is_delivered(env: Env, fields: list[str]) -> None:
    p = env.platform
    who = env.who(CONSUMER)
    if not hasattr(env, "_decl"):
        decl_id, _ = env.declaration()
        env._decl = decl_id  # type: ignore[attr-defined]
        env._n = 0  # type: ignore[attr-defined]
    env._n += 1  # type: ignore[attr-defined]
    personal = touches_personal(Category.PRE_ARRIVAL, frozenset(fields))
    aid = grant(p, who.member_id, Category.PRE_ARRIVAL, fields, personal=personal)
    sub = subscribe(p, who, aid, ["pre_arrival"])
    with p.db.session() as s:
        d = s.get(Declaration, env._decl)  # type: ignore[attr-defined]
        assert d is not None
        doc = service_doc(d)
        fact = replace(pub.declaration_fact(d, doc), key=f"h{env._n}")  # type: ignore[attr-defined]
        pub.publish(s, p, [fact], "test", p.clock())
    service.remove_subscription(p, who, sub)
    found = [m for m in messages(p, who) if m.message_id == f"pre_arrival:h{env._n}"]  # type: ignore[attr-defined]
    assert len(found) == 1
    assert all(covered(ptr, set(fields)) for ptr in leaves(found[0].payload)), (
        fields,
        found[0].payload,
    )


def service_doc(d: Declaration) -> dict[str, Any]:
    from silkgate.declarations.lodging import OUT_COLUMNS, out_from_row

    return out_from_row({c: getattr(d, c) for c in OUT_COLUMNS}).model_dump(mode="json")


# ---------------------------------------------------------------- transaction, retries, restart


def test_rolled_back_fact_leaves_no_message(env: Env) -> None:
    p = env.platform
    who = env.who(CONSUMER)
    agree_and_subscribe(env, CONSUMER, Category.PRE_ARRIVAL)
    decl_id, _ = env.declaration()
    before = len(messages(p, who))
    with pytest.raises(Conflict), p.db.session() as s:
        d = s.get(Declaration, decl_id)
        assert d is not None
        d.status = "at_border"
        events = pub.publish(s, p, [pub.declaration_fact(d, service_doc(d))], "t", p.clock())
        assert events  # written in this transaction...
        s.flush()
        raise Conflict("the business change failed")
    assert len(messages(p, who)) == before  # ...and gone with it


def test_retry_schedule_with_frozen_clock_then_dead_and_visible(env: Env) -> None:
    p = env.platform
    who = env.who(CONSUMER)
    with receiver(codes=[500] * 7) as rec:
        _, sub_id = agree_and_subscribe(env, CONSUMER, Category.RISK_LANE, url=rec.url)
        happen(env)
        t0 = env.now[0]
        tries = []
        for _ in range(7):
            r = service.deliver_due(p)
            tries.append((r.delivered, r.retried, r.dead))
            with p.db.session() as s:
                d = s.scalars(select(Delivery).where(Delivery.subscription_id == sub_id)).one()
                s.expunge(d)
            if d.status == "pending":
                env.set_now(d.next_attempt_at.replace(tzinfo=t0.tzinfo))
        offsets = [(env.now[0] - t0).total_seconds()]
        assert tries[-1] == (0, 0, 1)
        assert offsets == [1 + 2 + 4 + 8 + 16 + 32]  # tries at 0, 1, 3, 7, 15, 31, 63 s
        ids = {h[H_MESSAGE] for h, _ in rec.hits}
        assert len(rec.hits) == 7 and len(ids) == 1  # one id for the fact, every try
    st_ = status(p, who, sub_id)
    assert (st_.dead, st_.failures, st_.delivered, st_.last_error) == (1, 7, 0, "HTTP 500")
    # the owner replays the dead letter; the receiver is back: delivered with the same id
    with receiver() as rec:
        with p.db.session() as s:
            s.execute(
                Delivery.__table__.update()
                .where(Delivery.subscription_id == sub_id)
                .values(subscription_id=sub_id)
            )
        from silkgate.exchange.models import Subscription

        with p.db.session() as s:
            sub = s.get(Subscription, sub_id)
            assert sub is not None
            sub.url = rec.url
        dead = service.list_deliveries(p, who, None)[0]
        service.retry_delivery(p, who, dead.id)
        assert service.deliver_due(p).delivered == 1
        assert {h[H_MESSAGE] for h, _ in rec.hits} == ids
    st_ = status(p, who, sub_id)
    assert st_.delivered == 1 and st_.last_success_at is not None and st_.undelivered == 0


def test_signed_category_message_and_forged_or_stale_signature(env: Env) -> None:
    p = env.platform
    with receiver() as rec:
        agree_and_subscribe(env, CONSUMER, Category.INSPECTION_RESULT, url=rec.url)
        happen(env)
        assert service.deliver_due(p).delivered == 1
    headers, body = rec.hits[0]
    key = service.signing_key(p).public_key
    now = int(env.now[0].timestamp())
    assert verify_webhook(key, headers, body, now)
    msg = json.loads(body)
    assert set(msg["data"]) == {"declaration_id", "outcome"}
    forged = body.replace(b"no_discrepancy", b"discrepancy")
    assert not verify_webhook(key, headers, forged, now)
    assert not verify_webhook(key, headers, body, now + 301)  # stale: replay refused
    other = service.signing_key(Platform(p.settings.model_copy(
        update={"platform_signing_key": None, "data_dir": p.settings.data_dir / "other"}
    ))).public_key  # fmt: skip
    assert not verify_webhook(other, headers, body, now)


def test_receiver_down_then_delivery_after_restart(env: Env) -> None:
    p = env.platform
    who = env.who(CONSUMER)
    # a port nobody listens on: refused connection, retried
    _, sub_id = agree_and_subscribe(env, CONSUMER, Category.BOOKING, url="http://127.0.0.1:9/hook")
    happen(env)
    r = service.deliver_due(p)
    assert (r.delivered, r.retried) == (0, 1)
    assert status(p, who, sub_id).failing == 1
    # the platform restarts; a new one picks the pending delivery up once it is due
    again = Platform(p.settings)
    try:
        again.clock = lambda: env.now[0] + timedelta(seconds=2)
        with receiver() as rec:
            from silkgate.exchange.models import Subscription

            with again.db.session() as s:
                sub = s.get(Subscription, sub_id)
                assert sub is not None
                sub.url = rec.url
            assert service.deliver_due(again).delivered == 1
            assert len(rec.hits) == 1
        with again.db.session() as s:
            assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 1
    finally:
        again.close()


def test_same_fact_published_twice_is_one_message(env: Env) -> None:
    p = env.platform
    who = env.who(CONSUMER)
    agree_and_subscribe(env, CONSUMER, Category.PRE_ARRIVAL)
    decl_id, _ = env.declaration()
    for _ in range(2):
        with p.db.session() as s:
            d = s.get(Declaration, decl_id)
            assert d is not None
            pub.publish(s, p, [pub.declaration_fact(d, service_doc(d))], "t", p.clock())
    assert [m.message_id for m in messages(p, who)] == [f"pre_arrival:{decl_id}:v1:accepted"]


# ---------------------------------------------------------------- pull feed, revocation


def test_pull_feed_resumes_from_its_cursor_and_shows_lag(env: Env) -> None:
    p = env.platform
    who = env.who(CONSUMER)
    _, sub_id = agree_and_subscribe(env, CONSUMER, Category.PRE_ARRIVAL)
    for _ in range(3):
        env.declaration()
    assert status(p, who, sub_id).undelivered == 3
    first = read_feed(p, who, None, 2)
    assert len(first.messages) == 2
    second = read_feed(p, who, first.next_cursor, 2)  # acknowledges the first two
    assert [m.seq for m in second.messages] == [
        m.seq for m in read_feed(p, who, first.next_cursor, 10).messages
    ]
    assert len(second.messages) == 1
    assert {m.id for m in first.messages}.isdisjoint({m.id for m in second.messages})
    st_ = status(p, who, sub_id)
    assert (st_.undelivered, st_.delivered, st_.position) == (1, 2, first.messages[-1].seq)
    assert st_.lag_seconds is not None
    empty = read_feed(p, who, second.next_cursor, 10)
    assert empty.messages == [] and empty.next_cursor == second.next_cursor
    assert status(p, who, sub_id).undelivered == 0
    # bad cursors are named
    for bad in ("xyz", "c1.!!!", make_cursor(who.id + 1, 5)):
        with pytest.raises(ValidationFailed) as exc:
            read_feed(p, who, bad, 10)
        assert _codes(exc.value) == {"/query/cursor": "bad_cursor"}


def test_revocation_stops_delivery(env: Env) -> None:
    p = env.platform
    who = env.who(CONSUMER)
    with receiver() as rec:
        aid, sub_id = agree_and_subscribe(env, CONSUMER, Category.PRE_ARRIVAL, url=rec.url)
        env.declaration()
        assert status(p, who, sub_id).undelivered == 1
        agreements.revoke(p, env.who("cn-customs"), aid, "ended")
        st_ = status(p, who, sub_id)
        assert (st_.undelivered, st_.dead, st_.last_error) == (0, 1, pub.REVOKED)
        assert service.deliver_due(p).delivered == 0 and rec.hits == []
        dead = service.list_deliveries(p, who, None)[0]
        with pytest.raises(Conflict):
            service.retry_delivery(p, who, dead.id)
        env.declaration()  # nothing new is written
        assert len(messages(p, who)) == 1
        assert read_feed(p, who, None, 10).messages == []  # nor served by the feed


def test_no_subscription_costs_one_query_and_writes_nothing(env: Env) -> None:
    p = env.platform
    decl_id, _ = env.declaration()
    with p.db.session() as s:
        d = s.get(Declaration, decl_id)
        assert not pub.wanted(s, Category.PRE_ARRIVAL)
        assert pub.publish(s, p, [pub.declaration_fact(d, service_doc(d))], "t", p.clock()) == []
    drop_grants(p)
    with p.db.session() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 0
