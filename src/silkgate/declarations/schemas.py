"""API shapes of a goods declaration (WCO Data Model subset for road crossings)."""

from __future__ import annotations

import datetime as dt
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=512)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=70)]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Mass = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Amount = Annotated[float, Field(ge=0, allow_inf_nan=False)]


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
    postcode: Annotated[str, StringConstraints(max_length=17)] | None = None
    country: CountryCode


class Party(_Strict):
    """Exporter/consignor or importer/consignee: name, business identifier, country, address."""

    name: Text
    identifier: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    country: CountryCode
    address: Address


class CrossingRef(_Strict):
    """The crossing used and the direction of travel (exit country to entry country)."""

    code: Annotated[str, StringConstraints(min_length=3, max_length=16)]
    exit_country: CountryCode
    entry_country: CountryCode


class TransportMeans(_Strict):
    """Border transport means: tractor plate and nationality, optional trailer."""

    tractor_plate: Annotated[str, StringConstraints(min_length=2, max_length=15)]
    tractor_nationality: CountryCode
    trailer_plate: Annotated[str, StringConstraints(min_length=2, max_length=15)] | None = None
    trailer_nationality: CountryCode | None = None


class Driver(_Strict):
    """Personal data: does not cross the border unless configured to."""

    name: Text
    document_number: Annotated[str, StringConstraints(min_length=3, max_length=30)]
    document_country: CountryCode | None = None


class Container(_Strict):
    number: Annotated[str, StringConstraints(min_length=11, max_length=13)]
    seals: list[Annotated[str, StringConstraints(min_length=1, max_length=35)]] = []


class Invoice(_Strict):
    number: ShortText
    date: dt.date | None = None
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    incoterm: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    incoterm_place: ShortText | None = None
    total_amount: Amount


class Packages(_Strict):
    count: Annotated[int, Field(ge=1, le=100_000)]
    kind: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{2}$")] = Field(
        default="PK", description="UN/ECE Recommendation 21 package code"
    )


class SupplementaryQuantity(_Strict):
    value: Mass
    unit: Annotated[str, StringConstraints(min_length=1, max_length=6)]


class GoodsItem(_Strict):
    hs_code: Annotated[str, StringConstraints(pattern=r"^\d{6,10}$")]
    description: Text
    origin_country: CountryCode
    packages: Packages
    gross_mass_kg: Mass
    net_mass_kg: Mass
    invoice_value: Amount
    customs_value: Amount
    supplementary_quantity: SupplementaryQuantity | None = None


class Totals(_Strict):
    packages: Annotated[int, Field(ge=1)]
    gross_mass_kg: Mass


class DeclarationIn(_Strict):
    """A goods declaration as lodged by a declarant (broker, customs-service company, carrier)."""

    lrn: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9\-_/.]{0,34}$")] = Field(
        description="Local reference number, unique per declarant (max 35 chars)."
    )
    type: DeclarationType
    exporter: Party
    importer: Party
    country_of_export: CountryCode
    country_of_destination: CountryCode
    crossing: CrossingRef
    transport: TransportMeans
    driver: Driver | None = None
    containers: list[Container] = Field(default=[], max_length=10)
    seals: list[Annotated[str, StringConstraints(min_length=1, max_length=35)]] = Field(
        default=[], max_length=50
    )
    tir_carnet: Annotated[str, StringConstraints(min_length=4, max_length=12)] | None = None
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
    submitted_at: datetime
    updated_at: datetime
    pre_arrival: bool = Field(
        default=False, description="True when seen as pre-arrival information by the other side."
    )
    lane: str | None = None
    data: dict[str, Any]


class DeclarationPage(BaseModel):
    items: list[DeclarationOut]
    next_cursor: str | None


class VersionOut(BaseModel):
    version: int
    created_at: datetime
    created_by: str
    payload_digest: str
    data: dict[str, Any]


class TransitionIn(_Strict):
    """A customs officer's lifecycle step."""

    to: DeclarationStatus
    reason: Annotated[str, StringConstraints(max_length=500)] | None = None


class CancelIn(_Strict):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)]


class BatchLineResult(BaseModel):
    line: int
    lrn: str | None
    outcome: str  # "accepted" | "rejected"
    id: str | None = None
    errors: list[dict[str, str]] = []


class BatchReport(BaseModel):
    accepted: int
    rejected: int
    lines: list[BatchLineResult]


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    payload_digest: str
    entry_hash: str
    signature: str
