"""Exchange tables: outbox messages, webhook subscriptions and one delivery row per pair."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from silkgate.core.db import Base


class OutboxMessage(Base):
    """A message for one organization, written in the transaction of the change it reports.

    ``id`` orders the stream (the SSE event id); ``message_id`` is the idempotent id the
    receiver deduplicates on: the same ``message_id`` for an organization is stored once.
    """

    __tablename__ = "exchange_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(80))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    topic: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: the agreement a category message was written under (None: not under an agreement)
    agreement_id: Mapped[str | None] = mapped_column(String(80), nullable=True)

    __table_args__ = (
        UniqueConstraint("organization_id", "message_id"),
        Index("ix_exchange_outbox_org_id", "organization_id", "id"),
    )


class Subscription(Base):
    """An organization's subscription: a webhook (``url``) or a pull feed (``url`` ""), to
    topics ("*" for all) or to data categories under an agreement (``agreement_id``).

    A category subscription names the purpose its data is used for and the place it is
    processed: every message is decided for them, as a read would be. ``feed_seq`` is the
    sequence number a pull subscriber acknowledged (asked for what follows it).
    """

    __tablename__ = "exchange_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    url: Mapped[str] = mapped_column(String(500))  # "" for a pull subscription
    topics: Mapped[list[str]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    agreement_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    categories: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    purpose: Mapped[str | None] = mapped_column(String(24), nullable=True)
    place: Mapped[str | None] = mapped_column(String(2), nullable=True)
    feed_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    feed_acked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (Index("ix_exchange_subscriptions_agreement", "active", "agreement_id"),)


class Delivery(Base):
    """One message to one subscription: pending → delivered, or dead after the last try."""

    __tablename__ = "exchange_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("exchange_outbox.id"), index=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("exchange_subscriptions.id"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(300), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_exchange_deliveries_due", "status", "next_attempt_at"),
        Index("ix_exchange_deliveries_org", "organization_id", "status"),
    )
