"""Exchange API shapes: subscriptions, deliveries, the signing key receivers verify with."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

Topic = Annotated[str, StringConstraints(pattern=r"^(\*|[a-z][a-z0-9_]*(\.[a-z0-9_]+)*)$")]


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: Annotated[str, StringConstraints(min_length=8, max_length=500)]
    topics: list[Topic] = Field(default_factory=lambda: ["*"], min_length=1, max_length=50)

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http or https URL")
        if parts.username or parts.password:
            raise ValueError("must not carry credentials")
        return v


class SubscriptionOut(BaseModel):
    id: int
    url: str
    topics: list[str]
    active: bool
    created_by: str
    created_at: datetime


class DeliveryOut(BaseModel):
    id: int
    message_id: str
    topic: str
    subscription_id: int
    url: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime


class MessageOut(BaseModel):
    """What a webhook body and an SSE ``data:`` line carry."""

    id: str
    seq: int
    topic: str
    organization: str
    created_at: datetime
    data: dict[str, Any]


class SigningKeyOut(BaseModel):
    key_id: str
    algorithm: str = "Ed25519"
    public_key: str = Field(description="Raw 32-byte public key, base64")
    signed_content: str = "<Silkgate-Timestamp>.<raw request body>"


class DeliverReport(BaseModel):
    delivered: int
    retried: int
    dead: int


class PruneReport(BaseModel):
    """What an outbox prune removed: messages created before ``before`` with nothing pending."""

    before: datetime
    messages: int
    deliveries: int
    through_seq: int | None = Field(description="Highest sequence number removed")
