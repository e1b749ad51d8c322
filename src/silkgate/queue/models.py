"""E-queue tables: caps per side, planned days, slot inventory, bookings, deposits, notices."""

from __future__ import annotations

import datetime as dt
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from silkgate.core.db import Base

#: Statuses in which a booking holds its truck (plate, VIN) and its declarations.
ACTIVE_STATUSES = ("confirmed", "late", "called", "arrived", "in_checkpoint")
_ACTIVE_SQL = text("status IN ('confirmed', 'late', 'called', 'arrived', 'in_checkpoint')")


class CapacityCap(Base):
    """One side's daily cap for a crossing and direction, valid from a day (versioned)."""

    __tablename__ = "queue_caps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    crossing_code: Mapped[str] = mapped_column(ForeignKey("crossings.code"))
    exit_country: Mapped[str] = mapped_column(String(2))
    entry_country: Mapped[str] = mapped_column(String(2))
    side: Mapped[str] = mapped_column(String(2))
    version: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    daily_cap: Mapped[int] = mapped_column(Integer)
    hourly_profile: Mapped[list[float] | None] = mapped_column(JSON, nullable=True)
    quotas: Mapped[dict[str, float]] = mapped_column(JSON)
    live_share: Mapped[float] = mapped_column(Float)
    set_by: Mapped[str] = mapped_column(String(80))
    set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("crossing_code", "exit_country", "entry_country", "side", "version"),
    )


class DayPlan(Base):
    """A day whose slots are planned: the binding cap and the side caps it came from."""

    __tablename__ = "queue_day_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    crossing_code: Mapped[str] = mapped_column(ForeignKey("crossings.code"))
    exit_country: Mapped[str] = mapped_column(String(2))
    entry_country: Mapped[str] = mapped_column(String(2))
    day: Mapped[dt.date] = mapped_column(Date)
    daily_cap: Mapped[int] = mapped_column(Integer)
    cap_ids: Mapped[list[int]] = mapped_column(JSON)
    planned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("crossing_code", "exit_country", "entry_country", "day"),)


class Slot(Base):
    """Inventory of one hour for one quota class: ``booked`` never exceeds ``capacity``."""

    __tablename__ = "queue_slots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    crossing_code: Mapped[str] = mapped_column(ForeignKey("crossings.code"))
    exit_country: Mapped[str] = mapped_column(String(2))
    entry_country: Mapped[str] = mapped_column(String(2))
    day: Mapped[dt.date] = mapped_column(Date)
    hour: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    quota_class: Mapped[str] = mapped_column(String(20))
    capacity: Mapped[int] = mapped_column(Integer)
    booked: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        UniqueConstraint(
            "crossing_code", "exit_country", "entry_country", "day", "hour", "quota_class"
        ),
    )


class Booking(Base):
    """A booked slot for one truck; the organization, crossing, plate and driver never change.

    A walk-in truck (no booking) registered at the waiting area is a row of quota class
    ``live``: the official's organization, a place of the day's live share, status ``arrived``.
    """

    __tablename__ = "queue_bookings"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    organization: Mapped[str] = mapped_column(String(80))
    crossing_code: Mapped[str] = mapped_column(ForeignKey("crossings.code"))
    exit_country: Mapped[str] = mapped_column(String(2))
    entry_country: Mapped[str] = mapped_column(String(2))
    slot_id: Mapped[int] = mapped_column(ForeignKey("queue_slots.id"), index=True)
    day: Mapped[dt.date] = mapped_column(Date)
    hour: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    quota_class: Mapped[str] = mapped_column(String(20))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    tractor_plate: Mapped[str] = mapped_column(String(15))
    tractor_nationality: Mapped[str] = mapped_column(String(2))
    trailer_plate: Mapped[str | None] = mapped_column(String(15), nullable=True)
    trailer_nationality: Mapped[str | None] = mapped_column(String(2), nullable=True)
    vin: Mapped[str | None] = mapped_column(String(17), nullable=True)  # None: walk-in, not given
    driver: Mapped[dict[str, Any]] = mapped_column(JSON)
    declaration_ids: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    reschedules: Mapped[int] = mapped_column(Integer, default=0)
    displaced: Mapped[bool] = mapped_column(Boolean, default=False)
    no_show_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_queue_bookings_crossing_day", "crossing_code", "day", "status"),
        Index("ix_queue_bookings_changed", "updated_at", "id"),  # the lake's change marker
        Index(
            "uq_queue_bookings_active_plate",
            "tractor_nationality",
            "tractor_plate",
            unique=True,
            sqlite_where=_ACTIVE_SQL,
            postgresql_where=_ACTIVE_SQL,
        ),
        Index(
            "uq_queue_bookings_active_vin",
            "vin",
            unique=True,
            sqlite_where=_ACTIVE_SQL,
            postgresql_where=_ACTIVE_SQL,
        ),
    )


class BookedDeclaration(Base):
    """A declaration moved by a booking; ``active`` mirrors the booking, one active per id."""

    __tablename__ = "queue_booked_declarations"

    booking_id: Mapped[str] = mapped_column(ForeignKey("queue_bookings.id"), primary_key=True)
    declaration_id: Mapped[str] = mapped_column(ForeignKey("declarations.id"), primary_key=True)
    active: Mapped[bool] = mapped_column(Boolean)

    __table_args__ = (
        Index(
            "uq_queue_booked_declarations_active",
            "declaration_id",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )


class DepositEntry(Base):
    """Deposit ledger: held at booking, then released or forfeited (never edited)."""

    __tablename__ = "queue_deposit_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    booking_id: Mapped[str] = mapped_column(ForeignKey("queue_bookings.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    vin: Mapped[str] = mapped_column(String(17))
    kind: Mapped[str] = mapped_column(String(10))
    amount: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Notification(Base):
    """A notice to booking parties (a cap change displaced bookings); delivery is later work."""

    __tablename__ = "queue_notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    crossing_code: Mapped[str] = mapped_column(String(16))
    booking_ids: Mapped[list[str]] = mapped_column(JSON)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Stage(Base):
    """The border stage behind the waiting area: trucks it holds at once, and where the
    call-forward interleave stands (``cursor`` into the round of priority classes)."""

    __tablename__ = "queue_stages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    crossing_code: Mapped[str] = mapped_column(ForeignKey("crossings.code"))
    exit_country: Mapped[str] = mapped_column(String(2))
    entry_country: Mapped[str] = mapped_column(String(2))
    side: Mapped[str] = mapped_column(String(2))
    capacity: Mapped[int] = mapped_column(Integer)
    cursor: Mapped[int] = mapped_column(Integer, default=0)
    set_by: Mapped[str] = mapped_column(String(80))
    set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("crossing_code", "exit_country", "entry_country", "side"),)


class WaitingTruck(Base):
    """A booked truck checked in at the waiting area: waiting → called → in_stage → left."""

    __tablename__ = "queue_waiting"

    booking_id: Mapped[str] = mapped_column(ForeignKey("queue_bookings.id"), primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    crossing_code: Mapped[str] = mapped_column(ForeignKey("crossings.code"))
    exit_country: Mapped[str] = mapped_column(String(2))
    entry_country: Mapped[str] = mapped_column(String(2))
    cf_class: Mapped[str] = mapped_column(String(20))
    booked: Mapped[bool] = mapped_column(Boolean)
    slot_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    arrived_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(10))
    called_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    left_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (
        Index("ix_queue_waiting_route", "crossing_code", "exit_country", "entry_country", "state"),
    )
