"""Agreement tables: one row per version (history kept), and each party's signature of it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from silkgate.core.db import Base


class Agreement(Base):
    """One version of a data-sharing agreement: proposed → active → superseded or revoked.

    ``provider`` and each consumer are a member id, or an ISO alpha-2 code for that member
    state's customs authority. ``terms_digest`` is the SHA-256 of the canonical terms every
    party signs.
    """

    __tablename__ = "exchange_agreements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agreement_id: Mapped[str] = mapped_column(String(80))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12))
    provider: Mapped[str] = mapped_column(String(80))
    consumers: Mapped[list[str]] = mapped_column(JSON)
    category: Mapped[str] = mapped_column(String(24))
    fields: Mapped[list[str]] = mapped_column(JSON)
    purposes: Mapped[list[str]] = mapped_column(JSON)
    places: Mapped[list[str]] = mapped_column(JSON)
    crossings: Mapped[list[str]] = mapped_column(JSON)
    condition: Mapped[str | None] = mapped_column(Text, nullable=True)
    personal_data: Mapped[bool] = mapped_column(Boolean)
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    valid_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    terms_digest: Mapped[str] = mapped_column(String(64))
    proposed_by: Mapped[str] = mapped_column(String(80))
    proposed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)

    __table_args__ = (
        UniqueConstraint("agreement_id", "version"),
        Index("ix_exchange_agreements_status", "status", "category"),
    )


class AgreementSignature(Base):
    """A party's Ed25519 signature of a version's canonical terms, with the key it verified by."""

    __tablename__ = "exchange_agreement_sigs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    row_id: Mapped[int] = mapped_column(ForeignKey("exchange_agreements.id"))
    party: Mapped[str] = mapped_column(String(80))
    signer: Mapped[str] = mapped_column(String(80))
    public_key: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(100))
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("row_id", "party"),)
