"""Analytics operations: check an export's parameters, read changed rows in a stream, export.

Rows are read through ``stream_changes`` only: a server-side cursor on PostgreSQL, the lazy
SQLite cursor otherwise, in partitions of ``batch`` rows, so a table of 10 million rows never
sits in memory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    DateTime,
    String,
    and_,
    func,
    literal,
    select,
    tuple_,
    type_coerce,
)
from sqlalchemy.orm import Session

from silkgate.analytics.datasets import DATASETS, Dataset
from silkgate.analytics.schemas import ExportReport, Watermark
from silkgate.core.errors import FieldError, ValidationFailed
from silkgate.core.platform import Platform

OnProgress = Callable[[str, int, int], None]  # dataset, rows done in this call, rows expected


def check_datasets(names: Sequence[str] | None) -> list[str]:
    """The datasets to export, in the lake's order; all when none are named."""
    if not names:
        return list(DATASETS)
    errors = [
        FieldError(
            f"/datasets/{i}",
            "unknown_dataset",
            f"unknown dataset {n!r}; known: {', '.join(DATASETS)}",
        )
        for i, n in enumerate(names)
        if n not in DATASETS
    ]
    if errors:
        raise ValidationFailed(errors)
    return [n for n in DATASETS if n in names]


def check_until(value: str | dt.date | None) -> dt.date | None:
    """``--until``: a calendar day (YYYY-MM-DD); changes after its end wait for a later run."""
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(
            [FieldError("/until", "bad_date", f"{value!r} is not a date (YYYY-MM-DD)")]
        ) from None


def check_settle(settle: float | None) -> None:
    if settle is not None and not settle >= 0:
        raise ValidationFailed(
            [FieldError("/settle", "negative", f"settle seconds must be 0 or more, not {settle}")]
        )


def horizon_for(platform: Platform, settle: float | None, until: dt.date | None) -> datetime | None:
    """The newest change marker this run exports; None: every committed change."""
    check_settle(settle)
    settle = platform.settings.analytics_settle_seconds if settle is None else settle
    bounds = []
    if settle > 0:
        bounds.append(datetime.now(UTC) - timedelta(seconds=settle))
    if until is not None:
        # the end of the day at the crossings (their UTC offset), as a UTC instant
        offset = timedelta(hours=platform.settings.queue_utc_offset_hours)
        start = datetime.combine(until + timedelta(days=1), dt.time(), tzinfo=UTC)
        bounds.append(start - offset - timedelta(microseconds=1))
    return min(bounds) if bounds else None


def _window(
    ds: Dataset, after: Watermark | None, horizon: datetime | None
) -> list[ColumnElement[bool]]:
    cols = ds.cursor_sql()
    where: list[ColumnElement[bool]] = []
    if after is not None:
        values = [datetime.fromisoformat(after.marker), *after.key]
        bound = [literal(v, c.type) for v, c in zip(values, cols, strict=True)]
        where.append(tuple_(*cols) > tuple_(*bound))
    if horizon is not None:
        where.append(cols[0] <= literal(horizon, cols[0].type))
    return where


def count_changes(
    s: Session, ds: Dataset, after: Watermark | None, horizon: datetime | None
) -> tuple[int, int]:
    """Rows this run will read, and rows changed after the horizon (left for a later run)."""
    base = ds.query().with_only_columns(func.count(), maintain_column_froms=True)
    todo = s.execute(base.where(and_(True, *_window(ds, after, horizon)))).scalar_one()
    held = 0
    if horizon is not None:
        later = [*_window(ds, after, None), ds.cursor_sql()[0] > literal(horizon)]
        held = s.execute(base.where(and_(*later))).scalar_one()
    return int(todo), int(held)


def stream_changes(
    s: Session,
    ds: Dataset,
    after: Watermark | None,
    horizon: datetime | None,
    batch: int = 50_000,
) -> Iterator[Sequence[Any]]:
    """Rows changed after ``after`` up to ``horizon``, ``batch`` at a time, unordered.

    Core rows, not ORM rows (an ORM result cost a third of the run); on SQLite timestamps and
    dates are read as the stored text, which Arrow parses a column at a time."""
    stmt = ds.query().where(and_(True, *_window(ds, after, horizon)))
    conn = s.connection()
    if conn.dialect.name == "sqlite":
        stmt = stmt.with_only_columns(
            *(
                type_coerce(c, String).label(c.name) if isinstance(c.type, (DateTime, Date)) else c
                for c in stmt.selected_columns
            ),
            maintain_column_froms=True,
        )
    result = conn.execution_options(yield_per=batch).execute(stmt)
    try:
        yield from result.partitions()
    finally:
        result.close()


def export(
    platform: Platform,
    datasets: Sequence[str] | None = None,
    until: str | dt.date | None = None,
    settle: float | None = None,
    on_progress: OnProgress | None = None,
) -> ExportReport:
    """Export what changed since each dataset's watermark to the lake (``analytics.export``)."""
    from silkgate.analytics import export as exporting

    names = check_datasets(datasets)
    horizon = horizon_for(platform, settle, check_until(until))
    return exporting.run(platform, names, horizon, on_progress)


def count_rows(s: Session, table: Any) -> int:
    """Rows of a table (for tests and the benchmark's cross-checks)."""
    return int(s.execute(select(func.count()).select_from(table)).scalar_one())
