"""signed submissions: the detached JWS of signed writes and the records they wrote

Revision ID: 0070_signed_submissions
Revises: 0060_gate_event_audit_batch
Create Date: 2026-12-04 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0070_signed_submissions"
down_revision = "0060_gate_event_audit_batch"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signed_submissions",
        sa.Column("id", sa.String(length=22), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.String(length=80), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("alg", sa.String(length=16), nullable=False),
        sa.Column("jws", sa.Text(), nullable=False),
        sa.Column("jws_sha256", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("iat", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_signed_submissions_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signed_submissions")),
        sa.UniqueConstraint("jws_sha256", name=op.f("uq_signed_submissions_jws_sha256")),
    )
    op.create_index(
        op.f("ix_signed_submissions_organization_id"),
        "signed_submissions",
        ["organization_id"],
        unique=False,
    )
    op.create_table(
        "signed_submission_records",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("submission_id", sa.String(length=22), nullable=False),
        sa.Column("entity_type", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["signed_submissions.id"],
            name=op.f("fk_signed_submission_records_submission_id_signed_submissions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signed_submission_records")),
    )
    op.create_index(
        op.f("ix_signed_submission_records_submission_id"),
        "signed_submission_records",
        ["submission_id"],
        unique=False,
    )
    op.create_index(
        "ix_signed_submission_records_entity",
        "signed_submission_records",
        ["entity_type", "entity_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_signed_submission_records_entity", table_name="signed_submission_records")
    op.drop_index(
        op.f("ix_signed_submission_records_submission_id"), table_name="signed_submission_records"
    )
    op.drop_table("signed_submission_records")
    op.drop_index(op.f("ix_signed_submissions_organization_id"), table_name="signed_submissions")
    op.drop_table("signed_submissions")
