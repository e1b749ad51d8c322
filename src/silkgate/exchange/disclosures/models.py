"""Disclosure tables: one row per record disclosed, the grant it was disclosed under, and the
persons whose personal data crossed a border (per agreement and year)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from silkgate.core.db import Base


class DisclosureGrant(Base):
    """What a disclosure was made under: category, basis, purpose, place, agreements, fields.

    Keyed by the SHA-256 of those terms, so the many records of one list read (and of every
    read under the same agreements) share one row instead of repeating the field list.
    """

    __tablename__ = "exchange_disclosure_grants"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    category: Mapped[str] = mapped_column(String(24))
    basis: Mapped[str] = mapped_column(String(12))
    purpose: Mapped[str | None] = mapped_column(String(24), nullable=True)
    place: Mapped[str] = mapped_column(String(2))
    agreements: Mapped[list[list[str | int]]] = mapped_column(JSON)
    fields: Mapped[list[str]] = mapped_column(JSON)


class Disclosure(Base):
    """One record of another organization disclosed to a consumer in one request.

    ``owner`` (member id) and ``authority`` (alpha-2) are the record's, so its declarant and
    the lodging state's customs can list who received what about it.
    """

    __tablename__ = "exchange_disclosures"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    request_id: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(12))  # read | delivery
    consumer: Mapped[str] = mapped_column(String(80))
    category: Mapped[str] = mapped_column(String(24))
    record_id: Mapped[str] = mapped_column(String(80))
    owner: Mapped[str] = mapped_column(String(80))
    authority: Mapped[str] = mapped_column(String(2))
    grant: Mapped[str] = mapped_column(String(64))
    personal: Mapped[bool] = mapped_column(Boolean)

    __table_args__ = (
        Index("ix_exchange_disclosures_owner", "owner", "id"),
        Index("ix_exchange_disclosures_authority", "authority", "id"),
        Index("ix_exchange_disclosures_record", "record_id"),
    )


class PersonalTransfer(Base):
    """A person whose personal data crossed a border under an agreement, once per year.

    ``person`` is a keyed digest (HMAC-SHA-256) of the person's identity document, so the
    count is of distinct persons without storing their data a second time.
    """

    __tablename__ = "exchange_personal_transfers"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    agreement_id: Mapped[str] = mapped_column(String(80))
    year: Mapped[int] = mapped_column(Integer)
    person: Mapped[str] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(2))
    place: Mapped[str] = mapped_column(String(2))
    first_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    first_record: Mapped[str] = mapped_column(String(80))

    __table_args__ = (UniqueConstraint("agreement_id", "year", "person"),)
