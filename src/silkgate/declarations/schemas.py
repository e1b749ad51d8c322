"""API shapes of a goods declaration (WCO Data Model subset for road crossings)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints

from silkgate.core.errors import ProblemFieldError
from silkgate.core.text import NoControls
from silkgate.core.times import Utc

#: Heaviest load a road vehicle carries: special-permit heavy haul (transformers, presses)
#: reaches about 200 t; more is not a truck and is refused as an error of entry.
MAX_MASS_KG = 200_000.0
#: Largest amount in any currency: a US$100 million load in Iranian rials is ~5e12; above
#: 1e14 a float also stops holding cents exactly.
MAX_AMOUNT = 1e14
MAX_QUANTITY = 1e9

Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=512), NoControls()
]
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=70), NoControls()
]
#: Free text where line breaks and tabs are allowed (goods descriptions).
Description = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=512),
    NoControls(multiline=True),
]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$"), NoControls()]
#: Numbers are JSON numbers: "12" is refused, not converted (``Strict``).
Mass = Annotated[float, Strict(), Field(gt=0, le=MAX_MASS_KG, allow_inf_nan=False)]
Amount = Annotated[float, Strict(), Field(ge=0, le=MAX_AMOUNT, allow_inf_nan=False)]
Quantity = Annotated[float, Strict(), Field(gt=0, le=MAX_QUANTITY, allow_inf_nan=False)]


def _bounded(min_length: int, max_length: int) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length)


Identifier = Annotated[str, _bounded(1, 40), NoControls()]
CrossingCode = Annotated[str, _bounded(3, 16), NoControls()]
Plate = Annotated[str, _bounded(2, 15), NoControls()]
DocumentNumber = Annotated[str, _bounded(3, 30), NoControls()]
ContainerNumber = Annotated[str, _bounded(11, 13), NoControls()]
Seal = Annotated[str, _bounded(1, 35), NoControls()]
Postcode = Annotated[str, _bounded(0, 17), NoControls()]
TirCarnet = Annotated[str, _bounded(4, 12), NoControls()]
Unit = Annotated[str, _bounded(1, 6), NoControls()]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"), NoControls()]
IncotermCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"), NoControls()]
Lrn = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9\-_/.]{0,34}$"), NoControls()
]
Count = Annotated[int, Strict(), Field(ge=1, le=100_000)]


class DeclarationType(StrEnum):
    EXPORT = "export"
    IMPORT = "import"
    TRANSIT = "transit"


class DeclarationStatus(StrEnum):
    """Lifecycle: submitted → accepted → risk_assessed → at_border → released/held/rejected."""

    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    RISK_ASSESSED = "risk_assessed"
    AT_BORDER = "at_border"
    RELEASED = "released"
    HELD = "held"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Address(_Strict):
    street: Text
    city: ShortText
    postcode: Postcode | None = None
    country: CountryCode


class Party(_Strict):
    """Exporter/consignor or importer/consignee: name, business identifier, country, address."""

    name: Text
    identifier: Identifier
    country: CountryCode
    address: Address


class CrossingRef(_Strict):
    """The crossing used and the direction of travel (exit country to entry country)."""

    code: CrossingCode
    exit_country: CountryCode
    entry_country: CountryCode


class TransportMeans(_Strict):
    """Border transport means: tractor plate and nationality, optional trailer."""

    tractor_plate: Plate
    tractor_nationality: CountryCode
    trailer_plate: Plate | None = None
    trailer_nationality: CountryCode | None = None


class Driver(_Strict):
    """Personal data: does not cross the border unless configured to."""

    name: Text
    document_number: DocumentNumber
    document_country: CountryCode | None = None


class Container(_Strict):
    number: ContainerNumber
    seals: list[Seal] = Field(default=[], max_length=50)


class Invoice(_Strict):
    number: ShortText
    date: dt.date | None = None
    currency: CurrencyCode
    incoterm: IncotermCode
    incoterm_place: ShortText | None = None
    total_amount: Amount


class Packages(_Strict):
    count: Count
    kind: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{2}$"), NoControls()] = Field(
        default="PK", description="UN/ECE Recommendation 21 package code"
    )


class SupplementaryQuantity(_Strict):
    value: Quantity
    unit: Unit


class GoodsItem(_Strict):
    hs_code: Annotated[str, StringConstraints(pattern=r"^[0-9]{6,10}$"), NoControls()]
    description: Description
    origin_country: CountryCode
    packages: Packages
    gross_mass_kg: Mass
    net_mass_kg: Mass
    invoice_value: Amount
    customs_value: Amount
    supplementary_quantity: SupplementaryQuantity | None = None


class Totals(_Strict):
    packages: Annotated[int, Strict(), Field(ge=1, le=99_900_000)]
    gross_mass_kg: Mass


class DeclarationIn(_Strict):
    """A goods declaration as lodged by a declarant (broker, customs-service company, carrier)."""

    lrn: Lrn = Field(description="Local reference number, unique per declarant (max 35 chars).")
    type: DeclarationType
    exporter: Party
    importer: Party
    country_of_export: CountryCode
    country_of_destination: CountryCode
    crossing: CrossingRef
    transport: TransportMeans
    driver: Driver | None = None
    containers: list[Container] = Field(default=[], max_length=10)
    seals: list[Seal] = Field(default=[], max_length=50)
    tir_carnet: TirCarnet | None = None
    invoice: Invoice
    goods_items: list[GoodsItem] = Field(min_length=1, max_length=999)
    totals: Totals


class DeclarationOut(BaseModel):
    """A stored declaration as the caller may see it."""

    id: str
    lrn: str
    version: int
    status: DeclarationStatus
    type: DeclarationType
    declarant: str
    crossing: str
    exit_country: str
    entry_country: str
    submitted_at: Utc
    updated_at: Utc
    pre_arrival: bool = Field(
        default=False, description="True when seen as pre-arrival information by the other side."
    )
    lane: str | None = None
    data: dict[str, Any]


class SharedDeclaration(BaseModel):
    """A declaration of another organization read under agreements: only the fields they allow
    (for the caller's declared purpose and place) are present, everything else is left out."""

    id: str | None = None
    lrn: str | None = None
    version: int | None = None
    status: DeclarationStatus | None = None
    type: DeclarationType | None = None
    declarant: str | None = None
    crossing: str | None = None
    exit_country: str | None = None
    entry_country: str | None = None
    submitted_at: Utc | None = None
    updated_at: Utc | None = None
    pre_arrival: bool | None = Field(
        default=None, description="True when read as pre-arrival information by the other side."
    )
    lane: str | None = None
    data: dict[str, Any] | None = Field(
        default=None, description="The lodged declaration, only the parts allowed."
    )


#: What a declaration read answers: the whole record (owner, lodging customs) or a shared one.
DeclarationView = DeclarationOut | SharedDeclaration


class DeclarationPage(BaseModel):
    items: list[DeclarationOut | SharedDeclaration]
    next_cursor: str | None


class VersionOut(BaseModel):
    version: int
    created_at: Utc
    created_by: str | None = Field(
        default=None, description="Left out when the caller's agreements do not share /declarant."
    )
    payload_digest: str = Field(
        description="SHA-256 of the canonical data as stored; for a read under agreements, of "
        "the data as answered (a digest of withheld parts would let guesses of them be tested)"
    )
    data: dict[str, Any]


class TransitionIn(_Strict):
    """A customs officer's lifecycle step."""

    to: DeclarationStatus
    reason: Annotated[str, _bounded(0, 500), NoControls(multiline=True)] | None = None


class CancelIn(_Strict):
    reason: Annotated[str, _bounded(1, 500), NoControls(multiline=True)]


class BatchLineResult(BaseModel):
    line: int
    lrn: str | None
    outcome: str  # "accepted" | "rejected"
    id: str | None = None
    errors: list[ProblemFieldError] = []


class BatchReport(BaseModel):
    accepted: int
    rejected: int
    lines: list[BatchLineResult]


class AuditEntryOut(BaseModel):
    """An audit entry about a declaration. ``null`` where the reader's decision withholds it:
    the actor (another organization's officers), and for every reader but the owner and the
    lodging customs the digest, hash and signature (they would let withheld data be guessed);
    see ``declarations.history``."""

    model_config = ConfigDict(from_attributes=True)

    seq: int
    at: Utc
    actor: str | None = None
    person: str | None = Field(
        default=None,
        description="The person of the actor organization who acted in the web console; null "
        "for systems (API keys) and for readers of another side",
    )
    action: str
    entity_type: str
    entity_id: str
    payload_digest: str | None = None
    entry_hash: str | None = None
    signature: str | None = None
