"""Bearer authentication for API routes: the organization behind an API key, and for writes
its detached request signature (``audit.submissions``).

API keys and organizations belong to the registry, so the dependency lives here; ``core``
only knows how to render the 401 problem.
"""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from silkgate.audit.submissions import check_request
from silkgate.core.errors import FieldError, SilkgateError
from silkgate.core.platform import Platform
from silkgate.core.writes import current_write
from silkgate.registry.service import Caller, authenticate, cached_caller

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_bearer = HTTPBearer(auto_error=False, description="An API key issued with `silkgate key create`.")


def _unauthorized(detail: str, code: str, message: str) -> SilkgateError:
    return SilkgateError(
        "Unauthorized",
        401,
        detail,
        [FieldError("/headers/authorization", code, message)],
        "unauthorized",
    )


async def current_caller(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Caller:
    """The organization behind the bearer token; 401 problem otherwise."""
    if credentials is None:
        raise _unauthorized("send Authorization: Bearer <api key>", "missing", "no bearer token")
    platform: Platform = request.app.state.platform
    # A cached key is answered on the event loop; only a miss goes to the database.
    caller = cached_caller(platform, credentials.credentials)
    if caller is None:
        caller = await run_in_threadpool(authenticate, platform, credentials.credentials)
    if caller is None:
        raise _unauthorized(
            "unknown, revoked or malformed API key", "invalid", "API key not accepted"
        )
    if request.method not in SAFE_METHODS:
        write = current_write()
        if write is not None:
            write.member_id = caller.member_id
        # a write may carry the organization's detached signature: checked here, so every
        # write route gets it; required for organizations listed in the settings
        await check_request(request, platform, caller)
    return caller
