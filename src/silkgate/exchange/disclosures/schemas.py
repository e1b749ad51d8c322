"""API shapes of the disclosure log and the personal-data transfer counts."""

from __future__ import annotations

from pydantic import BaseModel, Field

from silkgate.core.times import Utc
from silkgate.exchange.agreements.catalogue import Category


class AgreementRef(BaseModel):
    agreement_id: str
    version: int


class DisclosureOut(BaseModel):
    """One record of the provider's disclosed to a consumer, and on what basis."""

    id: int
    at: Utc
    request_id: str = Field(description="the records disclosed by one request share it")
    channel: str = Field(description="read (an API or CLI read) or delivery")
    consumer: str = Field(description="member id of the organization that received it")
    category: Category
    record_id: str
    owner: str = Field(description="member id of the organization that made the record")
    authority: str = Field(description="alpha-2 of the state the record is lodged with")
    basis: str = Field(description="agreement, or party (the record names the consumer)")
    purpose: str | None = Field(description="the purpose the consumer declared")
    place: str = Field(description="alpha-2 where the consumer processes it")
    agreements: list[AgreementRef]
    fields: list[str] = Field(description="JSON pointers the answer was allowed to carry")
    personal: bool = Field(description="personal data was among the fields allowed")


class DisclosurePage(BaseModel):
    items: list[DisclosureOut]
    next_cursor: str | None


class PersonalTransferCount(BaseModel):
    """Distinct persons whose personal data crossed a border under an agreement in a year."""

    agreement_id: str
    year: int
    persons: int
    origins: list[str] = Field(description="countries the data left")
    places: list[str] = Field(description="countries it was processed in")
