"""The shipped default agreements give exactly today's access (declarations.access.view_of
and the pre-arrival view), and are seeded, refreshed and left alone as documented."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from silkgate.audit.models import AuditEntry
from silkgate.codelists.crossings import load_crossings
from silkgate.core.platform import Platform
from silkgate.core.signing import verify
from silkgate.declarations.access import View, view_of
from silkgate.declarations.models import Declaration
from silkgate.declarations.schemas import DeclarationOut, DeclarationStatus
from silkgate.declarations.service import view_out
from silkgate.exchange.agreements import service
from silkgate.exchange.agreements.catalogue import Category
from silkgate.exchange.agreements.defaults import default_row, ensure_defaults
from silkgate.exchange.agreements.fields import filter_document
from silkgate.exchange.agreements.models import Agreement, AgreementSignature
from silkgate.exchange.agreements.policy import decide
from silkgate.exchange.agreements.records import declaration_record
from silkgate.exchange.agreements.terms import signing_input
from silkgate.registry.schemas import Role
from silkgate.registry.service import Caller
from tests.factories import caller, export_cn_to_kz, seeded

NOW = datetime(2026, 3, 1, tzinfo=UTC)
CROSSINGS = [c.code for c in load_crossings()]
MEMBERS = ["CN/COM/A", "KZ/COM/B", "CN/GOV/C", "KZ/GOV/D", "CN/COM/E"]


def default_rules(share: bool) -> list[Any]:
    return [
        service.rule_of(default_row(c.code, x, y, share, 1))
        for c in load_crossings()
        for x, y in (c.countries, c.countries[::-1])
    ]


@st.composite
def cases(draw: st.DrawFn) -> tuple[Caller, Declaration]:
    exit_c, entry_c = draw(st.sampled_from([("CN", "KZ"), ("KZ", "CN")]))
    declarant = draw(st.integers(0, len(MEMBERS) - 1))
    payload = export_cn_to_kz()
    if draw(st.booleans()):
        del payload["driver"]
    d = Declaration(
        id="01J0000000000000000000",
        declarant_org_id=declarant,
        declarant=MEMBERS[declarant],
        lrn="L1",
        type=draw(st.sampled_from(["export", "import", "transit"])),
        status=draw(st.sampled_from([s.value for s in DeclarationStatus])),
        version=1,
        crossing_code=draw(st.sampled_from(CROSSINGS[:3])),
        exit_country=exit_c,
        entry_country=entry_c,
        submitted_at=NOW,
        updated_at=NOW,
        lane=draw(st.sampled_from([None, "green", "red"])),
        payload=payload,
    )
    me = draw(st.integers(0, len(MEMBERS) - 1))
    roles = draw(st.sets(st.sampled_from([r.value for r in Role]), min_size=1, max_size=3))
    crossings = draw(st.sets(st.sampled_from(CROSSINGS[:3]), max_size=2))
    if draw(st.booleans()):  # lean towards customs serving the crossing: the interesting cases
        roles.add(Role.CUSTOMS.value)
        crossings.add(d.crossing_code)
    who = Caller(me, MEMBERS[me], MEMBERS[me][:2], frozenset(roles), frozenset(crossings))
    return who, d


@pytest.mark.parametrize("share", [False, True])
@settings(max_examples=300, deadline=None)
@given(case=cases())
def test_defaults_give_todays_views(share: bool, case: tuple[Caller, Declaration]) -> None:
    who, d = case
    rules = default_rules(share)
    view = view_of(who, d)
    event(view.name)
    got = decide(who, "customs_control", who.country, declaration_record(d), rules, NOW)
    if view is View.NONE:
        assert not got.allowed
        return
    if view is View.FULL:
        assert got.full and got.basis in ("owner", "authority")
        return
    assert got.basis == "agreement" and got.categories == {Category.PRE_ARRIVAL}
    platform = SimpleNamespace(settings=SimpleNamespace(share_driver_data_across_border=share))
    expected = view_out(platform, who, d, View.PRE_ARRIVAL).model_dump(mode="json")  # type: ignore[arg-type]
    full = view_out(platform, who, d, View.FULL).model_dump(mode="json")  # type: ignore[arg-type]
    shown = filter_document(full, got.fields)
    shown["pre_arrival"] = Category.PRE_ARRIVAL in got.categories
    assert DeclarationOut.model_validate(shown).model_dump(mode="json") == expected
    # other purposes and places are not covered by the defaults
    assert not decide(who, "statistics", who.country, declaration_record(d), rules, NOW).allowed
    assert not decide(who, "customs_control", "RU", declaration_record(d), rules, NOW).allowed


def _defaults(platform: Platform) -> list[Agreement]:
    with platform.db.session() as s:
        return list(
            s.scalars(select(Agreement).where(Agreement.builtin.is_(True)).order_by(Agreement.id))
        )


def test_defaults_are_seeded_with_the_first_customs_of_a_crossing(platform: Platform) -> None:
    assert _defaults(platform) == []
    ids = seeded(platform)  # CN and KZ customs of KHG-NZH
    rows = _defaults(platform)
    assert sorted(r.agreement_id for r in rows) == [
        "default-booking-KHG-NZH-CN-KZ",
        "default-booking-KHG-NZH-KZ-CN",
        "default-gate-events-KHG-NZH-CN-KZ",
        "default-gate-events-KHG-NZH-KZ-CN",
        "default-kpi-KHG-NZH-CN",  # karamay (analyst, administrator) is registered
        "default-kpi-KHG-NZH-KZ",
        "default-pre-arrival-KHG-NZH-CN-KZ",
        "default-pre-arrival-KHG-NZH-KZ-CN",
    ]
    assert all(r.status == "active" and r.version == 1 for r in rows)
    with platform.db.session() as s:
        for r in rows:
            sig = s.scalar(select(AgreementSignature).where(AgreementSignature.row_id == r.id))
            assert sig is not None and sig.party == "platform"
            assert sig.public_key == platform.signer.public_key
            assert verify(sig.public_key, sig.signature, signing_input(r))
        actions = s.scalars(
            select(AuditEntry.action).where(AuditEntry.entity_type == "agreement")
        ).all()
    assert actions == ["agreement.seeded"] * 8
    # the parties see them (KZ customs speaks for KZ: not for CN's KPI default); a broker does not
    kz = caller(platform, ids, "kz-customs")
    assert len(service.list_agreements(platform, kz)) == 7
    assert len(service.list_agreements(platform, caller(platform, ids, "karamay"))) == 2
    assert service.list_agreements(platform, caller(platform, ids, "cn-broker")) == []


def test_defaults_follow_the_driver_setting_until_the_parties_replace_them(
    platform: Platform,
) -> None:
    seeded(platform)
    crossing = ["KHG-NZH"]
    with platform.db.session() as s:
        assert ensure_defaults(s, platform.signer, crossing, False, "test") == []
        written = ensure_defaults(s, platform.signer, crossing, True, "test")
    assert sorted(written) == [  # the booking defaults follow the setting too
        "default-booking-KHG-NZH-CN-KZ",
        "default-booking-KHG-NZH-KZ-CN",
        "default-pre-arrival-KHG-NZH-CN-KZ",
        "default-pre-arrival-KHG-NZH-KZ-CN",
    ]
    rows = {(r.agreement_id, r.version): r for r in _defaults(platform)}
    v2 = rows[("default-pre-arrival-KHG-NZH-CN-KZ", 2)]
    assert v2.personal_data and "/data/driver" in v2.fields and v2.status == "active"
    assert rows[("default-pre-arrival-KHG-NZH-CN-KZ", 1)].status == "superseded"
    with platform.db.session() as s:
        row = s.scalar(select(Agreement).where(Agreement.id == v2.id))
        assert row is not None
        row.status = "revoked"  # as the parties' revocation leaves it
        assert sorted(ensure_defaults(s, platform.signer, crossing, False, "test")) == [
            "default-booking-KHG-NZH-CN-KZ",
            "default-booking-KHG-NZH-KZ-CN",
            "default-pre-arrival-KHG-NZH-KZ-CN",
        ]


def test_db_upgrade_brings_the_defaults_up_to_date(platform: Platform) -> None:
    from silkgate.bootstrap import prepare_database

    seeded(platform)
    prepare_database(platform)  # nothing changed: nothing written
    assert len(_defaults(platform)) == 8
    switched = Platform(
        platform.settings.model_copy(update={"share_driver_data_across_border": True})
    )
    try:
        prepare_database(switched)
    finally:
        switched.close()
    latest = [
        r
        for r in _defaults(platform)
        if r.status == "active" and r.agreement_id.startswith("default-pre-arrival")
    ]
    assert len(latest) == 2 and all(r.version == 2 and r.personal_data for r in latest)
    # the booking defaults share the driver too (as the booking reads did before agreements);
    # gate events carry no driver: the setting leaves them at version 1
    bookings = [
        r
        for r in _defaults(platform)
        if r.agreement_id.startswith("default-booking") and r.status == "active"
    ]
    assert [(r.version, "/driver" in r.fields, r.personal_data) for r in bookings] == [
        (2, True, True)
    ] * 2
    gates = [r for r in _defaults(platform) if r.agreement_id.startswith("default-gate-events")]
    assert [r.version for r in gates] == [1, 1]
