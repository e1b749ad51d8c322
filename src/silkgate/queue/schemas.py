"""API shapes of the e-queue: caps, bookings, reschedules and the public queue figures."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from silkgate.codelists.identifiers import IdentifierError, validate_plate
from silkgate.core.text import NoControls
from silkgate.core.times import Utc

CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Plate = Annotated[str, StringConstraints(min_length=2, max_length=15), NoControls()]
Name = Annotated[str, StringConstraints(min_length=1, max_length=120), NoControls()]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=500), NoControls(multiline=True)]
CrossingCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}-[A-Z]{3}$")]
Count = Annotated[int, Strict(), Field(ge=0, le=100_000)]
Share = Annotated[float, Strict(), Field(ge=0, le=1, allow_inf_nan=False)]
Vin = Annotated[str, StringConstraints(pattern=r"^[A-HJ-NPR-Z0-9]{17}$")]
Ref = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9\-_/.]{0,39}$")]
DeclarationId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{22}$")]


class QuotaClass(StrEnum):
    """Priority classes with their own share of each hour; ``live`` is the walk-in share."""

    REGULAR = "regular"
    PERISHABLES = "perishables"
    LIVE_ANIMALS = "live_animals"
    DANGEROUS_GOODS = "dangerous_goods"
    HUMANITARIAN = "humanitarian"
    AEO_TIR = "aeo_tir"
    LIVE = "live"


PRIORITY_CLASSES = tuple(q for q in QuotaClass if q not in (QuotaClass.REGULAR, QuotaClass.LIVE))


class BookingStatus(StrEnum):
    """confirmed → called → arrived → in_checkpoint → exited; or late, no_show, cancelled,
    expired."""

    CONFIRMED = "confirmed"
    LATE = "late"
    CALLED = "called"
    ARRIVED = "arrived"
    IN_CHECKPOINT = "in_checkpoint"
    EXITED = "exited"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CapIn(_Strict):
    """One side's daily cap for a direction, in force from ``valid_from``."""

    crossing: CrossingCode
    exit_country: CountryCode
    entry_country: CountryCode
    valid_from: dt.date
    daily_cap: Count
    hourly_profile: (
        list[Annotated[float, Strict(), Field(ge=0, le=1e6, allow_inf_nan=False)]] | None
    ) = Field(
        default=None,
        min_length=24,
        max_length=24,
        description="Relative weight of each local hour 0–23 (closed hours get none anyway).",
    )
    quotas: dict[QuotaClass, Share] = Field(
        default_factory=dict, description="Share of the day per priority class."
    )
    live_share: Share = 0.0

    @model_validator(mode="after")
    def _shares(self) -> CapIn:
        if QuotaClass.REGULAR in self.quotas or QuotaClass.LIVE in self.quotas:
            raise ValueError(
                "quotas name priority classes; regular is the rest, live is live_share"
            )
        if sum(self.quotas.values()) + self.live_share > 1.0 + 1e-9:
            raise ValueError("priority quotas and live_share add up to more than 1")
        if self.hourly_profile is not None and sum(self.hourly_profile) <= 0:
            raise ValueError("hourly_profile needs at least one positive weight")
        return self


class CapOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    crossing_code: str
    exit_country: str
    entry_country: str
    side: str
    version: int
    valid_from: dt.date
    daily_cap: int
    hourly_profile: list[float] | None
    quotas: dict[str, float]
    live_share: float
    set_by: str
    set_at: Utc


class CapChange(BaseModel):
    """A stored cap and what it did to already planned days."""

    cap: CapOut
    replanned_days: list[dt.date]
    displaced_bookings: list[str]


class Truck(_Strict):
    """Tractor and trailer plates (checked in their country's format) and the tractor's VIN."""

    tractor_nationality: CountryCode
    tractor_plate: Plate
    trailer_nationality: CountryCode | None = None
    trailer_plate: Plate | None = None
    vin: Vin

    @field_validator("tractor_plate", "trailer_plate")
    @classmethod
    def _plate(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        name = (info.field_name or "tractor_plate").replace("plate", "nationality")
        country = info.data.get(name) or info.data.get("tractor_nationality")
        if not country:
            return value
        try:
            return validate_plate(country, value)
        except IdentifierError as exc:
            raise ValueError(str(exc)) from None


class DriverIn(_Strict):
    """Personal data: shown to the exit side only (and the booking party)."""

    name: Name
    document_number: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{3,30}$")]
    document_country: CountryCode | None = None


class SlotRef(_Strict):
    """A slot by the crossing's local day and hour (see ``SILKGATE_QUEUE_UTC_OFFSET_HOURS``)."""

    day: dt.date
    hour: Annotated[int, Strict(), Field(ge=0, le=23)]


class Evidence(_Strict):
    """What backs a priority class (see docs/queue.md for the rule of each class)."""

    un_numbers: list[Annotated[str, StringConstraints(pattern=r"^UN\d{4}$")]] = Field(
        default_factory=list, max_length=20
    )
    adr_certificate: Ref | None = None
    humanitarian_reference: Ref | None = None
    aeo_certificate: Ref | None = None


class BookingIn(_Strict):
    crossing: CrossingCode
    exit_country: CountryCode
    entry_country: CountryCode
    slot: SlotRef
    quota_class: QuotaClass = QuotaClass.REGULAR
    evidence: Evidence | None = None
    truck: Truck
    driver: DriverIn
    declaration_ids: list[DeclarationId] = Field(min_length=1, max_length=10)


class RescheduleIn(_Strict):
    slot: SlotRef


class CancelIn(_Strict):
    reason: Reason


class BookingOut(BaseModel):
    """A booking as the caller may see it; ``driver`` is None when withheld from this side."""

    id: str
    organization: str
    crossing: str
    exit_country: str
    entry_country: str
    day: dt.date
    hour: int
    starts_at: Utc
    quota_class: str
    status: str
    truck: dict[str, Any]
    driver: dict[str, Any] | None
    driver_withheld: bool = False
    declaration_ids: list[str]
    reschedules: int
    displaced: bool
    created_at: Utc
    updated_at: Utc


class SharedBooking(BaseModel):
    """A booking of another organization read under agreements: only the fields they allow
    (for the caller's declared purpose and place) are present, everything else is left out."""

    id: str | None = None
    organization: str | None = None
    crossing: str | None = None
    exit_country: str | None = None
    entry_country: str | None = None
    day: dt.date | None = None
    hour: int | None = None
    starts_at: Utc | None = None
    quota_class: str | None = None
    status: str | None = None
    truck: dict[str, Any] | None = None
    driver: dict[str, Any] | None = None
    driver_withheld: bool | None = None
    declaration_ids: list[str] | None = None
    reschedules: int | None = None
    displaced: bool | None = None
    created_at: Utc | None = None
    updated_at: Utc | None = None


#: What a booking read answers: the whole booking (or all but the driver), or a shared part.
BookingView = BookingOut | SharedBooking


class BookingPage(BaseModel):
    items: list[BookingOut | SharedBooking]
    next_cursor: str | None


class DepositEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    booking_id: str
    kind: str
    amount: int
    unit: str
    reason: str
    at: Utc


class SweepReport(BaseModel):
    no_shows: list[str]
    expired: list[str]
    forfeited: list[str]


class HourFigures(BaseModel):
    hour: int
    capacity: int
    booked: int


class DirectionFigures(BaseModel):
    """Aggregates only: no plates, no names."""

    exit_country: str
    entry_country: str
    planned: bool
    daily_cap: int | None
    bookable: int
    booked: int
    live_capacity: int
    by_class: dict[str, dict[str, int]]
    by_hour: list[HourFigures]
    walk_ins: int = Field(default=0, description="Places of the live share taken by walk-ins.")
    waiting: int | None = Field(
        default=None,
        description="Trucks checked in at the waiting area, not yet called (today only).",
    )
    estimated_wait_minutes: float | None = Field(
        default=None,
        description="Minutes to call every truck now waiting (today only); see estimate_basis.",
    )
    estimate_basis: str | None = Field(
        default=None,
        description="call_rate (calls in the recent window) or slot_capacity (this hour's "
        "planned places), or null when neither gives a rate.",
    )


class PublicQueue(BaseModel):
    crossing: str
    day: dt.date
    utc_offset_hours: int
    directions: list[DirectionFigures]


class StageIn(_Strict):
    """The border stage's concurrent capacity (trucks between call-forward and exit gate)."""

    crossing: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}-[A-Z]{3}$")]
    exit_country: CountryCode
    entry_country: CountryCode
    capacity: Annotated[int, Field(ge=0, le=1000)]


class StageOut(BaseModel):
    crossing: str
    exit_country: str
    entry_country: str
    side: str
    capacity: int
    occupied: int
    waiting: int
    called: list[str] = Field(description="Bookings called forward by this change")


def _plausible(value: dt.datetime) -> dt.datetime:
    """Years 2000–2999: far from the calendar's edges, where a zone's offset cannot be
    converted to UTC (year 1 in Asia/Almaty overflows)."""
    if not 2000 <= value.year <= 2999:
        raise PydanticCustomError("out_of_range", "must be in the years 2000 to 2999")
    return value


#: A reported time with its offset, in the years 2000–2999.
Moment = Annotated[AwareDatetime, AfterValidator(_plausible)]


class ArrivalIn(_Strict):
    """When the truck reached the stage; default: now."""

    at: Moment | None = None


class QueuePosition(BaseModel):
    """Where a checked-in truck stands: ``position`` 1 is called next."""

    booking_id: str
    state: str
    position: int | None
    called_at: dt.datetime | None
    estimated_call_at: dt.datetime | None
    calls_per_hour: float


class WalkInTruck(Truck):
    """A walk-in's tractor (and trailer); the VIN only if the official read it."""

    vin: Vin | None = None  # type: ignore[assignment]


class WalkInIn(_Strict):
    """A truck without a booking at the waiting area, registered by an exit-side official."""

    crossing: CrossingCode
    exit_country: CountryCode
    entry_country: CountryCode
    truck: WalkInTruck
    declaration_ids: list[DeclarationId] = Field(default_factory=list, max_length=10)
    at: Moment | None = Field(default=None, description="Arrival; default now.")


class WalkInOut(BaseModel):
    """The walk-in's queue entry (a live-class booking row) and where it stands."""

    booking: BookingOut
    position: QueuePosition
    called: list[str] = Field(description="Bookings called forward by this check-in")
