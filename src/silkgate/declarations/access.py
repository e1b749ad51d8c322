"""Who may see which declaration, and in which form (full, or pre-arrival without personal data)."""

from __future__ import annotations

from enum import Enum
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_

from silkgate.declarations.models import Declaration
from silkgate.declarations.schemas import DeclarationStatus, DeclarationType
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


def redact(payload: dict[str, Any], share_driver: bool) -> dict[str, Any]:
    """The pre-arrival form: driver personal data removed unless sharing is configured."""
    if share_driver or "driver" not in payload:
        return payload
    return {k: v for k, v in payload.items() if k != "driver"}
