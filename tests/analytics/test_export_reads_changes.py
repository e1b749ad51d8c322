"""A rerun of the export reads what changed since the watermark, through an index on each
dataset's change marker, not the whole table (on SQLite and PostgreSQL), and a first run
still reads the table straight through."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from silkgate.analytics import service
from silkgate.analytics.datasets import DATASETS
from silkgate.analytics.schemas import Watermark
from silkgate.core.platform import Platform

#: Dataset → the index its change window is read through (``queue_day_plans``, a few rows a
#: day with a marker computed over two tables, is read whole).
MARKER_INDEX = {
    "declarations": "ix_declarations_changed",
    "goods_items": "ix_declaration_versions_created",
    "lanes": "ix_risk_assessments_changed",
    "inspections": "ix_risk_inspections_recorded",
    "bookings": "ix_queue_bookings_changed",
    "gate_events": "ix_gate_events_recorded",
    "gate_event_refs": "ix_gate_events_recorded",
}
HORIZON = datetime(2030, 1, 1, tzinfo=UTC)


def _watermark(name: str) -> Watermark:
    keys = [0 if c.type.python_type is int else "k" for c in DATASETS[name].cursor_sql()[1:]]
    return Watermark(marker="2026-01-01T00:00:00+00:00", key=keys)


def _plan(platform: Platform, name: str, after: Watermark | None, horizon: datetime | None) -> str:
    """The database's plan for the export's read of ``name``'s changes: on SQLite from the
    export's own reader (the driver's SQLite, not Python's); PostgreSQL told to avoid
    sequential scans (its tables here are too small for an index to be worth it), so this
    shows the index can serve the read, its planner choosing by its statistics."""
    with service.snapshot(platform) as snap:
        sql = snap.sql(service.changes_statement(snap, DATASETS[name], after, horizon))
        if snap.kind == "sqlite":
            plan = snap.reader.batches("EXPLAIN QUERY PLAN " + sql, 1000)
            return "\n".join(d for b in plan for d in b.column("detail").to_pylist())
    with platform.db.engine.connect() as conn:
        conn.execute(text("SET enable_seqscan = off"))
        rows = conn.exec_driver_sql("EXPLAIN " + sql.replace("%", "%%"))
        return "\n".join(str(r[0]) for r in rows)


@pytest.mark.parametrize("horizon", [None, HORIZON], ids=["settle 0", "up to a horizon"])
@pytest.mark.parametrize("name", sorted(MARKER_INDEX))
def test_a_rerun_reads_the_changes_through_the_marker_index(
    platform: Platform, name: str, horizon: datetime | None
) -> None:
    plan = _plan(platform, name, _watermark(name), horizon)
    # on SQLite a second read takes markers stored as numbers (sorted before any watermark)
    # through the same index: the rerun still scans no table
    assert plan.count(MARKER_INDEX[name]) == (
        2 if platform.db.engine.dialect.name == "sqlite" else 1
    )


@pytest.mark.parametrize("name", ["declarations", "gate_events", "bookings"])
def test_a_first_run_up_to_the_horizon_reads_the_table_straight_through(
    platform: Platform, name: str
) -> None:
    """Nearly every row is before the horizon: walking the marker index and fetching each row
    from it would be slower than the table (SQLite keeps no histogram to know)."""
    if platform.db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's planner weighs the horizon by its own statistics")
    assert MARKER_INDEX[name] not in _plan(platform, name, None, HORIZON)
