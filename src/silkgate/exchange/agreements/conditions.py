"""Agreement conditions in CEL (Common Expression Language), via ``common-expression-language``.

A condition is compiled when an agreement is saved and refused with its line, column and
reason when it does not parse, names a variable outside the activation below, calls a function
outside the allow-list (comprehension macros such as ``all``/``exists``/``map`` are refused: their
cost multiplies with nesting) or does not give true or false on a sample record.

The activation (what a condition can read) — every name is always present:

==================  =========  ===================================================
name                type       value
==================  =========  ===================================================
``crossing``        string     crossing code, e.g. ``"KHG-NZH"`` (``""`` if none)
``exit_country``    string     ISO 3166 alpha-2 of the exit side (``""`` if none)
``entry_country``   string     ISO 3166 alpha-2 of the entry side (``""`` if none)
``direction``       string     ``"<exit>-<entry>"``, e.g. ``"CN-KZ"`` (``""`` if none)
``declaration_type`` string    ``export``, ``import``, ``transit`` (``""`` if none)
``status``          string     the record's status, e.g. ``accepted`` (``""`` if none)
``category``        string     the data category read, e.g. ``pre_arrival``
``purpose``         string     the purpose the reader declared
``place``           string     alpha-2 where the reader processes the data
``consumer``        map        ``{member_id, country, roles}`` of the reader
``now``             timestamp  time of the decision (UTC)
==================  =========  ===================================================
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import cel

from silkgate.core.errors import FieldError, ValidationFailed

log = logging.getLogger(__name__)

MAX_CONDITION_LENGTH = 2000

ACTIVATION_NAMES = frozenset(
    {
        "crossing",
        "exit_country",
        "entry_country",
        "direction",
        "declaration_type",
        "status",
        "category",
        "purpose",
        "place",
        "consumer",
        "now",
    }
)
KEYWORDS = frozenset({"true", "false", "null", "in"})
GLOBAL_FUNCTIONS = frozenset(
    {"size", "int", "uint", "double", "string", "bool", "timestamp", "duration", "has", "type"}
)
METHODS = frozenset(
    {
        "startsWith",
        "endsWith",
        "contains",
        "matches",
        "size",
        "getFullYear",
        "getMonth",
        "getDate",
        "getDayOfMonth",
        "getDayOfWeek",
        "getDayOfYear",
        "getHours",
        "getMinutes",
    }
)

SAMPLE_ACTIVATION: dict[str, Any] = {
    "crossing": "KHG-NZH",
    "exit_country": "CN",
    "entry_country": "KZ",
    "direction": "CN-KZ",
    "declaration_type": "export",
    "status": "accepted",
    "category": "pre_arrival",
    "purpose": "customs_control",
    "place": "KZ",
    "consumer": {"member_id": "KZ/GOV/000000000000", "country": "KZ", "roles": ["customs"]},
    "now": datetime(2026, 1, 1, tzinfo=UTC),
}


@dataclass(frozen=True)
class ConditionError:
    """Why a condition was refused, and where (1-based line and column; None when unknown)."""

    code: str
    reason: str
    line: int | None = None
    column: int | None = None

    def message(self) -> str:
        where = f"line {self.line}, column {self.column}: " if self.line is not None else ""
        return where + self.reason

    def field_error(self, field: str = "/condition") -> FieldError:
        return FieldError(field, self.code, self.message())


_TOKEN = re.compile(
    r"""(?P<string>[rRbB]{0,2}(?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'))
    |(?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[uU]?|0[xX][0-9a-fA-F]+[uU]?)
    |(?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<space>\s+)
    |(?P<other>.)""",
    re.VERBOSE,
)


def _tokens(source: str) -> Iterator[tuple[str, str, int]]:
    for m in _TOKEN.finditer(source):
        kind = m.lastgroup or "other"
        if kind != "space":
            yield kind, m.group(), m.start()


def _line_col(source: str, offset: int) -> tuple[int, int]:
    line = source.count("\n", 0, offset) + 1
    return line, offset - (source.rfind("\n", 0, offset) + 1) + 1


def _names(source: str) -> ConditionError | None:
    """The first variable or function the condition may not use, with its position."""
    toks = list(_tokens(source))
    for i, (kind, text, offset) in enumerate(toks):
        if kind != "ident" or text in KEYWORDS:
            continue
        member = i > 0 and toks[i - 1][1] == "."
        call = i + 1 < len(toks) and toks[i + 1][1] == "("
        line, col = _line_col(source, offset)
        if call and member and text not in METHODS:
            return ConditionError(
                "cel_function_not_allowed",
                f"method {text}() is not allowed (allowed: {', '.join(sorted(METHODS))})",
                line,
                col,
            )
        if call and not member and text not in GLOBAL_FUNCTIONS:
            return ConditionError(
                "cel_function_not_allowed",
                f"function {text}() is not allowed (allowed: "
                f"{', '.join(sorted(GLOBAL_FUNCTIONS))})",
                line,
                col,
            )
        if not call and not member and text not in ACTIVATION_NAMES:
            return ConditionError(
                "cel_unknown_variable",
                f"unknown name {text!r}; a condition reads {', '.join(sorted(ACTIVATION_NAMES))}",
                line,
                col,
            )
    return None


_PARSE_AT = re.compile(r"<input>:(\d+):(\d+): (.*)")


def _parse_error(exc: Exception) -> ConditionError:
    m = _PARSE_AT.search(str(exc))
    if m is None:
        return ConditionError("cel_syntax", str(exc).splitlines()[0][:300])
    return ConditionError("cel_syntax", m.group(3)[:300], int(m.group(1)), int(m.group(2)))


@lru_cache(maxsize=4096)
def _compiled(source: str) -> Any:
    return cel.compile(source)


def check(source: str) -> ConditionError | None:
    """None if ``source`` is an acceptable condition, else why not (with its position)."""
    if not source.strip():
        return ConditionError("cel_empty", "the condition is empty; leave it out instead")
    if len(source) > MAX_CONDITION_LENGTH:
        return ConditionError(
            "cel_too_long", f"at most {MAX_CONDITION_LENGTH} characters, got {len(source)}"
        )
    try:
        program = _compiled(source)
    except (ValueError, RuntimeError) as exc:
        return _parse_error(exc)
    named = _names(source)
    if named is not None:
        return named
    try:
        result = program.execute(dict(SAMPLE_ACTIVATION))
    except Exception as exc:  # the library raises TypeError, KeyError, RuntimeError…
        return ConditionError("cel_type", f"fails on a sample record: {exc}"[:300])
    if not isinstance(result, bool):
        return ConditionError(
            "cel_not_bool",
            f"a condition must give true or false, this gives {type(result).__name__}",
        )
    return None


def compile_condition(source: str, field: str = "/condition") -> str:
    """The condition text if acceptable, else ValidationFailed naming position and reason."""
    problem = check(source)
    if problem is not None:
        raise ValidationFailed([problem.field_error(field)], "The condition is not valid CEL.")
    return source


@lru_cache(maxsize=4096)
def _referenced(source: str) -> tuple[str, ...]:
    return tuple(sorted(set(_compiled(source).variables()) & ACTIVATION_NAMES))


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


#: Results by (condition, values of the variables it reads). CEL has no side effects, so a
#: condition gives the same answer for the same values; the values repeat across records (a
#: few crossings, countries, types, statuses), so reads of a list mostly hit. Conditions that
#: read ``now`` are never memoised.
_MEMO: dict[tuple[str, tuple[Any, ...]], bool] = {}
MEMO_LIMIT = 100_000


def _run(source: str, variables: dict[str, Any]) -> bool:
    try:
        return _compiled(source).execute(variables) is True
    except Exception as exc:
        log.warning("agreement condition failed, treated as false: %s", exc)
        return False


def evaluate(source: str, activation: Mapping[str, Any]) -> bool:
    """The condition on one record; an error at run time counts as false (nothing shared)."""
    names = _referenced(source)
    variables = {n: activation[n] for n in names}
    if "now" in variables:
        return _run(source, variables)
    key = (source, tuple(_frozen(variables[n]) for n in names))
    hit = _MEMO.get(key)
    if hit is None:
        if len(_MEMO) >= MEMO_LIMIT:
            _MEMO.clear()
        hit = _MEMO[key] = _run(source, variables)
    return hit
