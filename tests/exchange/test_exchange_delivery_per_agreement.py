"""Delivery per agreement: each subscription gets only what its own agreement allows, and a
revocation withdraws exactly that agreement's messages, from webhooks, the feed and the stream."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from silkgate.app import create_app
from silkgate.core.platform import Platform
from silkgate.exchange import feed
from silkgate.exchange.agreements import service as agreements
from silkgate.exchange.agreements.catalogue import Category
from silkgate.exchange.models import Delivery, OutboxMessage
from tests.exchange.delivery_world import subscribe
from tests.exchange.enforce_world import covered, grant, leaves
from tests.factories import tokens
from tests.queue.env import Env, make_env

API = "/api/v1/exchange"


@pytest.fixture
def env(platform: Platform) -> Env:
    return make_env(platform)


def test_sse_stream_does_not_serve_messages_of_a_revoked_agreement(env: Env) -> None:
    """The pull feed hides messages of an agreement no longer active; the SSE stream of the
    same organization must too (revocation has immediate effect)."""
    p = env.platform
    who = env.who("kz-service")
    aid = grant(p, who.member_id, Category.PRE_ARRIVAL, ["/id", "/status", "/data/goods_items"])
    subscribe(p, who, aid, ["pre_arrival"])
    env.declaration()
    assert feed.read_feed(p, who, None, 10).messages  # delivered under the agreement
    agreements.revoke(p, env.who("cn-customs"), aid, "trade dispute")
    assert feed.read_feed(p, who, None, 10).messages == []  # the feed honours it
    client = TestClient(create_app(platform=p))
    keys = tokens(p, env.ids)
    r = client.get(
        f"{API}/events?wait=0", headers={"Authorization": f"Bearer {keys['kz-service']}"}
    )
    assert r.status_code == 200
    assert "pre_arrival." not in r.text, "SSE still serves a revoked agreement's messages"


def _two_subscriptions(env: Env) -> tuple[str, str, int, int]:
    """kz-service subscribes twice to pre_arrival: wide under a1 (statistics), narrow under a2
    (customs control), each with its own webhook."""
    p = env.platform
    who = env.who("kz-service")
    a1 = grant(p, who.member_id, Category.PRE_ARRIVAL, ["/id", "/status", "/data/goods_items"])
    a2 = grant(p, who.member_id, Category.PRE_ARRIVAL, ["/id"], purposes=("customs_control",))
    s1 = subscribe(p, who, a1, ["pre_arrival"], url="https://a.example.com/hook")
    s2 = subscribe(
        p, who, a2, ["pre_arrival"], url="https://b.example.com/hook", purpose="customs_control"
    )
    return a1, a2, s1, s2


def _deliveries(p: Platform, sub_id: int) -> list[tuple[Delivery, OutboxMessage]]:
    with p.db.session() as s:
        rows = [
            (d, m)
            for d, m in s.execute(
                select(Delivery, OutboxMessage)
                .join(OutboxMessage, OutboxMessage.id == Delivery.outbox_id)
                .where(Delivery.subscription_id == sub_id)
            )
        ]
        s.expunge_all()
        return rows


def test_each_subscription_gets_only_what_its_own_agreement_allows(env: Env) -> None:
    """Two subscriptions of one organization under two agreements: the webhook subscribed
    under the narrow agreement (only /id, for customs control) must not receive the fields the
    other agreement allows for another purpose."""
    _, _, _, s2 = _two_subscriptions(env)
    env.declaration()
    got = _deliveries(env.platform, s2)
    assert got, "no delivery to the second subscription"
    for _, m in got:
        extra = [x for x in leaves(m.payload) if not covered(x, {"/id"})]
        assert not extra, f"sent to a subscription whose agreement allows only /id: {extra}"


def test_revoking_an_agreement_withdraws_its_subscriptions_pending_deliveries(env: Env) -> None:
    """Revoking a2 must stop the pending deliveries to the subscription made under a2 (and
    revoking a1 must not dead-letter deliveries a2 still allows)."""
    _, a2, _, s2 = _two_subscriptions(env)
    env.declaration()
    agreements.revoke(env.platform, env.who("cn-customs"), a2, "ended")
    pending = [d for d, _ in _deliveries(env.platform, s2) if d.status == "pending"]
    assert pending == [], "deliveries under a revoked agreement are still due to be sent"
