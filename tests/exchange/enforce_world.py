"""Enforcement test helpers: a booked, assessed and inspected CN→KZ export; agreements stored
as active rows; reads of each wired data category; the pointers an answer carries."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete

from silkgate.core.errors import NotFound
from silkgate.core.platform import Platform
from silkgate.declarations import reading
from silkgate.exchange.agreements.catalogue import Category
from silkgate.exchange.agreements.enforce import Asking
from silkgate.exchange.agreements.models import Agreement
from silkgate.exchange.agreements.terms import digest
from silkgate.gates import timeline
from silkgate.registry.service import Caller
from silkgate.risk.platform import service as risk
from silkgate.risk.platform.schemas import InspectionIn, SharedAssessment, SharedInspection
from silkgate.risk.platform.worker import assess_pending
from tests.queue.env import Env, make_env

CROSSING = "KHG-NZH"
_IDS = itertools.count(1)


@dataclass
class World:
    env: Env
    decl: str
    booking: str

    @property
    def platform(self) -> Platform:
        return self.env.platform


def make_world(platform: Platform) -> World:
    """cn-broker books a truck for its accepted CN→KZ export; CN customs assesses it (the
    risk worker) and records an inspection."""
    env = make_env(platform)
    b = env.book(hour=10)
    decl = b.declaration_ids[0]
    assess_pending(platform)
    risk.record_inspection(
        platform, env.who("cn-customs"), decl, InspectionIn(outcome="no_discrepancy")
    )
    return World(env, decl, b.id)


def reader(role: str, country: str = "KZ", member: str | None = None) -> Caller:
    """An organization of ``role`` serving the crossing (not registered: reads need none)."""
    n = next(_IDS)
    return Caller(
        90_000 + n,
        member or f"{country}/COM/READER{n:06d}",
        country,
        frozenset({role}),
        frozenset({CROSSING}),
    )


def grant(
    platform: Platform,
    consumer: str,
    category: Category | str,
    fields: list[str],
    *,
    provider: str = "CN",
    purposes: tuple[str, ...] = ("statistics",),
    places: tuple[str, ...] = ("KZ",),
    personal: bool = False,
    condition: str | None = None,
) -> str:
    """Store an active (signed-by-all, as far as the decision cares) agreement; its id."""
    aid = f"test-{next(_IDS)}"
    row = Agreement(
        agreement_id=aid,
        version=1,
        status="active",
        provider=provider,
        consumers=[consumer],
        category=str(category),
        fields=sorted(fields),
        purposes=sorted(purposes),
        places=sorted(places),
        crossings=[CROSSING],
        condition=condition,
        personal_data=personal,
        valid_from=datetime(2020, 1, 1, tzinfo=UTC),
        valid_until=None,
        builtin=False,
        terms_digest="",
        proposed_by="test",
        proposed_at=datetime(2020, 1, 1, tzinfo=UTC),
        activated_at=datetime(2020, 1, 1, tzinfo=UTC),
    )
    row.terms_digest = digest(row)
    with platform.db.session() as s:
        s.add(row)
    return aid


def drop_grants(platform: Platform) -> None:
    """Remove the agreements ``grant`` stored (the shipped defaults stay)."""
    with platform.db.session() as s:
        s.execute(delete(Agreement).where(Agreement.builtin.is_(False)))


def read(world: World, who: Caller | Asking, category: Category) -> Any:
    """The answer of the read that serves ``category``, as JSON; None when it is 404."""
    p, decl = world.platform, world.decl
    try:
        if category in (Category.DECLARATION, Category.PRE_ARRIVAL):
            return reading.get(p, who, decl).model_dump(mode="json", exclude_unset=True)
        if category in (Category.RISK_LANE, Category.RISK_SCORE):
            out = risk.get_assessment(p, who, decl)
            return out.model_dump(mode="json", exclude_unset=isinstance(out, SharedAssessment))
        if category is Category.INSPECTION_RESULT:
            got = risk.get_inspection(p, who, decl)
            return got.model_dump(mode="json", exclude_unset=isinstance(got, SharedInspection))
        if category is Category.BOOKING:
            tl = timeline.declaration_timeline(p, who, decl)
            entries = [e.detail for e in tl.entries if e.kind == "booking"]
            return entries or None
    except NotFound:
        return None
    raise AssertionError(f"no read wired for {category}")


def leaves(doc: Any, at: str = "") -> list[str]:
    """Pointers (``*`` for array elements) of every value in ``doc`` that is not a container
    (an empty container left by filtering is structure, not data)."""
    if isinstance(doc, dict):
        return [p for k, v in doc.items() for p in leaves(v, f"{at}/{k}")]
    if isinstance(doc, list):
        return [p for v in doc for p in leaves(v, f"{at}/*")]
    return [at]


def covered(pointer: str, allowed: set[str] | frozenset[str]) -> bool:
    return any(pointer == p or pointer.startswith(p + "/") for p in allowed)
