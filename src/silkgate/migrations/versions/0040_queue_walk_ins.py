"""e-queue walk-ins: a walk-in truck is a live-class queue entry whose VIN may be unknown

Revision ID: 0040_queue_walk_ins
Revises: 0030_exchange_outbox
Create Date: 2026-12-12 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0040_queue_walk_ins"
down_revision = "0030_exchange_outbox"
branch_labels = None
depends_on = None

_ACTIVE = "status IN ('confirmed', 'late', 'called', 'arrived', 'in_checkpoint')"
_PARTIAL = ("uq_queue_bookings_active_plate", "uq_queue_bookings_active_vin")


def _drop_partial() -> None:
    # SQLite rebuilds the table for ALTER COLUMN; the partial indexes are dropped first and
    # made again afterwards so their WHERE clause survives the copy on both databases.
    for name in _PARTIAL:
        op.drop_index(name, table_name="queue_bookings")


def _create_partial() -> None:
    where = sa.text(_ACTIVE)
    op.create_index(
        "uq_queue_bookings_active_plate",
        "queue_bookings",
        ["tractor_nationality", "tractor_plate"],
        unique=True,
        sqlite_where=where,
        postgresql_where=where,
    )
    op.create_index(
        "uq_queue_bookings_active_vin",
        "queue_bookings",
        ["vin"],
        unique=True,
        sqlite_where=where,
        postgresql_where=where,
    )


def upgrade() -> None:
    _drop_partial()
    with op.batch_alter_table("queue_bookings", schema=None) as batch_op:
        batch_op.alter_column("vin", existing_type=sa.String(length=17), nullable=True)
    _create_partial()


def downgrade() -> None:
    _drop_partial()
    op.execute("DELETE FROM queue_waiting WHERE booking_id IN "
               "(SELECT id FROM queue_bookings WHERE vin IS NULL)")  # fmt: skip
    op.execute("DELETE FROM queue_booked_declarations WHERE booking_id IN "
               "(SELECT id FROM queue_bookings WHERE vin IS NULL)")  # fmt: skip
    op.execute("DELETE FROM queue_bookings WHERE vin IS NULL")
    with op.batch_alter_table("queue_bookings", schema=None) as batch_op:
        batch_op.alter_column("vin", existing_type=sa.String(length=17), nullable=False)
    _create_partial()
