"""KPIs per crossing through the policy decision (``kpi_aggregates``): each side's officials
by authority, analysts under the shipped default, other organizations under an agreement."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from silkgate.codelists.identifiers import generate_kz_bin
from silkgate.core.errors import Forbidden
from silkgate.core.platform import Platform
from silkgate.exchange.agreements import service as agreements
from silkgate.exchange.agreements.catalogue import Category
from silkgate.exchange.agreements.enforce import Asking
from silkgate.exchange.agreements.models import Agreement
from silkgate.exchange.disclosures.models import Disclosure
from silkgate.gates import reports, service
from silkgate.registry import service as registry
from silkgate.registry.schemas import OrganizationCreate, Role
from tests.exchange.enforce_world import drop_grants, grant
from tests.gates.helpers import World, event

CROSSING = "KHG-NZH"


@pytest.fixture
def world(platform: Platform) -> World:
    w = World(platform)
    for point, minutes, side in (("gate_in", 0, "CN"), ("release", 200, "KZ")):
        org = "cn-customs" if side == "CN" else "kz-customs"
        body = w.signed(org, event(point, minutes, side=side, decl=w.decl))
        service.report(platform, w.callers[org], body)
    return w


def trs(w: World, org: str, purpose: str | None = None) -> dict[str, object] | None:
    try:
        return reports.trs_answer(w.platform, Asking(w.callers[org], purpose), CROSSING)
    except Forbidden:
        return None


def test_officials_by_authority_analysts_by_the_default_others_not(world: World) -> None:
    for org in ("cn-customs", "kz-customs", "cn-eport", "kz-eport", "karamay"):
        got = trs(world, org)
        assert got is not None and got["passages"] == 1, org
    for org in ("kz-carrier", "cn-carrier", "kz-service", "cn-broker"):
        assert trs(world, org) is None, org
        assert trs(world, org, "statistics") is None, org
    # the analyst reads for statistics (the default purpose), not for customs control
    assert trs(world, "karamay", "customs_control") is None
    with world.platform.db.session() as s:
        rows = s.scalars(select(Disclosure).where(Disclosure.category == "kpi_aggregates"))
        assert {(d.consumer, d.record_id) for d in rows} == {(world.ids["karamay"], CROSSING)}


def test_either_sides_agreement_suffices_and_revocation_ends_it(world: World) -> None:
    p, c = world.platform, world.callers
    agreements.revoke(p, c["kz-customs"], "default-kpi-KHG-NZH-KZ", "test")
    assert trs(world, "karamay") is not None  # CN's default still shares it
    agreements.revoke(p, c["cn-customs"], "default-kpi-KHG-NZH-CN", "test")
    assert trs(world, "karamay") is None
    with pytest.raises(Forbidden):
        reports.queue_report(p, c["karamay"], CROSSING)
    assert trs(world, "cn-customs") is not None  # authority needs no agreement


def test_an_agreement_for_some_figures(world: World) -> None:
    p, carrier = world.platform, world.ids["kz-carrier"]
    grant(p, carrier, Category.KPI_AGGREGATES, ["/passages", "/released"], provider="KZ")
    assert trs(world, "kz-carrier") == {"passages": 1, "released": 1}
    with pytest.raises(Forbidden):  # the other reports are answered whole or not at all
        reports.throughput_report(p, world.callers["kz-carrier"], CROSSING)
    drop_grants(p)
    assert trs(world, "kz-carrier") is None


def test_a_new_analyst_is_named_in_a_new_version_of_the_default(world: World) -> None:
    p = world.platform
    member = f"KZ/GOV/{generate_kz_bin(random.Random(5))}"
    body = OrganizationCreate(member_id=member, name="Analytics", roles=[Role.ANALYST])
    registry.create_organization(p, body, "test")
    with p.db.session() as s:
        rows = s.scalars(
            select(Agreement).where(Agreement.agreement_id == "default-kpi-KHG-NZH-KZ")
        ).all()
        latest = max(rows, key=lambda r: r.version)
        assert latest.version == 2 and member in latest.consumers
        assert sorted(latest.places) == ["CN", "KZ"]
    analyst = registry.caller_for(p, member)
    assert reports.trs_answer(p, analyst, CROSSING)["passages"] == 1
