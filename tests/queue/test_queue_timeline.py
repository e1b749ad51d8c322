"""The truck timeline merges bookings, declaration states and gate events; who sees what."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from silkgate.core.errors import NotFound
from silkgate.core.platform import Platform
from silkgate.core.signing import public_key_b64
from silkgate.gates import service as gates
from silkgate.gates import timeline
from silkgate.gates.ingest import sign_event
from silkgate.queue import waiting
from silkgate.registry import service as registry
from tests.queue.env import NOW, make_env


def _gate_event(env: object, key: Ed25519PrivateKey, truck: dict[str, str], minutes: int) -> dict:
    at = (NOW + timedelta(minutes=minutes)).isoformat()
    body = {
        "eventTime": at,
        "bizStep": "arriving",
        "readPoint": "gate_in",
        "crossing": "KHG-NZH",
        "side": "CN",
        "truck": {"nationality": truck["tractor_nationality"], "plate": truck["tractor_plate"]},
    }  # no declaration or booking named: the carrier sees it through its booking's slot
    return {"event": body, "signature": sign_event(key, body)}


def test_truck_timeline_merges_booking_declaration_and_events(platform: Platform) -> None:
    env = make_env(platform)
    b = env.book(hour=9, day=NOW.date())  # 09:00 local = NOW + 1 h
    env.set_now(NOW + timedelta(minutes=50))
    waiting.move(platform, env.who("cn-customs"), b.id, "check_in", NOW + timedelta(minutes=50))
    key = Ed25519PrivateKey.generate()
    registry.register_signing_key(platform, env.ids["cn-eport"], public_key_b64(key), "t")
    env.set_now(NOW + timedelta(minutes=80))
    gates.report(platform, env.who("cn-eport"), _gate_event(env, key, b.truck, 75))
    nat, plate = b.truck["tractor_nationality"], b.truck["tractor_plate"]

    def kinds(org: str) -> dict[str, list[str]]:
        tl = timeline.truck_timeline(platform, env.who(org), nat, plate)
        assert "driver" not in str([e.detail for e in tl.entries])
        out: dict[str, list[str]] = {}
        for e in tl.entries:
            out.setdefault(e.kind, []).append(e.what)
        return out

    broker = kinds("cn-broker")  # booked the truck and lodged its declaration
    assert broker["booking"][:2] == ["queue.booked", "queue.arrived"]
    assert broker["gate_event"] == ["gate_in"]
    assert "declaration.submitted" in broker["declaration"]
    customs = kinds("cn-customs")
    assert customs.keys() == {"booking", "declaration", "gate_event"}
    eport = kinds("cn-eport")  # the exit side's queue and its own events, no declaration
    assert eport.keys() == {"booking", "gate_event"}
    with pytest.raises(NotFound):
        timeline.truck_timeline(platform, env.who("kz-carrier"), nat, plate)
    # times follow the platform's clock: booked before checked in before the gate event
    tl = timeline.truck_timeline(platform, env.who("cn-broker"), nat, plate)
    order = [(e.kind, e.what) for e in tl.entries if e.kind != "declaration"]
    assert order.index(("booking", "queue.booked")) < order.index(("gate_event", "gate_in"))


def test_a_carrier_does_not_see_the_truck_outside_its_booking(platform: Platform) -> None:
    env = make_env(platform)
    b = env.book(hour=9, day=NOW.date())
    key = Ed25519PrivateKey.generate()
    registry.register_signing_key(platform, env.ids["cn-eport"], public_key_b64(key), "t")
    env.set_now(NOW + timedelta(days=20))
    gates.report(platform, env.who("cn-eport"), _gate_event(env, key, b.truck, 60 * 24 * 20))
    nat, plate = b.truck["tractor_nationality"], b.truck["tractor_plate"]
    tl = timeline.truck_timeline(platform, env.who("cn-broker"), nat, plate)
    assert [e.kind for e in tl.entries if e.kind == "gate_event"] == []  # weeks after its slot
    tl = timeline.truck_timeline(platform, env.who("cn-customs"), nat, plate)
    assert [e.what for e in tl.entries if e.kind == "gate_event"] == ["gate_in"]


def test_a_booking_reference_must_name_a_booking_of_that_truck(platform: Platform) -> None:
    from silkgate.core.errors import SilkgateError

    env = make_env(platform)
    b = env.book(hour=9, day=NOW.date())
    key = Ed25519PrivateKey.generate()
    registry.register_signing_key(platform, env.ids["cn-eport"], public_key_b64(key), "t")
    env.set_now(NOW + timedelta(minutes=80))

    def report(booking: str, truck: dict[str, str]) -> None:
        signed = _gate_event(env, key, truck, 75)
        signed["event"]["bizTransactionList"] = [{"type": "booking", "bizTransaction": booking}]
        signed["signature"] = sign_event(key, signed["event"])
        gates.report(platform, env.who("cn-eport"), signed)

    for booking, truck, code in [
        ("01NOSUCHBOOKING", b.truck, "unknown_booking"),
        (b.id, {"tractor_nationality": "CN", "tractor_plate": "新F77777"}, "other_truck"),
    ]:
        with pytest.raises(SilkgateError) as exc:
            report(booking, truck)
        assert [(e.field, e.code) for e in exc.value.errors] == [
            ("/event/bizTransactionList/0/bizTransaction", code)
        ]
    report(b.id, b.truck)  # the right booking of the right truck is stored
