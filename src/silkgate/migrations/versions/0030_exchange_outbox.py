"""exchange outbox, subscriptions, deliveries; e-queue border stages and waiting area

Revision ID: 0030_exchange_outbox
Revises: 0020_gate_events
Create Date: 2026-12-03 08:15:59.477992
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030_exchange_outbox"
down_revision = "0020_gate_events"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "queue_stages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("crossing_code", sa.String(length=16), nullable=False),
        sa.Column("exit_country", sa.String(length=2), nullable=False),
        sa.Column("entry_country", sa.String(length=2), nullable=False),
        sa.Column("side", sa.String(length=2), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("set_by", sa.String(length=80), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["crossing_code"],
            ["crossings.code"],
            name=op.f("fk_queue_stages_crossing_code_crossings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_stages")),
        sa.UniqueConstraint(
            "crossing_code",
            "exit_country",
            "entry_country",
            "side",
            name=op.f("uq_queue_stages_crossing_code_exit_country_entry_country_side"),
        ),
    )
    op.create_table(
        "exchange_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(length=80), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_exchange_outbox_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_outbox")),
        sa.UniqueConstraint(
            "organization_id",
            "message_id",
            name=op.f("uq_exchange_outbox_organization_id_message_id"),
        ),
    )
    with op.batch_alter_table("exchange_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_exchange_outbox_org_id", ["organization_id", "id"], unique=False)

    op.create_table(
        "exchange_subscriptions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_exchange_subscriptions_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_subscriptions")),
    )
    with op.batch_alter_table("exchange_subscriptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exchange_subscriptions_organization_id"),
            ["organization_id"],
            unique=False,
        )

    op.create_table(
        "exchange_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_exchange_deliveries_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["exchange_outbox.id"],
            name=op.f("fk_exchange_deliveries_outbox_id_exchange_outbox"),
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["exchange_subscriptions.id"],
            name=op.f("fk_exchange_deliveries_subscription_id_exchange_subscriptions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_deliveries")),
    )
    with op.batch_alter_table("exchange_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_exchange_deliveries_due", ["status", "next_attempt_at"], unique=False
        )
        batch_op.create_index(
            "ix_exchange_deliveries_org", ["organization_id", "status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_exchange_deliveries_outbox_id"), ["outbox_id"], unique=False
        )

    op.create_table(
        "queue_waiting",
        sa.Column("booking_id", sa.String(length=24), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("crossing_code", sa.String(length=16), nullable=False),
        sa.Column("exit_country", sa.String(length=2), nullable=False),
        sa.Column("entry_country", sa.String(length=2), nullable=False),
        sa.Column("cf_class", sa.String(length=20), nullable=False),
        sa.Column("booked", sa.Boolean(), nullable=False),
        sa.Column("slot_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("called_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["queue_bookings.id"],
            name=op.f("fk_queue_waiting_booking_id_queue_bookings"),
        ),
        sa.ForeignKeyConstraint(
            ["crossing_code"],
            ["crossings.code"],
            name=op.f("fk_queue_waiting_crossing_code_crossings"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_queue_waiting_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("booking_id", name=op.f("pk_queue_waiting")),
    )
    with op.batch_alter_table("queue_waiting", schema=None) as batch_op:
        batch_op.create_index(
            "ix_queue_waiting_route",
            ["crossing_code", "exit_country", "entry_country", "state"],
            unique=False,
        )


def downgrade() -> None:

    with op.batch_alter_table("queue_waiting", schema=None) as batch_op:
        batch_op.drop_index("ix_queue_waiting_route")

    op.drop_table("queue_waiting")
    with op.batch_alter_table("exchange_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_deliveries_outbox_id"))
        batch_op.drop_index("ix_exchange_deliveries_org")
        batch_op.drop_index("ix_exchange_deliveries_due")

    op.drop_table("exchange_deliveries")
    with op.batch_alter_table("exchange_subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_subscriptions_organization_id"))

    op.drop_table("exchange_subscriptions")
    with op.batch_alter_table("exchange_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_exchange_outbox_org_id")

    op.drop_table("exchange_outbox")
    op.drop_table("queue_stages")
