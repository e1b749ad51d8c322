"""Parameters and SQL fragments several jobs share (one wording, one meaning)."""

from __future__ import annotations

from silkgate.analytics.jobs.params import EARLIEST, LATEST
from silkgate.analytics.jobs.spec import Kind, Param

SINCE = Param("since", Kind.DATE, "First crossing day included (YYYY-MM-DD).", EARLIEST)
UNTIL = Param("until", Kind.DATE, "Last crossing day included (YYYY-MM-DD).", LATEST)
HS = Param("hs", Kind.HS, "Only goods of this HS chapter, heading or subheading.")
LEVEL = Param(
    "level",
    Kind.CHOICE,
    "HS detail of the rows: chapter (2 digits), heading (4) or subheading (6).",
    "chapter",
    choices=("chapter", "heading", "hs6"),
)
CROSSING = Param("crossing", Kind.CROSSING, "Only this crossing (code, e.g. KHG-NZH).")

#: The HS code at the requested level, from a goods item's ``hs6``.
HS_AT_LEVEL = (
    "CASE {level} WHEN 'chapter' THEN substr(hs6, 1, 2) "
    "WHEN 'heading' THEN substr(hs6, 1, 4) ELSE hs6 END"
)
#: A month as YYYY-MM, and as a number that steps by one a month (for growth joins).
MONTH = "substr(cast({col} AS string), 1, 7)"
MONTH_INDEX = "(year({col}) * 12 + month({col}))"
#: 1 when the row's data is protected by the minimum cell size for this run: any country's but
#: ``{home_country}`` (the compute country for the platform itself, a customs authority's own
#: country for it; '' for any other reader, so every row).
FOREIGN = "CASE WHEN {col} <> {{home_country}} THEN 1 ELSE 0 END"


def month(col: str) -> str:
    return MONTH.format(col=col)


def month_index(col: str) -> str:
    return MONTH_INDEX.format(col=col)


def foreign(col: str = "owner_country") -> str:
    return FOREIGN.format(col=col)


#: Traders of a group's declarations; unknown (null, so a small cell) when a declaration of it
#: was not read (its partition excluded, say): they are never counted as none.
TRADERS = "CASE WHEN count(trader_ref) = count(*) THEN count(DISTINCT trader_ref) END"


def traders_of(flag: str) -> str:
    """Distinct traders of the rows where ``flag`` is 1; unknown (null) as ``TRADERS``."""
    ref = f"CASE WHEN {flag} = 1 THEN trader_ref END"
    return f"CASE WHEN count({ref}) = sum({flag}) THEN count(DISTINCT {ref}) END"


def enough(declarations: str, traders: str) -> str:
    """SQL: at least the minimum cell size of both declarations and traders."""
    return f"({declarations} >= {{min_cell_size}} AND {traders} >= {{min_cell_size}})"


def enough_or_none(declarations: str, traders: str) -> str:
    """SQL: ``enough``, or no declarations at all (a part of none describes no one)."""
    return f"({declarations} = 0 OR {enough(declarations, traders)})"


#: An ISO 8601 week as YYYY-Www: a week is Monday to Sunday and belongs to the year of its
#: Thursday (so 2024-12-30 is in 2025-W01 and 2021-01-03 in 2020-W53). ``weekofyear`` is the
#: ISO week number in both engines; the year is corrected at the turn of the year.
ISO_WEEK = (
    "cast(CASE WHEN weekofyear({col}) >= 52 AND month({col}) = 1 THEN year({col}) - 1 "
    "WHEN weekofyear({col}) = 1 AND month({col}) = 12 THEN year({col}) + 1 "
    "ELSE year({col}) END AS string) || '-W' || lpad(cast(weekofyear({col}) AS string), 2, '0')"
)
#: Days since 1970-01-01 and weeks since Monday 1970-01-05 (steps of one, for trend joins).
DAY_INDEX = "cast(floor(cast(unix_seconds(cast({col} AS timestamp)) AS double) / 86400) AS bigint)"
WEEK_INDEX = (
    "cast(floor(cast(unix_seconds(cast({col} AS timestamp)) - 345600 AS double) / 604800) "
    "AS bigint)"
)


def period_label(col: str) -> str:
    """The ``{period}`` parameter's label of a date: YYYY-MM-DD, YYYY-Www or YYYY-MM."""
    return (
        f"CASE {{period}} WHEN 'day' THEN cast({col} AS string) "
        f"WHEN 'week' THEN {ISO_WEEK.format(col=col)} ELSE {month(col)} END"
    )


def period_index(col: str) -> str:
    """A number that steps by one from each period to the next (day, week or month)."""
    return (
        f"CASE {{period}} WHEN 'day' THEN {DAY_INDEX.format(col=col)} "
        f"WHEN 'week' THEN {WEEK_INDEX.format(col=col)} ELSE {month_index(col)} END"
    )
