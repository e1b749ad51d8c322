"""The CLI's counterpart of the purpose and place headers: ``--purpose`` and ``--place``."""

from __future__ import annotations

from typing import Annotated

import typer

from silkgate.codelists.countries import is_country
from silkgate.core.errors import FieldError, ValidationFailed
from silkgate.core.platform import Platform
from silkgate.exchange.agreements.catalogue import Purpose
from silkgate.exchange.agreements.enforce import Asking
from silkgate.registry.service import caller_for

PurposeOpt = Annotated[
    Purpose | None,
    typer.Option(
        "--purpose",
        help="Why the data is read (as the Silkgate-Purpose header): required for data of "
        "another organization shared under an agreement.",
    ),
]
PlaceOpt = Annotated[
    str | None,
    typer.Option(
        "--place",
        help="ISO 3166 alpha-2 where the data is processed (Silkgate-Processing-Place); "
        "default the organization's country.",
    ),
]


def asking_for(
    platform: Platform, member_id: str, purpose: Purpose | None, place: str | None
) -> Asking:
    """The organization acting, with the purpose and place it declares."""
    if place is not None and not is_country(place):
        raise ValidationFailed(
            [FieldError("--place", "unknown_country", f"{place} is not an ISO 3166 country")]
        )
    caller = caller_for(platform, member_id)
    return Asking(caller, purpose.value if purpose is not None else None, place)
