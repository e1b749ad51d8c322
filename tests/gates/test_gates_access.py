"""Gate events in the timeline through the policy decision: every role, with and without an
agreement, the purpose header, revocation, disclosures (``gates.access``)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from silkgate.core.errors import NotFound
from silkgate.core.platform import Platform
from silkgate.exchange.agreements import service as agreements
from silkgate.exchange.agreements.catalogue import Category
from silkgate.exchange.agreements.enforce import Asking, PurposeRequired
from silkgate.exchange.disclosures.models import Disclosure, DisclosureGrant
from silkgate.gates import service, timeline
from tests.exchange.enforce_world import drop_grants, grant
from tests.gates.helpers import World, event

EVENTS = [("gate_in", 0, "CN"), ("exit_gate", 60, "CN"), ("entry_gate_in", 90, "KZ")]


@pytest.fixture
def world(platform: Platform) -> World:
    w = World(platform)
    for point, minutes, side in EVENTS:
        org = "cn-customs" if side == "CN" else "kz-customs"
        body = w.signed(org, event(point, minutes, side=side, decl=w.decl))
        service.report(platform, w.callers[org], body)
    return w


def sides(w: World, org: str, purpose: str | None = None) -> Any:
    """The sides of the gate events ``org`` reads on the truck's timeline; None when 404,
    "400" when a purpose is required."""
    who = Asking(w.callers[org], purpose)
    try:
        tl = timeline.truck_timeline(w.platform, who, "KZ", "123ABC02")
    except NotFound:
        return None
    except PurposeRequired as exc:
        assert exc.errors[0].field == "/headers/silkgate-purpose"
        return "400"
    return sorted(e.side for e in tl.entries if e.kind == "gate_event")


def disclosed(platform: Platform, consumer: str) -> list[tuple[str, str]]:
    with platform.db.session() as s:
        rows = s.execute(
            select(DisclosureGrant.basis, Disclosure.record_id)
            .join(DisclosureGrant, DisclosureGrant.digest == Disclosure.grant)
            .where(Disclosure.consumer == consumer, Disclosure.category == "gate_events")
        )
        return [(b, r) for b, r in rows]


def test_every_role_without_an_agreement(world: World) -> None:
    both, cn, kz = ["CN", "CN", "KZ"], ["CN", "CN"], ["KZ"]
    ids = world.ids
    # customs: its own side by authority, the other side under default-gate-events (purpose)
    assert sides(world, "cn-customs") == "400"
    assert sides(world, "cn-customs", "customs_control") == both
    assert sides(world, "cn-customs", "queue_management") == both
    assert sides(world, "kz-customs", "customs_control") == both
    # e-port operators: their own side only, no purpose needed, none shares the other side
    assert sides(world, "cn-eport") == cn
    assert sides(world, "cn-eport", "customs_control") == cn
    assert sides(world, "kz-eport") == kz
    # the declarant of the declaration the events name: a party, every event, logged
    assert sides(world, "cn-broker") == both
    assert sorted(b for b, _ in disclosed(world.platform, ids["cn-broker"])) == ["party"] * 3
    # unrelated organizations and the analyst: nothing, whatever the purpose
    for org in ("kz-carrier", "cn-carrier", "kz-service", "karamay"):
        assert sides(world, org) is None, org
        assert sides(world, org, "statistics") is None, org
    # authority reads are not disclosures; the other side's reads are, under the default
    assert disclosed(world.platform, ids["cn-eport"]) == []
    kz_basis = {b for b, _ in disclosed(world.platform, ids["cn-customs"])}
    assert kz_basis == {"agreement"}


def test_an_agreement_shares_the_fields_it_names_until_revoked(world: World) -> None:
    p, ids = world.platform, world.ids
    karamay = ids["karamay"]
    aid = grant(
        p,
        karamay,
        Category.GATE_EVENTS,
        ["/eventTime", "/readPoint", "/side", "/bizStep"],
        provider="KZ",
        places=("CN",),
    )
    assert sides(world, "karamay") == "400"  # a consumer learns what to declare
    assert sides(world, "karamay", "customs_control") is None  # not an agreed purpose
    assert sides(world, "karamay", "statistics") == ["KZ"]
    tl = timeline.truck_timeline(
        p, Asking(world.callers["karamay"], "statistics"), "KZ", "123ABC02"
    )
    (entry,) = [e for e in tl.entries if e.kind == "gate_event"]
    assert entry.what == "entry_gate_in" and set(entry.detail) == {"bizStep", "eventTime"}
    kz_event = entry.detail.get("eventId")  # not allowed: not shown
    assert kz_event is None
    assert [b for b, _ in disclosed(p, karamay)] == ["agreement"] * 2  # one per read
    with p.db.session() as s:
        g = s.scalars(select(DisclosureGrant).where(DisclosureGrant.category == "gate_events"))
        fields = [x.fields for x in g if x.agreements == [[aid, 1]]]
    assert fields == [["/bizStep", "/eventTime", "/readPoint", "/side"]]
    drop_grants(p)  # gone at the next read
    assert sides(world, "karamay", "statistics") is None


def test_revoking_the_default_ends_the_other_sides_view(world: World) -> None:
    kz = world.callers["kz-customs"]
    agreements.revoke(world.platform, kz, "default-gate-events-KHG-NZH-KZ-CN", "test")
    assert sides(world, "cn-customs", "customs_control") == ["CN", "CN"]
    assert sides(world, "kz-customs", "customs_control") == ["CN", "CN", "KZ"]
