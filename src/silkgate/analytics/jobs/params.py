"""Analysts' parameters: checked against code lists and each other, then made SQL literals.

Every problem names its parameter as ``/params/<name>``; an unknown parameter is an error,
not ignored (a typo would otherwise run the job unfiltered).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any

from silkgate.analytics.jobs.spec import Job, Kind, Param
from silkgate.codelists.countries import is_country
from silkgate.codelists.crossings import load_crossings
from silkgate.codelists.hs import is_hs_prefix
from silkgate.core.errors import FieldError, ValidationFailed

#: Dates that stand for "no bound" when an analyst leaves ``since``/``until`` out.
EARLIEST, LATEST = dt.date(1900, 1, 1), dt.date(9999, 12, 31)
TEXT_MAX = 128


def _check_one(p: Param, raw: Any) -> tuple[Any, FieldError | None]:
    where = f"/params/{p.name}"
    text = raw.strip() if isinstance(raw, str) else raw
    if p.kind is Kind.DATE:
        if isinstance(text, dt.date):
            return text, None
        try:
            return dt.date.fromisoformat(str(text)), None
        except ValueError:
            return None, FieldError(where, "bad_date", f"{raw!r} is not a date (YYYY-MM-DD)")
    if p.kind is Kind.HS:
        code = str(text)
        if not is_hs_prefix(code):
            why = "2, 4 or 6 digits" if not (code.isdigit() and len(code) in (2, 4, 6)) else ""
            reason = f"must be {why}" if why else "is not in the HS nomenclature"
            return None, FieldError(where, "unknown_hs", f"HS code {code!r} {reason}")
        return code, None
    if p.kind is Kind.COUNTRY:
        code = str(text).upper()
        if not is_country(code):
            return None, FieldError(where, "unknown_country", f"{raw!r} is not an ISO 3166 code")
        return code, None
    if p.kind is Kind.CROSSING:
        known = [c.code for c in load_crossings()]
        if text not in known:
            msg = f"unknown crossing {raw!r}; known: {', '.join(known)}"
            return None, FieldError(where, "unknown_crossing", msg)
        return text, None
    if p.kind is Kind.CHOICE:
        if text not in p.choices:
            msg = f"{raw!r} is not one of {', '.join(p.choices)}"
            return None, FieldError(where, "not_a_choice", msg)
        return text, None
    if p.kind is Kind.TEXT:
        value = str(text)
        if len(value) > TEXT_MAX or not value.isprintable():
            msg = f"must be printable text of at most {TEXT_MAX} characters"
            return None, FieldError(where, "bad_text", msg)
        return value, None
    return _number(p, text, where)


def _number(p: Param, raw: Any, where: str) -> tuple[Any, FieldError | None]:
    cast = int if p.kind is Kind.INT else float
    try:
        if isinstance(raw, bool) or (cast is int and isinstance(raw, float)):
            raise ValueError
        value = cast(raw)
    except (TypeError, ValueError):
        return None, FieldError(
            where, "not_a_number", f"{raw!r} is not a{'n integer' if cast is int else ' number'}"
        )
    if isinstance(value, float) and not math.isfinite(value):
        return None, FieldError(where, "not_a_number", f"{raw!r} is not a finite number")
    if p.minimum is not None and value < p.minimum:
        return None, FieldError(where, "too_small", f"must be at least {p.minimum:g}, not {value}")
    if p.maximum is not None and value > p.maximum:
        return None, FieldError(where, "too_large", f"must be at most {p.maximum:g}, not {value}")
    return value, None


def check(job: Job, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """The job's parameters as typed values (defaults filled), or ``ValidationFailed``."""
    given = dict(given or {})
    known = {p.name for p in job.params}
    errors = [
        FieldError(
            f"/params/{name}",
            "unknown_param",
            f"{job.name} has no parameter {name!r}; it has: {', '.join(sorted(known)) or 'none'}",
        )
        for name in given
        if name not in known
    ]
    values: dict[str, Any] = {}
    for p in job.params:
        raw = given.get(p.name)
        if raw is None or raw == "":
            if p.required:
                errors.append(FieldError(f"/params/{p.name}", "required", "is required"))
            values[p.name] = p.default
            continue
        value, error = _check_one(p, raw)
        if error:
            errors.append(error)
        values[p.name] = value
    since, until = values.get("since"), values.get("until")
    if isinstance(since, dt.date) and isinstance(until, dt.date) and until < since:
        errors.append(
            FieldError("/params/until", "inverted_range", f"until {until} is before since {since}")
        )
    if not errors:
        for test in job.checks:
            errors.extend(test(values))
    if errors:
        raise ValidationFailed(errors)
    return values


def literal(value: Any, kind: Kind | None = None) -> str:
    """An SQL literal both engines read the same way (strings quoted, never spliced raw)."""
    if value is None:
        if kind is Kind.DATE:
            raise ValueError("a date parameter needs a default")
        return "''" if kind not in (Kind.INT, Kind.FLOAT) else "NULL"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"CAST('{value!r}' AS DOUBLE)"  # a bare 1.5 is a DECIMAL to both engines
    return _string(str(value))


#: Characters an engine may read as more than themselves inside a quoted string: Spark takes a
#: backslash as an escape (a value with ``\'`` in it would close the string early and run the
#: rest as SQL) and ``${...}`` as a variable to substitute (``${env:HOME}`` read as /root),
#: DuckDB takes neither. They are never quoted but written as ``chr(n)``, which every engine
#: reads the same way.
_QUOTED_APART = re.compile(r"(['\\$])")


def _string(text: str) -> str:
    """A string literal: quoted runs joined with ``chr()`` of each quote, backslash and $."""
    pieces = [
        f"chr({ord(part)})" if _QUOTED_APART.fullmatch(part) else f"'{part}'"
        for part in _QUOTED_APART.split(text)
        if part
    ]
    if len(pieces) == 1:
        return pieces[0]
    return "(" + " || ".join(pieces) + ")" if pieces else "''"


def render(job: Job, values: Mapping[str, Any], extra: Mapping[str, str]) -> str:
    """The job's SQL with every placeholder replaced by a literal (or the run's fragments)."""
    kinds = {p.name: p.kind for p in job.params}
    filled = {name: literal(v, kinds.get(name)) for name, v in values.items()}
    if "since" in values and "until" in values:
        first, last = whole_months(values["since"], values["until"])
        filled |= {"first_whole_month": str(first), "last_whole_month": str(last)}
    return job.sql.format_map({**filled, **extra})


def whole_months(since: dt.date, until: dt.date) -> tuple[int, int]:
    """The first and last month (as ``year * 12 + month``, the jobs' month index) lying wholly
    within since..until: a month cut by either bound is not whole (its totals are partial)."""
    first = since.year * 12 + since.month + (since.day != 1)
    month_end = until == dt.date.max or (until + dt.timedelta(days=1)).day == 1
    last = until.year * 12 + until.month - (not month_end)
    return first, last
