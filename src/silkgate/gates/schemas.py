"""API shapes of gate events (EPCIS 2.0 names), timelines and KPI reports."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from silkgate.codelists.identifiers import PLATES
from silkgate.core.times import Utc


class ReadPoint(StrEnum):
    """The checkpoint stage an event happened at (controlled vocabulary)."""

    WAITING_AREA = "waiting_area"
    CALLED_FORWARD = "called_forward"
    GATE_IN = "gate_in"
    DOCUMENT_CONTROL_START = "document_control_start"
    DOCUMENT_CONTROL_END = "document_control_end"
    WEIGHING = "weighing"
    SCANNING = "scanning"
    PHYSICAL_INSPECTION_START = "physical_inspection_start"
    PHYSICAL_INSPECTION_END = "physical_inspection_end"
    EXIT_GATE = "exit_gate"
    NEUTRAL_ZONE = "neutral_zone"
    ENTRY_GATE_IN = "entry_gate_in"
    ENTRY_CONTROLS = "entry_controls"
    RELEASE = "release"
    REFUSAL = "refusal"


class BizStep(StrEnum):
    """GS1 CBV business steps used at a border checkpoint."""

    ARRIVING = "arriving"
    INSPECTING = "inspecting"
    HOLDING = "holding"
    DEPARTING = "departing"
    ACCEPTING = "accepting"
    LOADING = "loading"
    UNLOADING = "unloading"


class Disposition(StrEnum):
    """GS1 CBV dispositions used for scan and inspection results."""

    CONFORMANT = "conformant"
    NON_CONFORMANT = "non_conformant"
    IN_PROGRESS = "in_progress"
    ACTIVE = "active"


class RefType(StrEnum):
    DECLARATION = "declaration"
    BOOKING = "booking"


Code = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Plate = Annotated[str, StringConstraints(min_length=2, max_length=15)]
ASCII_PLATE = re.compile(r"[A-Z0-9]{2,15}")
#: A plate in a URL path: Latin capitals and digits, or a Chinese plate (province character first).
PLATE_PATH = rf"^(?:[A-Z0-9]{{2,15}}|{PLATES['CN'].pattern})$"
EventId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class Truck(_Strict):
    """The tractor unit: nationality and plate (no driver data, no VIN)."""

    nationality: Code
    plate: Plate

    @field_validator("plate")
    @classmethod
    def _plate(cls, v: str, info: ValidationInfo) -> str:
        """Latin capitals and digits; a Chinese plate as bookings store it (新F12345)."""
        if ASCII_PLATE.fullmatch(v):
            return v
        if info.data.get("nationality") == "CN" and PLATES["CN"].fullmatch(v):
            return v
        raise ValueError("a plate is 2-15 capital letters or digits, or a Chinese plate (新F12345)")


class BizTransaction(_Strict):
    type: RefType
    bizTransaction: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9\-_.:/]{1,64}$")]


class GateEventIn(_Strict):
    """One gate event as signed by the reporting organization."""

    eventTime: datetime = Field(
        description="ISO 8601 with its offset, e.g. 2025-11-10T08:15:00+08:00"
    )
    bizStep: BizStep
    readPoint: ReadPoint
    crossing: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9\-]{3,16}$")]
    side: Code = Field(description="ISO 3166 alpha-2 country of the checkpoint side.")
    truck: Truck
    disposition: Disposition | None = None
    bizTransactionList: list[BizTransaction] = Field(default=[], max_length=20)
    corrects: EventId | None = Field(
        default=None, description="Id of the event this one corrects (EPCIS error declaration)."
    )

    @field_validator("eventTime")
    @classmethod
    def _needs_offset(cls, v: datetime) -> datetime:
        if v.tzinfo is None or v.utcoffset() is None:
            raise ValueError("eventTime needs its offset, e.g. +08:00")
        return v


class SignedGateEvent(_Strict):
    """The event and a detached Ed25519 signature over its canonical JSON (base64)."""

    event: dict[str, Any]
    signature: Annotated[str, StringConstraints(min_length=1, max_length=100)]


class IngestLine(BaseModel):
    line: int
    status: str  # stored, replayed or rejected
    eventId: str | None = None
    errors: list[dict[str, str]] = []


class IngestReport(BaseModel):
    stored: int
    replayed: int
    rejected: int
    lines: list[IngestLine]


class TimelineEntry(BaseModel):
    """One thing that happened to the consignment, in time order."""

    at: Utc
    kind: str  # gate_event, declaration, booking
    what: str
    side: str | None = None
    detail: dict[str, Any] = {}
    minutes_to_next: float | None = None


class Timeline(BaseModel):
    subject: str
    lane: str | None = None
    entries: list[TimelineEntry]
    intervals_min: dict[str, float]
