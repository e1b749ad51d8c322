"""exchange agreements: one row per version, and the parties' signatures

Revision ID: 0050_exchange_agreements
Revises: 0040_queue_walk_ins
Create Date: 2026-12-03 09:32:32.062481
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0050_exchange_agreements"
down_revision = "0040_queue_walk_ins"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exchange_agreements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agreement_id", sa.String(length=80), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("provider", sa.String(length=80), nullable=False),
        sa.Column("consumers", sa.JSON(), nullable=False),
        sa.Column("category", sa.String(length=24), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("purposes", sa.JSON(), nullable=False),
        sa.Column("places", sa.JSON(), nullable=False),
        sa.Column("crossings", sa.JSON(), nullable=False),
        sa.Column("condition", sa.Text(), nullable=True),
        sa.Column("personal_data", sa.Boolean(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("builtin", sa.Boolean(), nullable=False),
        sa.Column("terms_digest", sa.String(length=64), nullable=False),
        sa.Column("proposed_by", sa.String(length=80), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.String(length=80), nullable=True),
        sa.Column("end_reason", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_agreements")),
        sa.UniqueConstraint(
            "agreement_id", "version", name=op.f("uq_exchange_agreements_agreement_id_version")
        ),
    )
    with op.batch_alter_table("exchange_agreements", schema=None) as batch_op:
        batch_op.create_index("ix_exchange_agreements_status", ["status", "category"], unique=False)

    op.create_table(
        "exchange_agreement_sigs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=False),
        sa.Column("party", sa.String(length=80), nullable=False),
        sa.Column("signer", sa.String(length=80), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=100), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["row_id"],
            ["exchange_agreements.id"],
            name=op.f("fk_exchange_agreement_sigs_row_id_exchange_agreements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_agreement_sigs")),
        sa.UniqueConstraint(
            "row_id", "party", name=op.f("uq_exchange_agreement_sigs_row_id_party")
        ),
    )


def downgrade() -> None:
    op.drop_table("exchange_agreement_sigs")
    with op.batch_alter_table("exchange_agreements", schema=None) as batch_op:
        batch_op.drop_index("ix_exchange_agreements_status")

    op.drop_table("exchange_agreements")
