"""Turn pydantic errors into field errors with JSON pointers; read JSON documents strictly."""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from silkgate.core.errors import FieldError, ValidationFailed, pointer
from silkgate.core.text import control_error

M = TypeVar("M", bound=BaseModel)

_CODES = {
    "missing": "required",
    "extra_forbidden": "unknown_field",
    "string_pattern_mismatch": "format",
    "json_invalid": "malformed_json",
}


def describe(err: Any) -> tuple[str, str]:
    """Silkgate's (code, message) for one pydantic error: its type, with friendlier names."""
    kind = str(err.get("type"))
    if kind == "string_pattern_mismatch":
        control = control_error(err.get("input"), str((err.get("ctx") or {}).get("pattern")))
        if control is not None:
            return control
    return _CODES.get(kind, kind), str(err.get("msg"))


def field_errors(exc: ValidationError, skip_loc: int = 0) -> list[FieldError]:
    """One FieldError per pydantic error; ``skip_loc`` drops leading loc parts (e.g. 'body')."""
    out = []
    for err in exc.errors(include_url=False):
        loc = [p for p in err.get("loc", ())[skip_loc:]]
        out.append(FieldError(pointer(*loc) or None, *describe(err)))
    return out


def parse_model(model: type[M], data: Any) -> M:
    """Validate python data into ``model`` or raise ValidationFailed naming each field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(field_errors(exc)) from exc


class _DuplicateKey(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        raise _DuplicateKey
    return d


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _duplicate_pointer(raw: str | bytes) -> tuple[str, str]:
    """Pointer and name of the first repeated key (slow path, only once one is known)."""
    found: list[tuple[list[tuple[str, Any]], str]] = []

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen and not found:
                found.append((pairs, k))
            seen.add(k)
        return _Marked(pairs)

    doc = json.loads(raw, object_pairs_hook=hook)
    pairs, key = found[0]

    def walk(node: Any, path: list[str | int]) -> list[str | int] | None:
        if isinstance(node, _Marked):
            if node.pairs is pairs:
                return path
            items: Any = node.pairs
        elif isinstance(node, list):
            items = enumerate(node)
        else:
            return None
        for k, v in items:
            hit = walk(v, [*path, k])
            if hit is not None:
                return hit
        return None

    where = walk(doc, []) or []
    return pointer(*where, key), key


class _Marked(dict[str, Any]):
    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs


def load_json(raw: str | bytes) -> Any:
    """Parse a JSON document strictly; repeated keys, NaN/Infinity, bad UTF-8 and nesting
    too deep to parse are field errors (a repeated key is named by its pointer)."""
    try:
        return json.loads(raw, object_pairs_hook=_no_duplicates, parse_constant=_refuse_constant)
    except _DuplicateKey:
        where, key = _duplicate_pointer(raw)
        raise ValidationFailed(
            [FieldError(where, "duplicate_key", f"the key {key!r} appears more than once")]
        ) from None
    except UnicodeDecodeError as exc:
        raise ValidationFailed(
            [FieldError(None, "malformed_json", f"not UTF-8: {exc.reason} at byte {exc.start}")]
        ) from None
    except ValueError as exc:  # json.JSONDecodeError and the refused constants
        raise ValidationFailed([FieldError(None, "malformed_json", str(exc))]) from None
    except RecursionError:
        raise ValidationFailed([FieldError(None, "too_deep", "nested too deeply")]) from None


_SPACED = re.compile(r'"\s')
_SPACED_BYTES = re.compile(rb'"\s')


def _keys_in(text: str | bytes) -> int | None:
    """Keys in a valid JSON text whose keys are field names (no quote or backslash in them):
    each ends with ``":`` and a quote inside a string value is escaped as ``\\"``. None when
    a quote is followed by white space (a key might end ``" :``): count by parsing then."""
    if isinstance(text, bytes):
        if _SPACED_BYTES.search(text):
            return None
        return text.count(b'":') - text.count(b'\\":')
    if _SPACED.search(text):
        return None
    return text.count('":') - text.count('\\":')


def parse_json(model: type[M], raw: str | bytes) -> M:
    """Validate a JSON document into ``model`` with ``load_json``'s strict rules.

    For models that forbid unknown keys and hold no free-form objects (a declaration):
    pydantic-core parses and validates in one pass, and a key count shows whether a key was
    repeated (the parser keeps the last); only then, or on any error, is the document read
    again by ``load_json`` to name what is wrong.
    """
    try:
        parsed = model.model_validate_json(raw)
    except ValidationError as exc:
        load_json(raw)  # a repeated key or a malformed document is the first thing to report
        raise ValidationFailed(field_errors(exc)) from exc
    keys = _keys_in(raw)
    if keys is None or keys != _keys_in(
        parsed.__pydantic_serializer__.to_json(parsed, exclude_unset=True)
    ):
        load_json(raw)  # raises naming a repeated key, if there is one
    return parsed
