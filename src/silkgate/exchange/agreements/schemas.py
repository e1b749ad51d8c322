"""API shapes of agreements: a proposal, a stored version with its signatures, a revocation."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

from silkgate.core.text import NoControls
from silkgate.core.times import Utc
from silkgate.exchange.agreements.catalogue import Category, Purpose

AgreementId = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]{2,79}$"), NoControls()
]
#: A member id (``COUNTRY/CLASS/CODE``) or an ISO alpha-2 code: that state's customs authority.
Party = Annotated[
    str,
    StringConstraints(pattern=r"^([A-Z]{2}|[A-Z]{2}/(GOV|COM)/[A-Za-z0-9\-]{1,40})$"),
    NoControls(),
]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$"), NoControls()]
Pointer = Annotated[str, StringConstraints(max_length=300), NoControls()]
CrossingCode = Annotated[str, StringConstraints(min_length=3, max_length=16), NoControls()]
#: Validity bounds: wide enough for any agreement, far from the calendar's edges (year 1 or
#: 9999 with an offset cannot be converted to UTC).
FIRST_YEAR, LAST_YEAR = 2000, 2999


def _within_years(value: datetime) -> datetime:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise PydanticCustomError(
            "out_of_range", f"must be in the years {FIRST_YEAR} to {LAST_YEAR}"
        )
    return value


#: A validity bound: RFC 3339 with an offset, in the years 2000–2999.
Validity = Annotated[AwareDatetime, AfterValidator(_within_years)]


class AgreementStatus(StrEnum):
    PROPOSED = "proposed"
    ACTIVE = "active"
    SUPERSEDED = "superseded"
    REVOKED = "revoked"


class AgreementIn(BaseModel):
    """Terms proposed by one party; all parties then sign them. With the ``agreement_id`` of an
    existing agreement this is its next version, which supersedes the current one once signed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    agreement_id: AgreementId | None = None
    provider: Party
    consumers: list[Party] = Field(min_length=1, max_length=50)
    category: Category
    fields: list[Pointer] = Field(min_length=1, max_length=500)
    purposes: list[Purpose] = Field(min_length=1, max_length=len(Purpose))
    places: list[CountryCode] = Field(
        min_length=1, max_length=60, description="Where the data may be stored and processed"
    )
    crossings: list[CrossingCode] = Field(
        default_factory=list, max_length=50, description="Empty: every crossing"
    )
    valid_from: Validity
    valid_until: Validity | None = None
    condition: Annotated[str, NoControls(multiline=True)] | None = Field(
        default=None, max_length=4000, description="CEL; see docs/exchange.md for its variables"
    )
    personal_data: bool = Field(
        default=False, description="True to share the personal-data fields it names (drivers)"
    )


class SignatureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    signature: Annotated[str, StringConstraints(min_length=20, max_length=100)] = Field(
        description="Base64 Ed25519 signature of `signing_input` with the caller's registered key"
    )


class RevokeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: Annotated[str, StringConstraints(min_length=3, max_length=500), NoControls()]


class SignatureOut(BaseModel):
    party: str
    signer: str
    key_id: str
    signature: str
    signed_at: Utc


class AgreementOut(BaseModel):
    """One version of an agreement, with its signatures; ``signing_input`` is what parties sign."""

    agreement_id: str
    version: int
    status: AgreementStatus
    in_force: bool = Field(description="active and within its validity period now")
    provider: str
    consumers: list[str]
    category: Category
    fields: list[str]
    personal_fields: list[str]
    purposes: list[str]
    places: list[str]
    crossings: list[str]
    valid_from: Utc
    valid_until: Utc | None
    condition: str | None
    personal_data: bool
    builtin: bool
    terms_digest: str
    signing_input: str = Field(description="canonical JSON of the terms (UTF-8) to sign")
    awaiting: list[str] = Field(description="parties that have not signed yet")
    proposed_by: str
    proposed_at: Utc
    activated_at: Utc | None
    ended_at: Utc | None
    ended_by: str | None
    end_reason: str | None
    signatures: list[SignatureOut]


class AgreementHistory(BaseModel):
    agreement_id: str
    versions: list[AgreementOut]


class CategoryOut(BaseModel):
    category: Category
    document: str
    authority_roles: list[str]
    fields: list[str]
    personal_fields: list[str]
