"""Declaration tables: the current state, every version, goods items, idempotency keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from silkgate.core.db import Base


class Declaration(Base):
    """Current state of a declaration; ``payload`` is the latest version's body."""

    __tablename__ = "declarations"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    declarant_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    declarant: Mapped[str] = mapped_column(String(80))
    lrn: Mapped[str] = mapped_column(String(35))
    type: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    crossing_code: Mapped[str] = mapped_column(ForeignKey("crossings.code"))
    exit_country: Mapped[str] = mapped_column(String(2))
    entry_country: Mapped[str] = mapped_column(String(2))
    item_count: Mapped[int] = mapped_column(Integer)
    total_gross_kg: Mapped[float] = mapped_column(Float)
    total_invoice_value: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(3))
    lane: Mapped[str | None] = mapped_column(String(8), nullable=True)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (
        UniqueConstraint("declarant_org_id", "lrn"),
        Index("ix_declarations_crossing", "crossing_code", "status"),
        Index("ix_declarations_lrn", "lrn"),
        # the lake export's change marker: a rerun reads what changed, not the whole table
        Index("ix_declarations_changed", "updated_at", "id"),
    )


class DeclarationVersion(Base):
    """An immutable snapshot; amendments add versions and never rewrite old ones."""

    __tablename__ = "declaration_versions"

    declaration_id: Mapped[str] = mapped_column(ForeignKey("declarations.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    payload_digest: Mapped[str] = mapped_column(String(64))
    #: ``COUNTRY:IDENTIFIER`` of the lodging-side trader (``lodging.lodging_trader``), kept as a
    #: column so statistics need not parse every payload; null if the payload lacks it.
    trader: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: The version's own type, crossing, direction and currency (its payload's), kept as
    #: columns: an amendment may change them, and an older version's goods items are placed
    #: and valued by what that version said. Null only where the payload lacks one.
    type: Mapped[str | None] = mapped_column(String(10), nullable=True)
    crossing_code: Mapped[str | None] = mapped_column(String(16), nullable=True)
    exit_country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    entry_country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(80))

    # the goods items' change marker in the lake export
    __table_args__ = (
        Index("ix_declaration_versions_created", "created_at", "declaration_id", "version"),
    )


#: Columns a declaration version shares with its declaration's row (the version's own values).
VERSION_ROUTING = ("type", "crossing_code", "exit_country", "entry_country", "currency")


class GoodsItem(Base):
    """One goods item of one version, kept as columns for statistics and risk features."""

    __tablename__ = "goods_items"

    declaration_id: Mapped[str] = mapped_column(ForeignKey("declarations.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    hs_code: Mapped[str] = mapped_column(String(10))
    hs6: Mapped[str] = mapped_column(String(6), index=True)
    description: Mapped[str] = mapped_column(String(512))
    origin_country: Mapped[str] = mapped_column(String(2))
    packages: Mapped[int] = mapped_column(Integer)
    gross_mass_kg: Mapped[float] = mapped_column(Float)
    net_mass_kg: Mapped[float] = mapped_column(Float)
    invoice_value: Mapped[float] = mapped_column(Float)
    customs_value: Mapped[float] = mapped_column(Float)


class IdempotencyKey(Base):
    """Remembers which declaration an ``Idempotency-Key`` produced, per organization."""

    __tablename__ = "idempotency_keys"

    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_digest: Mapped[str] = mapped_column(String(64))
    declaration_id: Mapped[str] = mapped_column(ForeignKey("declarations.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
