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
#: 1 when the row is another country's data than where the job computes.
FOREIGN = "CASE WHEN {col} <> {{compute_country}} THEN 1 ELSE 0 END"


def month(col: str) -> str:
    return MONTH.format(col=col)


def month_index(col: str) -> str:
    return MONTH_INDEX.format(col=col)


def foreign(col: str = "owner_country") -> str:
    return FOREIGN.format(col=col)
