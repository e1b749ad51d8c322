"""The policy decision: every category × role with and without an agreement, and each check
(purpose, place, crossing, validity, condition, personal data, authority consumers)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from silkgate.exchange.agreements.catalogue import Category, catalogue
from silkgate.exchange.agreements.policy import ALL, NOTHING, Record, Rule, decide, non_personal
from silkgate.registry.schemas import Role
from silkgate.registry.service import Caller

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
OWNER = "CN/COM/91650000OWNER0001"
READER = "KZ/COM/180240000039"
CROSSING = "KHG-NZH"


def who(role: Role, country: str = "KZ", member: str = READER, crossings=(CROSSING,)) -> Caller:
    return Caller(7, member, country, frozenset({role.value}), frozenset(crossings))


def record(category: Category, **kw: str) -> Record:
    base = dict(
        owner=OWNER,
        authority="CN",
        crossing=CROSSING,
        exit_country="CN",
        entry_country="KZ",
        declaration_type="export",
        status="accepted",
    )
    return Record(category, **{**base, **kw})


def two_fields(category: Category) -> frozenset[str]:
    # neither personal nor above personal data (``/data`` holds the driver): saving refuses
    # such a pointer without personal_data, and the decision narrows it to what is not personal
    plain = sorted(p for p in non_personal(category) if p.count("/") == 1)
    return frozenset(plain[:2])


def rule(category: Category, consumer: str = READER, **kw: object) -> Rule:
    base: dict[str, object] = dict(
        agreement_id="a1",
        version=1,
        provider=OWNER,
        consumers=frozenset({consumer}),
        category=category,
        fields=two_fields(category),
        purposes=frozenset({"statistics"}),
        places=frozenset({"KZ"}),
        crossings=frozenset(),
        valid_from=NOW - timedelta(days=1),
        valid_until=None,
        condition=None,
        personal_data=False,
    )
    return Rule(**{**base, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize("category", list(Category))
@pytest.mark.parametrize("role", list(Role))
def test_every_category_and_role_with_and_without_an_agreement(
    category: Category, role: Role
) -> None:
    caller, rec = who(role), record(category)
    assert decide(caller, "statistics", "KZ", rec, [], NOW) == NOTHING
    got = decide(caller, "statistics", "KZ", rec, [rule(category)], NOW)
    assert got.basis == "agreement" and got.fields == two_fields(category)
    assert got.agreements == (("a1", 1),)
    # the same agreement does not serve another organization of the same role
    other = who(role, member="KZ/COM/999999999999")
    assert decide(other, "statistics", "KZ", rec, [rule(category)], NOW) == NOTHING
    # the lodging state's organizations with an authority role read everything, by law
    home = who(role, country="CN", member="CN/GOV/11650000HOME0001")
    by_law = decide(home, None, None, rec, [], NOW)
    if role.value in catalogue()[category].authority_roles:
        assert by_law.fields == ALL and by_law.basis == "authority"
    else:
        assert by_law == NOTHING
    owner = who(role, country="CN", member=OWNER, crossings=())
    assert decide(owner, None, None, rec, [], NOW).basis == "owner"


def test_authority_reads_only_at_crossings_it_serves() -> None:
    customs = who(Role.CUSTOMS, country="CN", member="CN/GOV/X", crossings=("ALA-DOS",))
    assert decide(customs, None, None, record(Category.DECLARATION), [], NOW) == NOTHING


@pytest.mark.parametrize(
    ("purpose", "place", "changes", "allowed"),
    [
        ("statistics", "KZ", {}, True),
        ("risk_analysis", "KZ", {}, False),  # purpose not agreed
        (None, "KZ", {}, False),  # no purpose declared
        ("statistics", "RU", {}, False),  # processed elsewhere
        ("statistics", None, {}, True),  # place defaults to the caller's country
        ("statistics", "KZ", {"crossings": frozenset({"ALA-DOS"})}, False),
        ("statistics", "KZ", {"crossings": frozenset({CROSSING})}, True),
        ("statistics", "KZ", {"valid_from": NOW + timedelta(seconds=1)}, False),
        ("statistics", "KZ", {"valid_until": NOW}, False),
        ("statistics", "KZ", {"valid_until": NOW + timedelta(seconds=1)}, True),
        ("statistics", "KZ", {"condition": 'direction == "CN-KZ"'}, True),
        ("statistics", "KZ", {"condition": 'declaration_type == "import"'}, False),
        ("statistics", "KZ", {"condition": "consumer.nokey == 1"}, False),  # error: false
        ("statistics", "KZ", {"provider": "CN/COM/SOMEONEELSE"}, False),
        ("statistics", "KZ", {"provider": "CN"}, True),  # the lodging state's authority
    ],
)
def test_each_check_of_an_agreement(
    purpose: str | None, place: str | None, changes: dict[str, object], allowed: bool
) -> None:
    r = replace(rule(Category.BOOKING), **changes)  # type: ignore[arg-type]
    got = decide(who(Role.CARRIER), purpose, place, record(Category.BOOKING), [r], NOW)
    assert got.allowed is allowed


def test_personal_fields_only_from_an_agreement_that_names_them() -> None:
    fields = frozenset({"/id", "/driver"})
    caller, rec = who(Role.CUSTOMS_SERVICE), record(Category.BOOKING)
    without = decide(caller, "statistics", "KZ", rec, [rule(Category.BOOKING, fields=fields)], NOW)
    assert without.fields == {"/id"} and not without.personal
    named = rule(Category.BOOKING, fields=fields, personal_data=True)
    assert decide(caller, "statistics", "KZ", rec, [named], NOW).fields == fields


def test_union_over_matching_agreements_and_their_versions() -> None:
    a = rule(Category.BOOKING, fields=frozenset({"/id"}))
    b = rule(Category.BOOKING, agreement_id="b", version=3, fields=frozenset({"/status"}))
    c = rule(Category.BOOKING, agreement_id="c", purposes=frozenset({"queue_management"}))
    got = decide(who(Role.CARRIER), "statistics", "KZ", record(Category.BOOKING), [a, b, c], NOW)
    assert got.fields == {"/id", "/status"} and got.agreements == (("a1", 1), ("b", 3))


def test_an_authority_consumer_is_customs_of_that_state_at_a_served_crossing() -> None:
    r = rule(Category.PRE_ARRIVAL, consumer="KZ", provider="CN")
    rec = record(Category.DECLARATION)  # a declaration read consults pre-arrival agreements
    customs = who(Role.CUSTOMS, member="KZ/GOV/1")
    got = decide(customs, "statistics", "KZ", rec, [r], NOW)
    assert got.allowed and got.categories == {Category.PRE_ARRIVAL}
    assert not decide(who(Role.E_PORT), "statistics", "KZ", rec, [r], NOW).allowed
    elsewhere = who(Role.CUSTOMS, member="KZ/GOV/1", crossings=("ALA-DOS",))
    assert not decide(elsewhere, "statistics", "KZ", rec, [r], NOW).allowed
    # a pre-arrival agreement says nothing about risk scores
    assert not decide(customs, "statistics", "KZ", record(Category.RISK_SCORE), [r], NOW).allowed


def test_a_pointer_above_personal_data_is_narrowed_without_personal_data() -> None:
    """``/data`` holds ``/data/driver``: an agreement naming it without personal_data (which
    saving refuses) still never yields the driver."""
    caller, rec = who(Role.CUSTOMS), record(Category.DECLARATION)
    got = decide(
        caller,
        "statistics",
        "KZ",
        rec,
        [rule(Category.DECLARATION, fields=frozenset({"/data"}))],
        NOW,
    )
    assert got.allowed and not got.personal
    assert not any(p.startswith("/data/driver") for p in got.fields)
    assert "/data/goods_items" in got.fields
    with_personal = rule(Category.DECLARATION, fields=frozenset({"/data"}), personal_data=True)
    got = decide(caller, "statistics", "KZ", rec, [with_personal], NOW)
    assert got.fields == {"/data"} and got.personal and got.personal_agreements == (("a1", 1),)
