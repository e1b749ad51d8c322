"""API shapes of the registry."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from silkgate.core.text import NoControls
from silkgate.core.times import Utc


class Role(StrEnum):
    """What an organization does at the border; decides which operations it may call."""

    CUSTOMS = "customs"
    E_PORT = "e-port"
    CUSTOMS_SERVICE = "customs-service"
    CARRIER = "carrier"
    BROKER = "broker"
    ANALYST = "analyst"
    ADMIN = "admin"


DECLARANT_ROLES = frozenset({Role.BROKER, Role.CUSTOMS_SERVICE, Role.CARRIER, Role.E_PORT})


class OrganizationCreate(BaseModel):
    """A new member organization."""

    model_config = ConfigDict(extra="forbid")

    member_id: Annotated[str, NoControls()] = Field(
        min_length=5, max_length=80, description="COUNTRY/CLASS/CODE, e.g. KZ/COM/180240000039"
    )
    name: Annotated[str, StringConstraints(strip_whitespace=True), NoControls()] = Field(
        min_length=1, max_length=200
    )
    roles: list[Role] = Field(min_length=1, max_length=len(Role))
    signing_public_key: Annotated[str, NoControls()] | None = Field(
        default=None, max_length=64, description="Base64 raw Ed25519 public key (32 bytes)."
    )
    crossings: list[Annotated[str, NoControls(), StringConstraints(max_length=16)]] = Field(
        default_factory=list, max_length=20, description="Crossings served (customs)."
    )


class OrganizationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    member_id: str
    country: str
    member_class: str
    code: str
    name: str
    roles: list[str]
    signing_public_key: str | None
    active: bool
    created_at: Utc
    crossings: list[str] = []


class ApiKeyOut(BaseModel):
    """An API key's public facts (never the secret)."""

    model_config = ConfigDict(from_attributes=True)

    prefix: str
    label: str
    created_at: Utc
    last_used_at: Utc | None
    revoked_at: Utc | None


class IssuedApiKey(ApiKeyOut):
    """Returned once at creation: ``token`` is the only copy of the secret."""

    token: str
    member_id: str


class CrossingOut(BaseModel):
    code: str
    name_en: str
    countries: list[str]
    data: dict[str, object]


class MemberStateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    alpha2: str
    alpha3: str
    name_en: str
    name_zh: str
    name_ru: str
    name_kk: str
