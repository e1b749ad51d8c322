"""exchange disclosures: the disclosure log, its grants, personal-data transfers per agreement

Revision ID: 0080_exchange_disclosures
Revises: 0070_signed_submissions
Create Date: 2026-12-04 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0080_exchange_disclosures"
down_revision = "0070_signed_submissions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exchange_disclosure_grants",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=24), nullable=False),
        sa.Column("basis", sa.String(length=12), nullable=False),
        sa.Column("purpose", sa.String(length=24), nullable=True),
        sa.Column("place", sa.String(length=2), nullable=False),
        sa.Column("agreements", sa.JSON(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_exchange_disclosure_grants")),
    )
    op.create_table(
        "exchange_disclosures",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=12), nullable=False),
        sa.Column("consumer", sa.String(length=80), nullable=False),
        sa.Column("category", sa.String(length=24), nullable=False),
        sa.Column("record_id", sa.String(length=80), nullable=False),
        sa.Column("owner", sa.String(length=80), nullable=False),
        sa.Column("authority", sa.String(length=2), nullable=False),
        sa.Column("grant", sa.String(length=64), nullable=False),
        sa.Column("personal", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_disclosures")),
    )
    with op.batch_alter_table("exchange_disclosures", schema=None) as batch_op:
        batch_op.create_index("ix_exchange_disclosures_authority", ["authority", "id"])
        batch_op.create_index("ix_exchange_disclosures_owner", ["owner", "id"])
        batch_op.create_index("ix_exchange_disclosures_record", ["record_id"])
    op.create_table(
        "exchange_personal_transfers",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("agreement_id", sa.String(length=80), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("person", sa.String(length=64), nullable=False),
        sa.Column("origin", sa.String(length=2), nullable=False),
        sa.Column("place", sa.String(length=2), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_record", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_personal_transfers")),
        sa.UniqueConstraint(
            "agreement_id",
            "year",
            "person",
            name=op.f("uq_exchange_personal_transfers_agreement_id_year_person"),
        ),
    )


def downgrade() -> None:
    op.drop_table("exchange_personal_transfers")
    with op.batch_alter_table("exchange_disclosures", schema=None) as batch_op:
        batch_op.drop_index("ix_exchange_disclosures_record")
        batch_op.drop_index("ix_exchange_disclosures_owner")
        batch_op.drop_index("ix_exchange_disclosures_authority")
    op.drop_table("exchange_disclosures")
    op.drop_table("exchange_disclosure_grants")
