"""Domain errors that every entry point turns into RFC 9457 problem details."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer
from pydantic.json_schema import SkipJsonSchema


@dataclass(frozen=True)
class FieldError:
    """One problem with one field; ``field`` is a JSON pointer into the input.

    A problem with the input as a whole (malformed JSON, too large, too many lines) has no
    field: ``field`` is None and the ``field`` member is left out of the problem document,
    because the pointer ``""`` (and ``"/"``) would name a part of the input.
    """

    field: str | None
    code: str
    message: str

    def __post_init__(self) -> None:
        if self.field == "":
            object.__setattr__(self, "field", None)

    def as_dict(self) -> dict[str, str]:
        out = {"code": self.code, "message": self.message}
        if self.field is not None:
            out = {"field": self.field, **out}
        return out


@dataclass
class SilkgateError(Exception):
    """Base error carrying an HTTP-like status, a title and field errors."""

    title: str
    status: int = 400
    detail: str = ""
    errors: list[FieldError] = field(default_factory=list)
    type_slug: str = "bad-request"

    def __str__(self) -> str:
        parts = [self.detail or self.title]
        parts += [f"{e.field or '(whole input)'}: {e.message}" for e in self.errors]
        return "; ".join(parts)


class ValidationFailed(SilkgateError):
    """Input is well-formed but breaks a rule; status 422."""

    def __init__(self, errors: list[FieldError], detail: str = "The input is not valid.") -> None:
        super().__init__("Validation failed", 422, detail, errors, "validation-failed")


class NotFound(SilkgateError):
    """Missing or not visible to the caller (the two are indistinguishable on purpose)."""

    def __init__(self, what: str) -> None:
        super().__init__("Not found", 404, f"{what} not found", [], "not-found")


class Conflict(SilkgateError):
    """The request clashes with stored state (duplicate LRN, wrong lifecycle state)."""

    def __init__(self, detail: str, errors: list[FieldError] | None = None) -> None:
        super().__init__("Conflict", 409, detail, errors or [], "conflict")


class Forbidden(SilkgateError):
    """Authenticated but the organization's roles do not allow this operation."""

    def __init__(self, detail: str) -> None:
        super().__init__("Forbidden", 403, detail, [], "forbidden")


class Unavailable(SilkgateError):
    """The database could not take the request now (a lock held elsewhere, a lost connection);
    nothing was stored and the same request can be sent again after ``retry_after`` seconds."""

    def __init__(self, detail: str, retry_after: int = 1) -> None:
        super().__init__("Service unavailable", 503, detail, [], "unavailable")
        self.retry_after = retry_after


class InternalError(SilkgateError):
    """The server failed on this request alone; nothing of it was stored."""

    def __init__(self, detail: str = "The server failed; nothing was stored.") -> None:
        super().__init__("Internal error", 500, detail, [], "internal-error")


def pointer(*parts: str | int) -> str:
    """Build a JSON pointer (RFC 6901) from path parts."""
    out = ""
    for p in parts:
        out += "/" + str(p).replace("~", "~0").replace("/", "~1")
    return out


class ProblemFieldError(BaseModel):
    """One problem with one input field; ``field`` is absent when the whole input is at fault."""

    field: str | SkipJsonSchema[None] = Field(
        default=None,
        description="JSON pointer into the request body (e.g. `/goods_items/0/hs_code`), or "
        "`/query/<name>`, `/path/<name>`, `/headers/<name>`; absent for the whole input",
    )
    code: str = Field(description="machine-readable reason, e.g. `required`, `control_character`")
    message: str

    @model_serializer(mode="wrap")
    def _omit_missing_field(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        out: dict[str, Any] = handler(self)
        if out.get("field") is None:
            out.pop("field", None)
        return out


class Problem(BaseModel):
    """RFC 9457 problem details with Silkgate's ``errors`` extension."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[ProblemFieldError]
