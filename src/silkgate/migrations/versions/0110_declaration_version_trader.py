"""declaration versions: the lodging-side trader as a column, filled from each version's payload

Revision ID: 0110_version_trader
Revises: 0100_console_people
Create Date: 2026-12-03 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0110_version_trader"
down_revision = "0100_console_people"
branch_labels = None
depends_on = None


def _party(side: str, dialect: str) -> str:
    """SQL for ``COUNTRY:IDENTIFIER`` of one party of the payload (NULL if a part is missing),
    as ``declarations.lodging.lodging_trader`` computes it for new versions."""
    if dialect == "postgresql":
        return f"(payload->'{side}'->>'country') || ':' || (payload->'{side}'->>'identifier')"
    return (
        f"json_extract(payload, '$.{side}.country') || ':' || "
        f"json_extract(payload, '$.{side}.identifier')"
    )


def upgrade() -> None:
    with op.batch_alter_table("declaration_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("trader", sa.String(length=64), nullable=True))
    dialect = op.get_bind().dialect.name
    kind = "payload->>'type'" if dialect == "postgresql" else "json_extract(payload, '$.type')"
    op.execute(
        f"UPDATE declaration_versions SET trader = CASE WHEN {kind} = 'import' "
        f"THEN {_party('importer', dialect)} ELSE {_party('exporter', dialect)} END"
    )


def downgrade() -> None:
    with op.batch_alter_table("declaration_versions", schema=None) as batch_op:
        batch_op.drop_column("trader")
