"""Booking reads through the policy decision (``queue.reading``): every role, with and without
an agreement, the purpose, revocation, disclosures; lists, deposits and position too."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from silkgate.core.errors import NotFound
from silkgate.core.platform import Platform
from silkgate.exchange.agreements import service as agreements
from silkgate.exchange.agreements.catalogue import Category
from silkgate.exchange.agreements.enforce import Asking, PurposeRequired
from silkgate.exchange.disclosures.models import Disclosure
from silkgate.queue import reading
from tests.exchange.enforce_world import World, drop_grants, grant, make_world


@pytest.fixture
def world(platform: Platform) -> World:
    return make_world(platform)  # cn-broker books its CN→KZ export at KHG-NZH


def one(w: World, org: str, purpose: str | None = None) -> Any:
    """The booking as ``org`` reads it (JSON), None when 404, "400" when a purpose is needed."""
    who = Asking(w.env.who(org), purpose)
    try:
        return reading.get_booking(w.platform, who, w.booking).model_dump(
            mode="json", exclude_unset=True
        )
    except NotFound:
        return None
    except PurposeRequired:
        return "400"


def listed(w: World, org: str, purpose: str | None = None) -> Any:
    who = Asking(w.env.who(org), purpose)
    try:
        items, _ = reading.list_bookings(w.platform, who)
    except PurposeRequired:
        return "400"
    return [b.model_dump(mode="json", exclude_unset=True) for b in items]


def reads(platform: Platform, consumer: str) -> int:
    with platform.db.session() as s:
        rows = s.scalars(
            select(Disclosure.id).where(
                Disclosure.consumer == consumer, Disclosure.category == "booking"
            )
        )
        return len(list(rows))


def test_every_role_without_an_agreement(world: World) -> None:
    ids = world.env.ids
    for org in ("cn-broker", "cn-customs", "cn-eport"):  # owner, the exit side (authority)
        got = one(world, org)
        assert got["driver"] is not None and got["driver_withheld"] is False, org
        assert [b["id"] for b in listed(world, org)] == [world.booking], org
    # the entry side's customs: the shipped booking agreement, for a declared purpose
    assert one(world, "kz-customs") == "400" and listed(world, "kz-customs") == "400"
    got = one(world, "kz-customs", "queue_management")
    assert got["driver"] is None and got["driver_withheld"] is True
    assert got["truck"]["tractor_plate"] and got["status"] == "confirmed"
    assert listed(world, "kz-customs", "customs_control")[0]["driver"] is None
    assert reads(world.platform, ids["kz-customs"]) == 2
    assert reads(world.platform, ids["cn-customs"]) == 0  # authority reads are not disclosures
    # everyone else: nothing (the entry side's e-port operator included: no agreement names it)
    for org in ("kz-eport", "kz-carrier", "cn-carrier", "kz-service", "karamay"):
        assert one(world, org) is None, org
        assert one(world, org, "statistics") is None, org
        assert listed(world, org) == [] and listed(world, org, "queue_management") == [], org
    # deposits and position follow the same decision
    kz = Asking(world.env.who("kz-customs"), "queue_management")
    assert [d.kind for d in reading.deposits(world.platform, kz, world.booking)] == ["held"]
    with pytest.raises(NotFound):
        reading.deposits(world.platform, world.env.who("kz-carrier"), world.booking)


def test_an_agreement_shares_the_fields_it_names_until_revoked(world: World) -> None:
    p, karamay = world.platform, world.env.ids["karamay"]
    grant(p, karamay, Category.BOOKING, ["/id", "/status"], places=("CN",))
    assert one(world, "karamay") == "400"
    assert one(world, "karamay", "queue_management") is None  # not an agreed purpose
    assert one(world, "karamay", "statistics") == {
        "id": world.booking,
        "status": "confirmed",
        "driver_withheld": True,
    }
    assert listed(world, "karamay", "statistics") == [one(world, "karamay", "statistics")]
    with pytest.raises(NotFound):  # deposits and position need the whole booking
        reading.position(p, Asking(world.env.who("karamay"), "statistics"), world.booking)
    assert reads(p, karamay) == 3
    drop_grants(p)
    assert one(world, "karamay", "statistics") is None
    assert listed(world, "karamay", "statistics") == []


def test_revoking_the_default_ends_the_entry_sides_view(world: World) -> None:
    cn = world.env.who("cn-customs")
    agreements.revoke(world.platform, cn, "default-booking-KHG-NZH-CN-KZ", "test")
    assert one(world, "kz-customs", "queue_management") is None
    assert listed(world, "kz-customs", "queue_management") == []
    assert one(world, "cn-eport")["id"] == world.booking


def test_own_lists_only_the_callers_bookings(world: World) -> None:
    """``own=True`` (the console's "my bookings"): the owner's booking, not the ones the caller
    may read as the exit side's customs or e-port operator."""
    for org in ("cn-customs", "cn-eport"):
        who = Asking(world.env.who(org), None)
        assert [b.id for b in reading.list_bookings(world.platform, who)[0]] == [world.booking]
        assert reading.list_bookings(world.platform, who, own=True)[0] == []
    owner = Asking(world.env.who("cn-broker"), None)
    mine, _ = reading.list_bookings(world.platform, owner, own=True)
    assert [b.id for b in mine] == [world.booking]
