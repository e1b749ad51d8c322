"""HTTP plumbing: problem-details responses, body-size limit and bearer authentication."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import DBAPIError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from silkgate.core.db import db_problem, is_transient
from silkgate.core.errors import FieldError, InternalError, SilkgateError, Unavailable, pointer
from silkgate.core.platform import Platform
from silkgate.registry.service import Caller, authenticate, cached_caller

log = logging.getLogger("silkgate.api")
PROBLEM = "application/problem+json"
PROBLEM_BASE = "https://silkgate.dev/problems/"


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
            if loc and loc[0] == "body":
                loc = loc[1:]
            code = "malformed_json" if err.get("type") == "json_invalid" else str(err.get("type"))
            errors.append(FieldError(pointer(*loc), code, str(err.get("msg"))))
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
        slug = {401: "unauthorized", 404: "not-found", 405: "method-not-allowed"}.get(
            exc.status_code, "http-error"
        )
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
    """Refuse request bodies larger than the configured limit with a 413 problem."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            413,
            "Payload too large",
            f"request bodies are limited to {self.max_bytes} bytes",
            "payload-too-large",
            [FieldError("", "too_large", f"more than {self.max_bytes} bytes")],
        )
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


_bearer = HTTPBearer(auto_error=False, description="An API key issued with `silkgate key create`.")


async def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


async def current_caller(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Caller:
    """The organization behind the bearer token; 401 problem otherwise."""
    if credentials is None:
        raise SilkgateError(
            "Unauthorized",
            401,
            "send Authorization: Bearer <api key>",
            [FieldError("/headers/authorization", "missing", "no bearer token")],
            "unauthorized",
        )
    platform: Platform = request.app.state.platform
    # A cached key is answered on the event loop; only a miss goes to the database.
    caller = cached_caller(platform, credentials.credentials)
    if caller is None:
        caller = await run_in_threadpool(authenticate, platform, credentials.credentials)
    if caller is None:
        raise SilkgateError(
            "Unauthorized",
            401,
            "unknown, revoked or malformed API key",
            [FieldError("/headers/authorization", "invalid", "API key not accepted")],
            "unauthorized",
        )
    return caller
