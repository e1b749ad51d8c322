"""Webhooks reach public addresses only, unless allowed; the outbox is pruned past retention."""

from __future__ import annotations

import ipaddress
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from silkgate.audit.models import AuditEntry
from silkgate.core.errors import ValidationFailed
from silkgate.core.platform import Platform
from silkgate.exchange import egress, service
from silkgate.exchange.models import Delivery, OutboxMessage
from silkgate.exchange.schemas import DeliveryStatus, SubscriptionIn
from tests.exchange.receiver import receiver
from tests.factories import caller, seeded

T0 = datetime(2026, 12, 10, 8, 0, tzinfo=UTC)

PRIVATE = [
    "http://127.0.0.1:8080/x",
    "http://10.0.0.5/x",
    "http://192.168.1.1/x",
    "http://172.16.0.1/x",
    "http://169.254.169.254/latest/meta-data",  # cloud metadata
    "http://[::1]/x",
    "http://[::ffff:127.0.0.1]/x",
    "http://0.0.0.0/x",
    "http://100.64.0.1/x",  # carrier-grade NAT
    "http://localhost:9000/x",
    "http://api.localhost/x",
]


@pytest.mark.parametrize("url", PRIVATE)
def test_non_public_literals_are_refused_without_allow(url: str) -> None:
    with pytest.raises(egress.EgressRefused):
        egress.check_url(url, [])
    with pytest.raises(egress.EgressRefused):
        egress.resolve(url, [])


def test_allow_list_admits_a_network_or_a_name() -> None:
    egress.check_url("http://10.1.2.3/x", ["10.1.0.0/16"])
    with pytest.raises(egress.EgressRefused):
        egress.check_url("http://10.2.0.1/x", ["10.1.0.0/16"])
    egress.check_url("http://localhost/x", ["localhost"])
    assert egress.resolve("http://10.1.2.3:81/x", ["10.1.0.0/16"]).url == "http://10.1.2.3:81/x"


def test_public_literal_passes() -> None:
    egress.check_url("https://8.8.8.8/hook", [])
    assert egress.resolve("https://8.8.8.8/hook", []).url == "https://8.8.8.8/hook"


def test_a_name_is_pinned_to_the_address_it_was_checked_on(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = {"hooks.carrier.example": "93.184.216.34", "evil.example": "10.0.0.7"}

    def fake(host: str, port: int, *a: Any, **k: Any) -> list[Any]:
        if host not in answers:
            raise socket.gaierror("Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    t = egress.resolve("https://hooks.carrier.example:8443/in?x=1", [])
    assert t.url == "https://93.184.216.34:8443/in?x=1"
    assert t.host_header == "hooks.carrier.example:8443"
    assert t.sni_hostname == "hooks.carrier.example"
    with pytest.raises(egress.EgressRefused, match=r"10\.0\.0\.7"):
        egress.resolve("http://evil.example/x", [])
    with pytest.raises(egress.EgressRefused, match="does not resolve"):
        egress.resolve("http://nowhere.example/x", [])
    # a name on the allow-list is trusted whatever it resolves to
    assert egress.resolve("http://evil.example/x", ["evil.example"]).url == "http://10.0.0.7/x"


@given(st.ip_addresses())
def test_any_address_is_refused_exactly_when_not_global(addr: Any) -> None:
    host = f"[{addr}]" if addr.version == 6 else str(addr)
    mapped = addr.ipv4_mapped if addr.version == 6 and addr.ipv4_mapped else addr
    try:
        egress.check_url(f"http://{host}/x", [])
        refused = False
    except egress.EgressRefused:
        refused = True
    assert refused == (not ipaddress.ip_address(mapped).is_global)


@pytest.fixture
def world(platform: Platform) -> tuple[Platform, Any, list[datetime]]:
    ids = seeded(platform)
    now = [T0]
    platform.clock = lambda: now[0]
    return platform, caller(platform, ids, "cn-carrier"), now


def test_subscription_to_a_private_address_is_refused_naming_the_url(world: Any) -> None:
    platform, org, _ = world
    platform.settings.exchange_webhook_allow = []
    with pytest.raises(ValidationFailed) as e:
        service.add_subscription(platform, org, SubscriptionIn(url="http://169.254.169.254/x"))
    assert [(f.field, f.code) for f in e.value.errors] == [("/url", "not_public")]
    assert service.list_subscriptions(platform, org) == []


def test_delivery_is_refused_when_the_address_is_no_longer_allowed(world: Any) -> None:
    platform, org, _ = world
    with receiver() as rec:
        service.add_subscription(platform, org, SubscriptionIn(url=rec.url))
        with platform.db.session() as s:
            service.enqueue(s, org.id, "queue.called_forward", {"n": 1}, "m-1", T0)
        platform.settings.exchange_webhook_allow = []  # the operator withdrew the exception
        r = service.deliver_due(platform)
        assert (r.delivered, r.retried) == (0, 1)
        assert rec.hits == []
    d = service.list_deliveries(platform, org, DeliveryStatus.PENDING)[0]
    assert d.last_error is not None and d.last_error.startswith("refused: 127.0.0.1")


def _count(platform: Platform, model: Any) -> int:
    with platform.db.session() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_prune_removes_only_old_finished_messages_and_is_audited(world: Any) -> None:
    platform, org, now = world
    with receiver(codes=[200, 200]) as rec:
        service.add_subscription(platform, org, SubscriptionIn(url=rec.url))
        with platform.db.session() as s:
            service.enqueue(s, org.id, "queue.called_forward", {"n": 1}, "old-done", T0)
        service.deliver_due(platform)
        platform.settings.exchange_webhook_allow = []  # the next one stays pending
        with platform.db.session() as s:
            service.enqueue(s, org.id, "queue.called_forward", {"n": 2}, "old-pending", T0)
        service.deliver_due(platform)
    now[0] = T0 + timedelta(days=10)
    with platform.db.session() as s:
        service.enqueue(s, org.id, "queue.called_forward", {"n": 3}, "recent", now[0])

    r = service.prune_outbox(platform, "ops", timedelta(days=5))
    assert (r.messages, r.deliveries) == (1, 1)
    left = {m.id for m in service.messages_after(platform, org, 0)}
    assert {"old-pending", "recent"} == left
    assert _count(platform, Delivery) == 2
    with platform.db.session() as s:
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "exchange.outbox_pruned")
        ).one()
        assert entry.actor == "ops"
    assert service.prune_outbox(platform, "ops", timedelta(days=5)).messages == 0
    assert _count(platform, OutboxMessage) == 2


def test_audit_verify_accepts_pruned_messages_but_not_deleted_ones(world: Any) -> None:
    from sqlalchemy import delete

    from silkgate.audit.service import append
    from silkgate.audit.verify import verify_all

    platform, org, now = world

    def logged(message_id: str) -> None:
        with platform.db.session() as s:
            msg = service.enqueue(s, org.id, "queue.called_forward", {}, message_id, now[0])
            s.flush()
            append(s, platform.signer, [service.message_event(msg, "test")])

    logged("old")
    now[0] = T0 + timedelta(days=40)
    logged("recent")
    assert service.prune_outbox(platform).messages == 1  # default retention 30 days
    assert verify_all(platform).ok
    with platform.db.session() as s:
        s.execute(delete(OutboxMessage).where(OutboxMessage.message_id == "recent"))
    outcome = verify_all(platform)
    assert not outcome.ok
    assert outcome.tables is not None
    assert "missing from exchange_outbox" in str(outcome.tables.problems)
