"""declaration versions: each version's type, crossing, direction and currency as columns

An amendment may change a declaration's crossing, direction, type or currency. The lake took
them from the declaration's row (its current version) for the goods items of every version,
so an older version's items were placed under the new crossing and valued in the new
currency. Each version now keeps its own, filled here from its stored payload.

The fill is one UPDATE of every version, in the revision's transaction: on PostgreSQL the table
is locked meanwhile (lodging and amendments wait); measured in review, 2.0 s for 50,000
versions of ~1.9 KB payloads, so plan a pause of about 40 s a million versions.

Revision ID: 0130_version_routing
Revises: 0120_lookup_indexes
Create Date: 2026-12-05 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0130_version_routing"
down_revision = "0120_lookup_indexes"
branch_labels = None
depends_on = None

#: Column → (type, JSON path in the payload), as ``audit.declaration_state.header_of`` reads it.
COLUMNS = {
    "type": (sa.String(length=10), ("type",)),
    "crossing_code": (sa.String(length=16), ("crossing", "code")),
    "exit_country": (sa.String(length=2), ("crossing", "exit_country")),
    "entry_country": (sa.String(length=2), ("crossing", "entry_country")),
    "currency": (sa.String(length=3), ("invoice", "currency")),
}


def _value(path: tuple[str, ...], dialect: str) -> str:
    """SQL for the text at ``path`` in the payload (NULL where it is missing)."""
    if dialect == "postgresql":
        return "payload #>> '{" + ",".join(path) + "}'"
    return "json_extract(payload, '$." + ".".join(path) + "')"


def upgrade() -> None:
    with op.batch_alter_table("declaration_versions", schema=None) as batch_op:
        for name, (kind, _) in COLUMNS.items():
            batch_op.add_column(sa.Column(name, kind, nullable=True))
    dialect = op.get_bind().dialect.name
    sets = ", ".join(f"{name} = {_value(path, dialect)}" for name, (_, path) in COLUMNS.items())
    op.execute(f"UPDATE declaration_versions SET {sets}")


def downgrade() -> None:
    with op.batch_alter_table("declaration_versions", schema=None) as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
