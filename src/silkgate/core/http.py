"""HTTP plumbing: problem-details responses and their OpenAPI shape, body limits, media types."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from silkgate.core.db import db_problem, is_transient
from silkgate.core.errors import FieldError, InternalError, SilkgateError, Unavailable, pointer
from silkgate.core.platform import Platform
from silkgate.core.validation import describe

log = logging.getLogger("silkgate.api")
PROBLEM = "application/problem+json"
JSON = "application/json"
NDJSON = "application/x-ndjson"
PROBLEM_BASE = "https://silkgate.dev/problems/"
FASTAPI_BODY_ERROR = "There was an error parsing the body"


def problem(
    status: int,
    title: str,
    detail: str,
    slug: str,
    errors: list[FieldError] | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """An RFC 9457 problem-details response with Silkgate's ``errors`` extension."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "errors": [e.as_dict() for e in errors or []],
    }
    if instance:
        body["instance"] = instance
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SilkgateError)
    async def _silkgate(request: Request, exc: SilkgateError) -> JSONResponse:
        return _problem_of(exc, request)

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        found = db_problem(exc)
        if is_transient(exc):
            log.warning("database unavailable on %s: %s", request.url.path, exc.orig)
        elif isinstance(found, InternalError):
            log.error("database error on %s", request.url.path, exc_info=exc)
        return _problem_of(found, request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            loc = list(err.get("loc", ()))
            if err.get("type") == "json_invalid":
                # FastAPI's loc is ("body", character offset): the whole body is at fault
                at = f" at character {loc[1]}" if len(loc) > 1 else ""
                errors.append(FieldError(None, "malformed_json", f"not valid JSON{at}"))
                continue
            if loc and loc[0] == "body":
                loc = loc[1:]
            elif loc and loc[0] == "header":
                loc = ["headers", *(str(p).lower() for p in loc[1:])]
            errors.append(FieldError(pointer(*loc), *describe(err)))
        return problem(
            422,
            "Validation failed",
            "The request is not valid.",
            "validation-failed",
            errors,
            request.url.path,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == FASTAPI_BODY_ERROR:
            # FastAPI could not decode the body (e.g. not UTF-8): invalid input like any other
            return problem(
                422,
                "Validation failed",
                "The request body could not be read.",
                "validation-failed",
                [FieldError(None, "malformed_json", "the body is not UTF-8 JSON")],
                request.url.path,
            )
        slug = {
            401: "unauthorized",
            404: "not-found",
            405: "method-not-allowed",
            415: "unsupported-media-type",
        }.get(exc.status_code, "http-error")
        return problem(
            exc.status_code,
            str(exc.detail),
            str(exc.detail),
            slug,
            None,
            request.url.path,
            getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return problem(
            500,
            "Internal error",
            "The server failed; nothing was stored.",
            "internal-error",
            None,
            request.url.path,
        )


def _problem_of(exc: SilkgateError, request: Request) -> JSONResponse:
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Unavailable) else None
    return problem(
        exc.status, exc.title, exc.detail, exc.type_slug, exc.errors, request.url.path, headers
    )


class BodySizeLimit:
    """Refuse request bodies larger than the limit (``per_path`` overrides it) with a 413."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, per_path: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.default_max = max_bytes
        self.per_path = per_path or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.per_path.get(scope.get("path", ""), self.default_max)
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > max_bytes:
                await self._refuse(scope, receive, send, max_bytes)
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_bytes:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._refuse(scope, receive, send, max_bytes)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
        response = problem(
            413,
            "Payload too large",
            f"request bodies are limited to {max_bytes} bytes",
            "payload-too-large",
            [FieldError(None, "too_large", f"more than {max_bytes} bytes")],
            scope.get("path"),
        )
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


async def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


# --------------------------------------------------------------------------- OpenAPI description


_PROBLEM_TEXT = {
    400: "Bad request",
    401: "Missing, unknown or revoked API key",
    403: "The organization's roles do not allow this",
    404: "Not found, or not visible to the caller",
    409: "Conflicts with stored state (duplicate LRN, wrong lifecycle state)",
    413: "Request body larger than the limit",
    415: "Unsupported Content-Type",
    422: "Invalid input; each error names its field",
    429: "Rate limit reached; wait the seconds in Retry-After",
    503: "Not ready",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for problem+json answers with the given statuses."""
    ref = {"$ref": "#/components/schemas/Problem"}
    return {
        s: {"description": _PROBLEM_TEXT[s], "content": {PROBLEM: {"schema": ref}}}
        for s in statuses
    }


#: What every authenticated route can answer with (422 is added where a route takes input).
AUTHENTICATED = problem_responses(401)


def document_problems(schema: dict[str, Any]) -> None:
    """Describe FastAPI's own 422 answers as the problem+json they really are."""
    for ops in schema.get("paths", {}).values():
        for op in ops.values():
            if not isinstance(op, dict):
                continue
            response = op.get("responses", {}).get("422")
            if response is not None and PROBLEM not in response.get("content", {}):
                op["responses"]["422"] = problem_responses(422)[422]
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)


def media_type_of(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def require_media_type(*allowed: str) -> Callable[[Request], Awaitable[None]]:
    """A dependency refusing a body of another Content-Type with a 415 problem."""

    async def check(request: Request) -> None:
        got = media_type_of(request)
        if got not in allowed:
            raise SilkgateError(
                "Unsupported media type",
                415,
                f"send the body as {' or '.join(allowed)}",
                [
                    FieldError(
                        "/headers/content-type",
                        "unsupported_media_type",
                        f"{got or 'no Content-Type'} is not {' or '.join(allowed)}",
                    )
                ],
                "unsupported-media-type",
            )

    return check


require_json = require_media_type(JSON)
