"""exchange category subscriptions: subscriptions under an agreement, pull feeds, message agreement

Revision ID: 0090_exchange_category_subs
Revises: 0080_exchange_disclosures
Create Date: 2026-12-05 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0090_exchange_category_subs"  # alembic_version holds 32 characters
down_revision = "0080_exchange_disclosures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("exchange_subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agreement_id", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("categories", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("purpose", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("place", sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column("feed_seq", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("feed_acked_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_exchange_subscriptions_agreement", ["active", "agreement_id"], unique=False
        )
    with op.batch_alter_table("exchange_outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agreement_id", sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("exchange_outbox", schema=None) as batch_op:
        batch_op.drop_column("agreement_id")
    op.execute(
        "DELETE FROM exchange_deliveries WHERE subscription_id IN "
        "(SELECT id FROM exchange_subscriptions WHERE url = '')"
    )
    op.execute("DELETE FROM exchange_subscriptions WHERE url = ''")
    with op.batch_alter_table("exchange_subscriptions", schema=None) as batch_op:
        batch_op.drop_index("ix_exchange_subscriptions_agreement")
        batch_op.drop_column("feed_acked_at")
        batch_op.drop_column("feed_seq")
        batch_op.drop_column("place")
        batch_op.drop_column("purpose")
        batch_op.drop_column("categories")
        batch_op.drop_column("agreement_id")
