"""Exchange API shapes: subscriptions, deliveries, the signing key receivers verify with."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from silkgate.core.times import Utc
from silkgate.exchange.agreements.catalogue import Category, Purpose

Topic = Annotated[str, StringConstraints(pattern=r"^(\*|[a-z][a-z0-9_]*(\.[a-z0-9_]+)*)$")]


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


class SubscriptionIn(BaseModel):
    """A webhook (``url``) or a pull subscription (no ``url``: read ``GET /exchange/feed``).

    Either raw ``topics`` (default ``*``), or data ``categories`` under the agreement
    ``agreement_id`` the caller is a consumer of, used for ``purpose`` and processed at
    ``place`` (default: the caller's country): every message is decided for them as a read."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: Annotated[str, StringConstraints(min_length=8, max_length=500)] | None = None
    topics: list[Topic] | None = Field(default=None, min_length=1, max_length=50)
    agreement_id: Annotated[str, StringConstraints(min_length=1, max_length=80)] | None = None
    categories: list[Category] | None = Field(default=None, min_length=1, max_length=9)
    purpose: Purpose | None = None
    place: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        from urllib.parse import urlsplit

        if v is None:
            return v

        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http or https URL")
        if parts.username or parts.password:
            raise ValueError("must not carry credentials")
        return v


class SubscriptionOut(BaseModel):
    id: int
    kind: str = Field(description="webhook, or pull (read GET /exchange/feed)")
    url: str | None
    topics: list[str]
    agreement_id: str | None = None
    categories: list[str] | None = None
    purpose: str | None = None
    place: str | None = None
    active: bool
    created_by: str
    created_at: Utc


class SubscriptionStatus(BaseModel):
    """Delivery state of one subscription (times UTC; ages in seconds at ``as_of``)."""

    subscription: SubscriptionOut
    as_of: Utc
    undelivered: int = Field(
        description="webhook: pending deliveries; pull: messages after the acknowledged position"
    )
    oldest_undelivered_at: Utc | None
    lag_seconds: float | None = Field(description="age of the oldest undelivered message")
    delivered: int = Field(
        description="webhook: deliveries answered 2xx; pull: messages acknowledged"
    )
    failures: int = Field(
        description="failed tries (non-2xx, timeout, refused) over all deliveries"
    )
    failing: int = Field(description="pending deliveries whose last try failed")
    dead: int
    last_error: str | None
    last_success_at: Utc | None
    position: int | None = Field(default=None, description="pull: acknowledged sequence number")


class FeedPage(BaseModel):
    """The caller's messages after a cursor; pass ``next_cursor`` to resume."""

    messages: list[MessageOut]
    next_cursor: str


class DeliveryOut(BaseModel):
    id: int
    message_id: str
    topic: str
    subscription_id: int
    url: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: Utc | None
    last_error: str | None
    delivered_at: Utc | None
    created_at: Utc


class MessageOut(BaseModel):
    """What a webhook body and an SSE ``data:`` line carry."""

    id: str
    seq: int
    topic: str
    organization: str
    created_at: Utc
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

    before: Utc
    messages: int
    deliveries: int
    through_seq: int | None = Field(description="Highest sequence number removed")
