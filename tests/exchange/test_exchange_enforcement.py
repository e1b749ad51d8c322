"""Every wired data category × every role × with and without an agreement, through the reads
themselves (declarations, risk assessment, inspection, the timeline's bookings); the home
side's authority; purposes and places."""

from __future__ import annotations

import pytest

from silkgate.core.platform import Platform
from silkgate.exchange.agreements.catalogue import Category
from silkgate.exchange.agreements.enforce import Asking, PurposeRequired
from silkgate.registry.schemas import Role
from tests.exchange.enforce_world import (
    World,
    covered,
    drop_grants,
    grant,
    leaves,
    make_world,
    read,
    reader,
)

#: Each wired category, the fields an agreement grants in the tests, and a pointer outside.
WIRED: dict[Category, tuple[list[str], str]] = {
    Category.DECLARATION: (["/id", "/status", "/data/goods_items"], "/data/exporter"),
    Category.PRE_ARRIVAL: (["/id", "/lrn", "/data/transport"], "/data/goods_items"),
    Category.RISK_LANE: (["/declaration_id", "/lane"], "/assessed_lane"),
    Category.RISK_SCORE: (["/declaration_id", "/reasons"], "/lane"),
    Category.INSPECTION_RESULT: (["/declaration_id", "/outcome"], "/recorded_by"),
}
# a timeline booking entry carries the details whose fields are granted: booking id, status
BOOKING_FIELDS = ["/id", "/status"]


@pytest.fixture
def world(platform: Platform) -> World:
    return make_world(platform)


def _pointers(answer: object) -> set[str]:
    return set(leaves(answer))


def test_every_category_and_role_without_and_with_an_agreement(world: World) -> None:
    p = world.platform
    for role in Role:
        for category, (fields, outside) in WIRED.items():
            who = reader(role.value)
            asking = Asking(who, "statistics")
            assert read(world, asking, category) is None, (role, category)  # no agreement
            grant(p, who.member_id, category, fields)
            got = read(world, asking, category)
            assert got is not None, (role, category)
            assert all(covered(x, set(fields)) for x in _pointers(got)), (role, category, got)
            assert not any(covered(x, {outside}) for x in _pointers(got))
            # another organization of the same role is not served by it
            assert read(world, Asking(reader(role.value), "statistics"), category) is None
        who = reader(role.value)
        assert read(world, Asking(who, "statistics"), Category.BOOKING) is None, role
        grant(p, who.member_id, Category.BOOKING, BOOKING_FIELDS)
        entries = read(world, Asking(who, "statistics"), Category.BOOKING)
        assert entries and all(set(e) == {"booking", "status"} for e in entries), role
        drop_grants(p)


def test_home_side_reads_by_law_without_a_purpose(world: World) -> None:
    """The lodging state's organizations with an authority role read everything; the others
    of the home side nothing (no agreement names them)."""
    for role in Role:
        who = reader(role.value, country="CN")
        for category in WIRED:
            got = read(world, who, category)
            if role is Role.CUSTOMS:
                assert got is not None and "/lane" in _pointers(got) | {"/lane"}, category
            else:
                assert got is None, (role, category)
        booking = read(world, who, Category.BOOKING)
        # bookings are the exit side's queue: its customs and e-port operator read them
        assert (booking is not None) == (role in (Role.CUSTOMS, Role.E_PORT)), role
    cn = world.env.who("cn-customs")
    full = read(world, cn, Category.DECLARATION)
    assert full["pre_arrival"] is False and full["data"]["driver"]["document_number"]
    assert full["lane"] is not None  # the lodging side's own decision


def test_the_declarant_and_the_shipped_defaults_keep_todays_access(world: World) -> None:
    broker, kz = world.env.who("cn-broker"), world.env.who("kz-customs")
    own = read(world, broker, Category.DECLARATION)
    assert own["data"]["driver"] and own["lane"] is not None
    assert read(world, broker, Category.RISK_LANE) is None  # customs' own findings
    assert read(world, broker, Category.BOOKING)  # its booking: owner
    with pytest.raises(PurposeRequired) as bare:
        read(world, kz, Category.DECLARATION)
    assert "customs_control" in bare.value.detail
    pre = read(world, Asking(kz, "customs_control"), Category.DECLARATION)
    assert pre["pre_arrival"] is True and "driver" not in pre["data"] and "lane" not in pre
    entries = read(world, Asking(kz, "queue_management"), Category.BOOKING)
    assert entries and {"booking", "status", "slot", "quota_class", "organization"} == set(
        entries[0]
    )
    for purpose in ("statistics", "risk_analysis"):  # not what the defaults are for
        assert read(world, Asking(kz, purpose), Category.DECLARATION) is None
    assert read(world, Asking(kz, "customs_control"), Category.RISK_LANE) is None


@pytest.mark.parametrize(
    ("purpose", "place", "allowed"),
    [
        ("statistics", None, True),  # place: the caller's country, KZ
        ("statistics", "KZ", True),
        ("statistics", "RU", False),  # not a place of the agreement
        ("risk_analysis", None, False),  # not a purpose of the agreement
    ],
)
def test_purpose_and_place_must_both_be_agreed(
    world: World, purpose: str, place: str | None, allowed: bool
) -> None:
    who = reader(Role.ANALYST.value)
    grant(world.platform, who.member_id, Category.DECLARATION, ["/id", "/status"])
    got = read(world, Asking(who, purpose, place), Category.DECLARATION)
    assert (got is not None) == allowed
    with pytest.raises(PurposeRequired) as bare:  # a consumer that names no purpose is told
        read(world, who, Category.DECLARATION)
    assert bare.value.errors[0].field == "/headers/silkgate-purpose"
    assert "statistics" in bare.value.errors[0].message


def test_personal_data_stays_home_without_an_agreement_naming_it(world: World) -> None:
    cn = world.env.who("cn-customs")
    # the lodging customs declaring processing abroad gets everything but personal data
    abroad = read(world, Asking(cn, None, "KZ"), Category.DECLARATION)
    assert "driver" not in abroad["data"] and abroad["lane"] is not None
    home = read(world, Asking(cn, None, "CN"), Category.DECLARATION)
    assert home["data"]["driver"]
    # an agreement for the whole of /data without personal_data still withholds the driver
    who = reader(Role.CUSTOMS.value)
    grant(world.platform, who.member_id, Category.DECLARATION, ["/id", "/data"])
    got = read(world, Asking(who, "statistics"), Category.DECLARATION)
    assert "driver" not in got["data"] and got["data"]["goods_items"]
