"""Turn pydantic errors into field errors with JSON pointers."""

from __future__ import annotations

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


def field_errors(exc: ValidationError, skip_loc: int = 0) -> list[FieldError]:
    """One FieldError per pydantic error; ``skip_loc`` drops leading loc parts (e.g. 'body')."""
    out = []
    for err in exc.errors(include_url=False):
        loc = [p for p in err.get("loc", ())[skip_loc:]]
        code = _CODES.get(err["type"], err["type"])
        out.append(FieldError(pointer(*loc), code, err["msg"]))
    return out


def parse_model(model: type[M], data: Any) -> M:
    """Validate python data into ``model`` or raise ValidationFailed naming each field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(field_errors(exc)) from exc


def parse_json(model: type[M], raw: str | bytes) -> M:
    """Validate a JSON document into ``model`` (malformed JSON is reported at the root)."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise ValidationFailed(field_errors(exc)) from exc
