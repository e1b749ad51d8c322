"""The policy decision: which fields of a record an organization may read, and on what basis.

``decide`` is a pure function of the caller, its declared purpose and place of processing, the
record's attributes and the active agreements (as ``Rule``). Its answer, in order:

1. the record's **owner** (the organization that made it) reads everything;
2. the **authority** — organizations of the member state the record is lodged with, having one
   of the category's authority roles, at a crossing they serve — reads everything (by law; this
   is today's "lodging customs sees the full declaration"), except personal data when it
   declares a place of processing outside that state (personal data never leaves its country
   without an agreement naming it);
3. a **party** named by the record (the declarant of a declaration a booking moves) reads
   everything but personal data: the record is part of its own consignment;
4. anyone else declares a purpose and reads the union of the fields of every agreement that
   matches (provider holds the record, caller is a consumer, category, purpose, place, crossing,
   validity, CEL condition); personal-data fields only from agreements that name them;
5. nothing otherwise (the caller is answered 404, as if the record did not exist).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, lru_cache
from typing import Any

from silkgate.exchange.agreements import conditions
from silkgate.exchange.agreements.catalogue import Category, spec
from silkgate.registry.schemas import Role
from silkgate.registry.service import Caller

#: Every field of the record (owner and authority reads).
ALL = frozenset({""})


def is_authority(party: str) -> bool:
    """A party written as an ISO alpha-2 code is that member state's customs authority."""
    return len(party) == 2 and party.isalpha() and party.isupper()


@dataclass(frozen=True)
class Rule:
    """An active agreement version, as the decision needs it."""

    agreement_id: str
    version: int
    provider: str
    consumers: frozenset[str]
    category: Category
    fields: frozenset[str]
    purposes: frozenset[str]
    places: frozenset[str]
    crossings: frozenset[str]
    valid_from: datetime
    valid_until: datetime | None
    condition: str | None
    personal_data: bool
    builtin: bool = False


@dataclass(frozen=True)
class Record:
    """What the decision reads about one record; strings are empty when not applicable.

    ``owner``: member id of the organization that made it (declarant, booking party, reporter);
    ``authority``: alpha-2 of the member state whose customs it is lodged with or made by (also
    the country personal data in it belongs to); ``parties``: member ids the record names as
    having a stake in it (declarants of the declarations a booking moves).
    """

    category: Category
    owner: str = ""
    authority: str = ""
    crossing: str = ""
    exit_country: str = ""
    entry_country: str = ""
    declaration_type: str = ""
    status: str = ""
    parties: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if type(self.category) is not Category:  # Enum() costs microseconds: lists add up
            object.__setattr__(self, "category", Category(self.category))


@dataclass(frozen=True)
class Decision:
    """Allowed pointers (``ALL``: everything), the basis, and the agreements that allowed them.

    ``personal``: personal data may be in what is allowed; ``personal_agreements``: the
    agreements that allowed personal fields (the ones a cross-border transfer counts against).
    """

    fields: frozenset[str] = frozenset()
    basis: str = "none"  # owner | authority | party | agreement | none
    agreements: tuple[tuple[str, int], ...] = ()
    categories: frozenset[Category] = field(default_factory=frozenset)
    personal: bool = False
    personal_agreements: tuple[tuple[str, int], ...] = ()

    @property
    def allowed(self) -> bool:
        return bool(self.fields)

    @property
    def full(self) -> bool:
        return self.fields == ALL


NOTHING = Decision()


@cache
def non_personal(category: Category) -> frozenset[str]:
    """Every pointer of the category's catalogue that neither is nor contains personal data."""
    cat = spec(category)
    return frozenset(
        p
        for p in cat.pointers
        if p not in cat.personal and not any(q.startswith(p + "/") for q in cat.personal)
    )


@lru_cache(maxsize=1024)
def without_personal(category: Category, fields: frozenset[str]) -> frozenset[str]:
    """``fields`` minus personal data: a personal pointer is dropped, and a pointer above some
    (``/data`` holds ``/data/driver``) becomes the non-personal pointers below it. Saving an
    agreement already refuses such pointers without ``personal_data``; the decision does not
    rely on that."""
    personal = spec(category).personal
    out: set[str] = set()
    for p in fields:
        if p in personal or p == "":
            if p == "":
                out |= non_personal(category)
            continue
        if any(q.startswith(p + "/") for q in personal):
            out |= {q for q in non_personal(category) if q.startswith(p + "/")}
        else:
            out.add(p)
    return frozenset(out)


@lru_cache(maxsize=1024)
def touches_personal(category: Category, fields: frozenset[str]) -> bool:
    """Some pointer of ``fields`` is, holds or lies within personal data."""
    personal = spec(category).personal
    return any(
        p == "" or p in personal or any(q.startswith(p + "/") for q in personal) for p in fields
    )


def activation(
    caller: Caller, purpose: str, place: str, record: Record, now: datetime
) -> dict[str, Any]:
    """The variables a CEL condition reads (see ``conditions``)."""
    direction = (
        f"{record.exit_country}-{record.entry_country}"
        if record.exit_country and record.entry_country
        else ""
    )
    return {
        "crossing": record.crossing,
        "exit_country": record.exit_country,
        "entry_country": record.entry_country,
        "direction": direction,
        "declaration_type": record.declaration_type,
        "status": record.status,
        "category": record.category.value,
        "purpose": purpose,
        "place": place,
        "consumer": {
            "member_id": caller.member_id,
            "country": caller.country,
            "roles": sorted(caller.roles),
        },
        "now": now,
    }


def _serves(caller: Caller, crossing: str) -> bool:
    return not crossing or crossing in caller.crossings


def is_consumer(caller: Caller, rule: Rule, crossing: str) -> bool:
    """The caller is named, or is customs of a member state named, serving the crossing."""
    if caller.member_id in rule.consumers:
        return True
    return (
        caller.country in rule.consumers and caller.has(Role.CUSTOMS) and _serves(caller, crossing)
    )


def for_caller(caller: Caller, rules: Iterable[Rule]) -> list[Rule]:
    """The rules that may ever serve ``caller`` (named, or its state's customs named): filter
    once per request, then ``decide`` each record of a list against the few that remain."""
    return [
        r
        for r in rules
        if caller.member_id in r.consumers
        or (caller.country in r.consumers and caller.has(Role.CUSTOMS))
    ]


def holds(rule: Rule, record: Record) -> bool:
    """The agreement's provider holds the record: it made it, or the data is lodged with it."""
    return rule.provider in (record.owner, record.authority) and rule.provider != ""


def matches(
    rule: Rule,
    caller: Caller,
    purpose: str,
    place: str,
    record: Record,
    now: datetime,
    act: Mapping[str, Any] | None = None,
) -> bool:
    """Whether one agreement lets the caller read this record for this purpose and place."""
    # cheapest and most selective first: the crossing, then category, purpose, place, time
    if rule.crossings and record.crossing not in rule.crossings:
        return False
    if rule.category not in spec(record.category).scope:
        return False
    if purpose not in rule.purposes or place not in rule.places:
        return False
    if now < rule.valid_from or (rule.valid_until is not None and now >= rule.valid_until):
        return False
    if not holds(rule, record) or not is_consumer(caller, rule, record.crossing):
        return False
    if rule.condition is None:
        return True
    act = act if act is not None else activation(caller, purpose, place, record, now)
    return conditions.evaluate(rule.condition, act)


def decide(
    caller: Caller,
    purpose: str | None,
    place: str | None,
    record: Record,
    rules: Iterable[Rule],
    now: datetime,
) -> Decision:
    """Which pointers of ``record`` the caller may read (see the module docstring)."""
    if record.owner and record.owner == caller.member_id:
        return Decision(ALL, "owner", personal=True)
    cat = spec(record.category)
    if (
        record.authority
        and record.authority == caller.country
        and caller.roles & cat.authority_roles
        and _serves(caller, record.crossing)
    ):
        if place and place != record.authority and cat.personal:
            return Decision(non_personal(cat.category), "authority")
        return Decision(ALL, "authority", personal=True)
    if caller.member_id in record.parties:
        return Decision(non_personal(cat.category), "party")
    if not purpose:
        return NOTHING
    where = place or caller.country
    allowed: set[str] = set()
    used: list[tuple[str, int]] = []
    personal_used: list[tuple[str, int]] = []
    cats: set[Category] = set()
    act: dict[str, Any] | None = None
    for rule in rules:
        if rule.condition is not None and act is None:
            act = activation(caller, purpose, where, record, now)
        if not matches(rule, caller, purpose, where, record, now, act):
            continue
        fields = rule.fields if rule.personal_data else without_personal(rule.category, rule.fields)
        allowed |= fields
        if rule.personal_data and touches_personal(rule.category, fields):
            personal_used.append((rule.agreement_id, rule.version))
        used.append((rule.agreement_id, rule.version))
        cats.add(rule.category)
    if not allowed:
        return NOTHING
    return Decision(
        frozenset(allowed),
        "agreement",
        tuple(sorted(used)),
        frozenset(cats),
        bool(personal_used),
        tuple(sorted(personal_used)),
    )


def purposes_that_would_allow(
    caller: Caller, place: str | None, record: Record, rules: Iterable[Rule], now: datetime
) -> list[str]:
    """The purposes under which some agreement would let the caller read ``record``: what a
    reader that declared none is told (only a consumer of a matching agreement learns that the
    record exists)."""
    rules = list(rules)
    candidates = sorted({p for r in rules for p in r.purposes})
    return [p for p in candidates if decide(caller, p, place, record, rules, now).allowed]
