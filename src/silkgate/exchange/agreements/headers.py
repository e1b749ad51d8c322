"""The request headers a read of another organization's data declares, as a FastAPI dependency.

``Silkgate-Purpose`` (one of the purposes) is required when the answer would include another
organization's data (400 naming ``/headers/silkgate-purpose`` otherwise; an unknown purpose is
422); ``Silkgate-Processing-Place`` (ISO 3166 alpha-2) says where the reader stores and
processes the data, by default its own country.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Header

from silkgate.codelists.countries import is_country
from silkgate.core.errors import FieldError, ValidationFailed
from silkgate.core.http import PROBLEM
from silkgate.exchange.agreements.catalogue import Purpose
from silkgate.exchange.agreements.enforce import (
    PLACE_FIELD,
    PLACE_HEADER,
    PURPOSE_FIELD,
    PURPOSE_HEADER,
    Asking,
)
from silkgate.registry.auth import current_caller
from silkgate.registry.service import Caller

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

#: OpenAPI answers of every read that goes through the policy decision point.
POLICY_PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: {
        "description": f"`{PURPOSE_HEADER}` missing although the answer would include another "
        f"organization's data (field `{PURPOSE_FIELD}`, code `required`; the message lists the "
        "purposes the caller's agreements allow)",
        "content": {PROBLEM: {"schema": _PROBLEM_REF}},
    },
    404: {
        "description": "Not found, or nothing of it is allowed to the caller for this purpose "
        "and place (the two are indistinguishable on purpose)",
        "content": {PROBLEM: {"schema": _PROBLEM_REF}},
    },
    422: {
        "description": f"Unknown `{PURPOSE_HEADER}` or `{PLACE_HEADER}` (field "
        f"`{PURPOSE_FIELD}` or `{PLACE_FIELD}`), or other invalid input",
        "content": {PROBLEM: {"schema": _PROBLEM_REF}},
    },
}


async def asking(
    purpose: Purpose | None = Header(
        default=None,
        alias=PURPOSE_HEADER,
        description="Why the data is read: required for data of another organization (shared "
        "under an agreement); not needed for the caller's own records or those lodged with its "
        "state's customs",
    ),
    place: str | None = Header(
        default=None,
        alias=PLACE_HEADER,
        pattern=r"^[A-Z]{2}$",
        description="ISO 3166 alpha-2 where the caller stores and processes the data; default "
        "its own country. Personal data is withheld outside its country unless an agreement "
        "names it",
    ),
    caller: Caller = Depends(current_caller),
) -> Asking:
    """The caller with its declared purpose and place of processing (``async``: it does no
    I/O, and a plain function would cost every read a hop to the thread pool)."""
    if place is not None and not is_country(place):
        raise ValidationFailed(
            [FieldError(PLACE_FIELD, "unknown_country", f"{place} is not an ISO 3166 country")]
        )
    return Asking(caller, purpose.value if purpose is not None else None, place)
