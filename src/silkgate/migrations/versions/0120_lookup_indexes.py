"""an index on the declarations' LRN alone; gate events' corrections indexed without the NULLs

The unique (declarant, LRN) index does not serve a search by LRN across declarants on
PostgreSQL (no skip scan): the console's LRN filter read every declaration (217 ms a page on
250,000 declarations, ``bench/console.py``). SQLite's planner statistics (``ANALYZE``, run at
start-up) count every uncorrected event's NULL as one value of ``corrects`` and then scan all
gate events for ``corrects IN (…)`` (a declaration's timeline: 150 ms on 1 million events); a
partial index holds the corrections only.

Revision ID: 0120_lookup_indexes
Revises: 0110_version_trader
Create Date: 2026-12-04 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0120_lookup_indexes"
down_revision = "0110_version_trader"
branch_labels = None
depends_on = None


NOT_NULL = sa.text("corrects IS NOT NULL")


def upgrade() -> None:
    op.create_index("ix_declarations_lrn", "declarations", ["lrn"])
    op.drop_index("ix_gate_events_corrects", table_name="gate_events")
    op.create_index(
        "ix_gate_events_corrects",
        "gate_events",
        ["corrects"],
        sqlite_where=NOT_NULL,
        postgresql_where=NOT_NULL,
    )


def downgrade() -> None:
    op.drop_index("ix_gate_events_corrects", table_name="gate_events")
    op.create_index("ix_gate_events_corrects", "gate_events", ["corrects"])
    op.drop_index("ix_declarations_lrn", table_name="declarations")
