"""gate events (EPCIS-shaped, signed) and their business-transaction references

Revision ID: 0020_gate_events
Revises: 0010_equeue
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_gate_events"
down_revision = "0010_equeue"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gate_events",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("crossing_code", sa.String(length=16), nullable=False),
        sa.Column("side", sa.String(length=2), nullable=False),
        sa.Column("read_point", sa.String(length=32), nullable=False),
        sa.Column("biz_step", sa.String(length=16), nullable=False),
        sa.Column("disposition", sa.String(length=24), nullable=True),
        sa.Column("truck", sa.String(length=20), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_offset", sa.String(length=6), nullable=False),
        sa.Column("record_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("corrects", sa.String(length=64), nullable=True),
        sa.Column("reporter_org_id", sa.Integer(), nullable=False),
        sa.Column("reporter", sa.String(length=80), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("signature", sa.String(length=100), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["crossing_code"],
            ["crossings.code"],
            name=op.f("fk_gate_events_crossing_code_crossings"),
        ),
        sa.ForeignKeyConstraint(
            ["reporter_org_id"],
            ["organizations.id"],
            name=op.f("fk_gate_events_reporter_org_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_gate_events")),
    )
    op.create_index("ix_gate_events_truck", "gate_events", ["truck", "event_time"])
    op.create_index("ix_gate_events_crossing_time", "gate_events", ["crossing_code", "event_time"])
    op.create_index(op.f("ix_gate_events_corrects"), "gate_events", ["corrects"])
    op.create_table(
        "gate_event_refs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("ref_type", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["gate_events.event_id"],
            name=op.f("fk_gate_event_refs_event_id_gate_events"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gate_event_refs")),
    )
    op.create_index(op.f("ix_gate_event_refs_event_id"), "gate_event_refs", ["event_id"])
    op.create_index("ix_gate_event_refs_ref", "gate_event_refs", ["ref_type", "ref"])


def downgrade() -> None:
    op.drop_table("gate_event_refs")
    op.drop_table("gate_events")
