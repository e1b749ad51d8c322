"""gate events: the audit batch entry that lists each event

Revision ID: 0060_gate_event_audit_batch
Revises: 0050_exchange_agreements
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0060_gate_event_audit_batch"
down_revision = "0050_exchange_agreements"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: events stored before batch entries keep their one entry each.
    with op.batch_alter_table("gate_events") as batch:
        batch.add_column(sa.Column("audit_batch", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("gate_events") as batch:
        batch.drop_column("audit_batch")
