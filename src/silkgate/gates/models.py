"""Gate-event tables: one row per signed event, and its business-transaction references."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from silkgate.core.db import Base


class GateEvent(Base):
    """A checkpoint's report that a truck reached a stage; never edited (corrections are new rows).

    ``event_id`` is the SHA-256 of the canonical content, so a retried event is stored once.
    """

    __tablename__ = "gate_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    crossing_code: Mapped[str] = mapped_column(ForeignKey("crossings.code"))
    side: Mapped[str] = mapped_column(String(2))
    read_point: Mapped[str] = mapped_column(String(32))
    biz_step: Mapped[str] = mapped_column(String(16))
    disposition: Mapped[str | None] = mapped_column(String(24), nullable=True)
    truck: Mapped[str] = mapped_column(String(20))  # "KZ:123ABC02": nationality and tractor plate
    event_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    event_offset: Mapped[str] = mapped_column(String(6))
    record_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    corrects: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reporter_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    reporter: Mapped[str] = mapped_column(String(80))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    signature: Mapped[str] = mapped_column(String(100))
    key_id: Mapped[str] = mapped_column(String(16))
    # The audit entry (``gate_event_batch``, by entity id) that lists this event's id and
    # digest; None for events audited one entry each (``gate_event``), before batch entries.
    audit_batch: Mapped[str | None] = mapped_column(String(64), nullable=True)

    __table_args__ = (
        Index("ix_gate_events_truck", "truck", "event_time"),
        Index("ix_gate_events_crossing_time", "crossing_code", "event_time"),
        # corrections only: SQLite's planner statistics count the NULLs of every other event
        # as one value and then judge a full index useless for ``corrects IN (…)``
        Index(
            "ix_gate_events_corrects",
            "corrects",
            sqlite_where=text("corrects IS NOT NULL"),
            postgresql_where=text("corrects IS NOT NULL"),
        ),
        Index("ix_gate_events_recorded", "record_time", "event_id"),  # the lake's change marker
    )


class GateEventRef(Base):
    """A declaration or booking an event names (EPCIS ``bizTransactionList``), for lookups."""

    __tablename__ = "gate_event_refs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("gate_events.event_id"), index=True)
    ref_type: Mapped[str] = mapped_column(String(16))
    ref: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_gate_event_refs_ref", "ref_type", "ref"),)
