"""Risk engine tables: profiles by version, model registry, assessments, inspection results.

The daily capacity ledger is not a table: model-driven selections of a day are counted from
``risk_assessments`` (source ``model`` or ``exploration``), so every process sees the same count.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from silkgate.core.db import Base
from silkgate.declarations.models import Declaration

_ID = BigInteger().with_variant(Integer, "sqlite")

# The assessor polls ``status = 'accepted'``; a partial index keeps that an index lookup however
# many declarations have been assessed (rows leave the index when they move on).
PENDING_INDEX = Index(
    "ix_declarations_pending",
    Declaration.id,
    postgresql_where=text("status = 'accepted'"),
    sqlite_where=text("status = 'accepted'"),
)


class RiskProfile(Base):
    """One version of the selectivity profile of an office and direction (never rewritten)."""

    __tablename__ = "risk_profiles"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    office: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(10))
    version: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(120))

    __table_args__ = (UniqueConstraint("office", "direction", "version"),)


class RiskModelRecord(Base):
    """A model artifact known to the platform (trained here or registered from a directory)."""

    __tablename__ = "risk_models"

    model_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    office: Mapped[str | None] = mapped_column(String(64), nullable=True)
    path: Mapped[str] = mapped_column(String(1024))
    model_sha256: Mapped[str] = mapped_column(String(64))
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    registered_by: Mapped[str] = mapped_column(String(120))


class ActiveRiskModel(Base):
    """The model an office's assessments use; at most one per office."""

    __tablename__ = "risk_active_models"

    office: Mapped[str] = mapped_column(String(64), primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("risk_models.model_id"))
    activated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    activated_by: Mapped[str] = mapped_column(String(120))


class RiskAssessment(Base):
    """The lane given to one version of a declaration and why; an override is kept beside it."""

    __tablename__ = "risk_assessments"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    declaration_id: Mapped[str] = mapped_column(ForeignKey("declarations.id"))
    version: Mapped[int] = mapped_column(Integer)
    office: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(10))
    lane: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(16))
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    model_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    profile_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    fired: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    explanation: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    reasons: Mapped[list[str]] = mapped_column(JSON)
    assessed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    override_lane: Mapped[str | None] = mapped_column(String(8), nullable=True)
    override_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    overridden_by: Mapped[str | None] = mapped_column(String(120), nullable=True)
    overridden_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (
        UniqueConstraint("declaration_id", "version"),
        Index("ix_risk_assessments_office_day", "office", "direction", "assessed_at"),
    )


# the lanes' change marker in the lake export (an override changes a lane): an expression,
# which the export's window names the same way
Index(
    "ix_risk_assessments_changed",
    func.coalesce(RiskAssessment.overridden_at, RiskAssessment.assessed_at),
    RiskAssessment.id,
)


class InspectionResult(Base):
    """What customs found when inspecting one version of a declaration (a training label)."""

    __tablename__ = "risk_inspections"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    declaration_id: Mapped[str] = mapped_column(ForeignKey("declarations.id"))
    version: Mapped[int] = mapped_column(Integer)
    office: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    duties_amount: Mapped[float | None] = mapped_column(Float, nullable=True)
    duties_currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_by: Mapped[str] = mapped_column(String(120))

    __table_args__ = (
        UniqueConstraint("declaration_id", "version"),
        Index("ix_risk_inspections_recorded", "recorded_at", "id"),  # the lake's change marker
    )
