"""Turn pydantic errors into field errors with JSON pointers; read JSON documents strictly."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from silkgate.core.errors import FieldError, ValidationFailed, pointer

M = TypeVar("M", bound=BaseModel)

_CODES = {
    "missing": "required",
    "extra_forbidden": "unknown_field",
    "string_pattern_mismatch": "format",
    "json_invalid": "malformed_json",
}


def error_code(err: Any) -> str:
    """Silkgate's code for one pydantic error (its type, with a few friendlier names)."""
    kind = str(err.get("type"))
    return _CODES.get(kind, kind)


def field_errors(exc: ValidationError, skip_loc: int = 0) -> list[FieldError]:
    """One FieldError per pydantic error; ``skip_loc`` drops leading loc parts (e.g. 'body')."""
    out = []
    for err in exc.errors(include_url=False):
        loc = [p for p in err.get("loc", ())[skip_loc:]]
        out.append(FieldError(pointer(*loc) or None, error_code(err), err["msg"]))
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


def parse_json(model: type[M], raw: str | bytes) -> M:
    """Validate a JSON document into ``model``, read with ``load_json``'s strict rules."""
    return parse_model(model, load_json(raw))
