"""API shapes of the registry."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


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

    member_id: str = Field(
        min_length=5, max_length=80, description="COUNTRY/CLASS/CODE, e.g. KZ/COM/180240000039"
    )
    name: str = Field(min_length=1, max_length=200)
    roles: list[Role] = Field(min_length=1)
    signing_public_key: str | None = Field(
        default=None, description="Base64 raw Ed25519 public key (32 bytes)."
    )
    crossings: list[str] = Field(default_factory=list, description="Crossings served (customs).")


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
    created_at: datetime
    crossings: list[str] = []


class ApiKeyOut(BaseModel):
    """An API key's public facts (never the secret)."""

    model_config = ConfigDict(from_attributes=True)

    prefix: str
    label: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


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
