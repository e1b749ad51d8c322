"""Reference code lists and identifier validators (loaded lazily, cached).

Names below are re-exported on first access, so `import silkgate.codelists` loads neither
pycountry, python-stdnum nor any data file.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from silkgate.codelists.countries import country_name, is_country
    from silkgate.codelists.crossings import Crossing, get_crossing, load_crossings
    from silkgate.codelists.currencies import is_currency
    from silkgate.codelists.hs import (
        HsError,
        all_subheadings,
        check_hs,
        hs_chapter,
        hs_description,
        is_valid_hs,
    )
    from silkgate.codelists.identifiers import (
        IdentifierError,
        is_valid_kz_bin,
        validate_business_id,
        validate_container_number,
        validate_kz_bin,
        validate_plate,
        validate_tir_carnet,
    )
    from silkgate.codelists.incoterms import INCOTERMS, is_incoterm
    from silkgate.codelists.sco import MemberState, member_states

_EXPORTS = {
    "country_name": "countries",
    "is_country": "countries",
    "Crossing": "crossings",
    "get_crossing": "crossings",
    "load_crossings": "crossings",
    "is_currency": "currencies",
    "HsError": "hs",
    "all_subheadings": "hs",
    "check_hs": "hs",
    "hs_chapter": "hs",
    "hs_description": "hs",
    "is_valid_hs": "hs",
    "IdentifierError": "identifiers",
    "is_valid_kz_bin": "identifiers",
    "validate_business_id": "identifiers",
    "validate_container_number": "identifiers",
    "validate_kz_bin": "identifiers",
    "validate_plate": "identifiers",
    "validate_tir_carnet": "identifiers",
    "INCOTERMS": "incoterms",
    "is_incoterm": "incoterms",
    "MemberState": "sco",
    "member_states": "sco",
}
__all__ = [
    "INCOTERMS",
    "Crossing",
    "HsError",
    "IdentifierError",
    "MemberState",
    "all_subheadings",
    "check_hs",
    "country_name",
    "get_crossing",
    "hs_chapter",
    "hs_description",
    "is_country",
    "is_currency",
    "is_incoterm",
    "is_valid_hs",
    "is_valid_kz_bin",
    "load_crossings",
    "member_states",
    "validate_business_id",
    "validate_container_number",
    "validate_kz_bin",
    "validate_plate",
    "validate_tir_carnet",
]


def __getattr__(name: str) -> Any:
    # Import the defining submodule only when one of its names is first used.
    if name in _EXPORTS:
        return getattr(import_module(f"silkgate.codelists.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'silkgate.codelists' has no attribute {name!r}")


def __dir__() -> list[str]:
    return list(__all__)
