"""Which declarations a list read can reach (SQL), and today's hard-coded view.

Reads decide through ``silkgate.exchange.agreements`` (the policy decision point);
``reachable_clause`` narrows a list to the rows a decision may allow. ``view_of``,
``visible_clause`` and ``redact`` are the view before agreements, kept for the signed receipts
and for bench/exchange.py's side-by-side comparison.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_

from silkgate.declarations.models import Declaration
from silkgate.declarations.schemas import DeclarationStatus, DeclarationType
from silkgate.exchange.agreements.policy import Rule, is_authority
from silkgate.registry.schemas import Role
from silkgate.registry.service import Caller

CROSSING_TYPES = (DeclarationType.EXPORT.value, DeclarationType.TRANSIT.value)
NOT_YET_ACCEPTED = (DeclarationStatus.SUBMITTED.value,)


class View(Enum):
    NONE = 0
    PRE_ARRIVAL = 1
    FULL = 2


def lodged_with(d: Declaration) -> str:
    """The country whose customs the declaration is lodged with."""
    return d.entry_country if d.type == DeclarationType.IMPORT.value else d.exit_country


def view_of(caller: Caller, d: Declaration) -> View:
    """The owner and the lodging customs see everything; the other side gets pre-arrival data."""
    if d.declarant_org_id == caller.id:
        return View.FULL
    if not caller.has(Role.CUSTOMS) or d.crossing_code not in caller.crossings:
        return View.NONE
    if lodged_with(d) == caller.country:
        return View.FULL
    if (
        d.type in CROSSING_TYPES
        and d.entry_country == caller.country
        and d.status not in NOT_YET_ACCEPTED
    ):
        return View.PRE_ARRIVAL
    return View.NONE


def visible_clause(caller: Caller) -> ColumnElement[bool]:
    """SQL condition equivalent to ``view_of(...) != View.NONE``."""
    own = Declaration.declarant_org_id == caller.id
    if not caller.has(Role.CUSTOMS) or not caller.crossings:
        return or_(own, false())
    on_crossing = Declaration.crossing_code.in_(sorted(caller.crossings))
    lodged_here = or_(
        and_(
            Declaration.type == DeclarationType.IMPORT.value,
            Declaration.entry_country == caller.country,
        ),
        and_(
            Declaration.type != DeclarationType.IMPORT.value,
            Declaration.exit_country == caller.country,
        ),
    )
    pre_arrival = and_(
        Declaration.type.in_(CROSSING_TYPES),
        Declaration.entry_country == caller.country,
        Declaration.status.not_in(NOT_YET_ACCEPTED),
    )
    return or_(own, and_(on_crossing, or_(lodged_here, pre_arrival)))


def lodged_with_clause(country: str) -> ColumnElement[bool]:
    """SQL: the declaration is lodged with ``country``'s customs (see ``lodged_with``)."""
    return or_(
        and_(
            Declaration.type == DeclarationType.IMPORT.value,
            Declaration.entry_country == country,
        ),
        and_(
            Declaration.type != DeclarationType.IMPORT.value,
            Declaration.exit_country == country,
        ),
    )


def reachable_clause(caller: Caller, rules: Iterable[Rule]) -> ColumnElement[bool]:
    """SQL: rows the policy decision may allow the caller — its own, those lodged with its
    state at a crossing it serves (customs), and those an agreement's provider holds at the
    agreement's crossings. Conditions, purposes and validity are decided per row afterwards."""
    from silkgate.exchange.agreements.catalogue import Category, spec

    parts: list[ColumnElement[bool]] = [Declaration.declarant_org_id == caller.id]
    served = sorted(caller.crossings)
    if caller.roles & spec(Category.DECLARATION).authority_roles and served:
        parts.append(
            and_(Declaration.crossing_code.in_(served), lodged_with_clause(caller.country))
        )
    for r in rules:
        if is_authority(r.provider):
            holds = lodged_with_clause(r.provider)
        else:
            holds = Declaration.declarant == r.provider
        crossings: set[str] | None = set(r.crossings) if r.crossings else None
        if caller.member_id not in r.consumers:  # a consumer as its state's customs
            crossings = set(served) if crossings is None else crossings & set(served)
        if crossings is None:
            parts.append(holds)
        elif crossings:  # one condition on the crossing, not one per source of it
            parts.append(and_(holds, Declaration.crossing_code.in_(sorted(crossings))))
    return or_(false(), *parts)


def redact(payload: dict[str, Any], share_driver: bool) -> dict[str, Any]:
    """The pre-arrival form: driver personal data removed unless sharing is configured."""
    if share_driver or "driver" not in payload:
        return payload
    return {k: v for k, v in payload.items() if k != "driver"}
