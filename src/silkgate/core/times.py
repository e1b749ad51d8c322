"""Times at the API boundary: always RFC 3339 with an offset, compared in UTC.

SQLite hands back stored times without their offset (they are stored in UTC); PostgreSQL hands
them back in the session's time zone. ``Utc`` makes both the same aware UTC time in every
response, and ``as_utc`` turns a filter time with any offset into the UTC instant the column
is compared with on both databases.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator


def as_utc(value: datetime) -> datetime:
    """The same instant in UTC; a naive time is taken to be UTC already (as stored)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


#: A time in a response: serialised as RFC 3339 in UTC (``2026-12-03T06:28:00Z``).
Utc = Annotated[datetime, AfterValidator(as_utc)]
