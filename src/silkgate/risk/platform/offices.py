"""Which customs office assesses a declaration, and which callers act for an office.

A declaration is assessed by the customs office of the side it is lodged with (the exit side for
export and transit, the entry side for import; see ``declarations.access.lodged_with``). Profiles
are kept per office and **direction**, the direction being the declaration type (``import``,
``export``, ``transit``): at one office the type fixes the direction of travel.
"""

from __future__ import annotations

from functools import cache

from silkgate.codelists.crossings import get_crossing, load_crossings
from silkgate.core.errors import Forbidden, NotFound
from silkgate.declarations import access
from silkgate.declarations.access import View
from silkgate.declarations.models import Declaration
from silkgate.registry.schemas import Role
from silkgate.registry.service import Caller


@cache
def offices() -> dict[str, tuple[str, str]]:
    """Office code → (crossing code, country) for every side of every shipped crossing."""
    return {
        side.office.code: (crossing.code, side.country)
        for crossing in load_crossings()
        for side in crossing.sides
    }


def office_for(crossing_code: str, country: str) -> str:
    """The customs office of ``country`` at the crossing, e.g. ``CN-KHORGOS``."""
    return get_crossing(crossing_code).office_for(country).code


def lodging_office(decl: Declaration) -> str:
    """The office that assesses this declaration."""
    return office_for(decl.crossing_code, access.lodged_with(decl))


def offices_of(caller: Caller) -> frozenset[str]:
    """Offices a caller acts for: its country's side of each crossing it is assigned to."""
    if not caller.has(Role.CUSTOMS):
        return frozenset()
    out = set()
    for code in caller.crossings:
        try:
            out.add(office_for(code, caller.country))
        except KeyError:
            continue
    return frozenset(out)


def require_office(caller: Caller, office: str) -> None:
    """NotFound for an unknown office, Forbidden unless the caller is that office's customs."""
    if office not in offices():
        raise NotFound(f"customs office {office}")
    if office not in offices_of(caller):
        raise Forbidden(f"only customs of {office} manage its selectivity profiles")


def is_lodging_customs(caller: Caller, decl: Declaration, view: View) -> bool:
    """True for customs of the side the declaration is lodged with (not the declarant)."""
    return (
        view is View.FULL
        and caller.has(Role.CUSTOMS)
        and decl.crossing_code in caller.crossings
        and access.lodged_with(decl) == caller.country
    )
