"""indexes on the lake export's change markers: a rerun reads what changed, not every row

``silkgate analytics export`` reads the rows whose change marker (with the key parts that
break ties) follows the manifest's watermark. Without an index on the marker every run read
each exported table whole — declarations with their 2 KB versions, every gate event — however
little had changed since the last run.

Revision ID: 0140_change_marker_indexes
Revises: 0130_version_routing
Create Date: 2026-12-05 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0140_change_marker_indexes"
down_revision = "0130_version_routing"
branch_labels = None
depends_on = None

#: Index → (table, columns): each dataset's cursor (marker first) as ``analytics.datasets``
#: names it; the lanes' marker is an expression, below.
INDEXES = {
    "ix_declarations_changed": ("declarations", ["updated_at", "id"]),
    "ix_declaration_versions_created": (
        "declaration_versions",
        ["created_at", "declaration_id", "version"],
    ),
    "ix_risk_inspections_recorded": ("risk_inspections", ["recorded_at", "id"]),
    "ix_queue_bookings_changed": ("queue_bookings", ["updated_at", "id"]),
    "ix_gate_events_recorded": ("gate_events", ["record_time", "event_id"]),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        _create(concurrently=False)
        return
    # built without blocking writes (lodging, gate events) for as long as each build takes;
    # CONCURRENTLY runs outside a transaction. A build that fails leaves an INVALID index of
    # that name: drop it and upgrade again.
    with op.get_context().autocommit_block():
        _create(concurrently=True)


def _create(concurrently: bool) -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns, postgresql_concurrently=concurrently)
    op.create_index(
        "ix_risk_assessments_changed",
        "risk_assessments",
        [sa.text("coalesce(overridden_at, assessed_at)"), "id"],
        postgresql_concurrently=concurrently,
    )


def downgrade() -> None:
    op.drop_index("ix_risk_assessments_changed", table_name="risk_assessments")
    for name, (table, _) in reversed(INDEXES.items()):
        op.drop_index(name, table_name=table)
