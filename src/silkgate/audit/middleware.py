"""ASGI middleware around every write request: its ``WriteContext`` and its signed receipt.

For a POST, PUT, PATCH or DELETE under the API it opens the write's context (so a verified
signature is stored with what the write stores, and the audit entries are counted), hashes the
request body as the application reads it and, when the answer is a 2xx to an authenticated
organization, holds the answer back until its body is complete, hashes it and adds the
``Silkgate-Receipt`` header: a compact JWS by the platform key (``audit.receipts``). The body is
sent unchanged. Should signing the receipt fail, the committed write is still answered, with
``Silkgate-Receipt-Error`` instead, and the failure is logged.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from silkgate.audit import checkpoints, receipts
from silkgate.audit.submissions import request_target
from silkgate.core.signing import sha256_hex
from silkgate.core.writes import WriteContext, close_write, open_write

if TYPE_CHECKING:
    from silkgate.core.platform import Platform

log = logging.getLogger("silkgate.audit")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class WriteReceipts:
    """The write context of each write request, and its receipt header (see module doc)."""

    def __init__(self, app: ASGIApp, platform: Platform, prefix: str = "/api/") -> None:
        self.app = app
        self.platform = platform
        self.prefix = prefix
        self.failures = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in WRITE_METHODS
            or not scope["path"].startswith(self.prefix)
        ):
            await self.app(scope, receive, send)
            return
        write = WriteContext(scope["method"], request_target(scope))
        token = open_write(write)
        try:
            if self.platform.settings.write_receipts:
                await self._with_receipt(write, scope, receive, send)
            else:
                await self.app(scope, receive, send)
        finally:
            close_write(token)

    async def _with_receipt(
        self, write: WriteContext, scope: Scope, receive: Receive, send: Send
    ) -> None:
        digest = hashlib.sha256()
        size = 0
        complete = False

        async def hashing_receive() -> Message:
            nonlocal size, complete
            message = await receive()
            if message["type"] == "http.request" and not complete:
                chunk = message.get("body", b"")
                digest.update(chunk)
                size += len(chunk)
                complete = not message.get("more_body", False)
            return message

        start: Message | None = None
        chunks: list[bytes] = []

        async def holding_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            headers = list(start.get("headers", []))
            status = int(start["status"])
            if 200 <= status < 300 and write.member_id is not None:
                if not complete:  # the route did not read the whole body: read the rest
                    await _drain(hashing_receive)
                request = (digest.hexdigest(), size) if complete else (None, None)
                headers.append(await self._receipt_header(write, status, request, body))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await self.app(scope, hashing_receive, holding_send)

    async def _receipt_header(
        self,
        write: WriteContext,
        status: int,
        request: tuple[str | None, int | None],
        body: bytes,
    ) -> tuple[bytes, bytes]:
        try:
            path = self.platform.settings.checkpoint_path
            cp = checkpoints.latest_cached(path)
            if cp is None:  # no checkpoint yet: sign one (a query and a file append)
                cp = await run_in_threadpool(checkpoints.latest_covering, self.platform, 0)
            claims = receipts.write_receipt_claims(
                write, status, request, (sha256_hex(body), len(body)), cp
            )
            token = receipts.sign_write_receipt(self.platform.signer, claims)
        except Exception as exc:  # the write is committed: answer it all the same
            self.failures += 1
            log.exception("could not sign the receipt of %s %s", write.method, write.target)
            reason = f"{type(exc).__name__}: the receipt could not be signed"
            return b"silkgate-receipt-error", reason.encode("latin-1", "replace")
        return receipts.RECEIPT_HEADER.lower().encode("ascii"), token.encode("ascii")


async def _drain(receive: Receive) -> None:
    """Read what is left of the request body (bounded by the body-size limit outside)."""
    try:
        while True:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                return
    except Exception:  # a refused or broken body: the receipt then names no request digest
        log.warning("request body could not be read to the end for its receipt")
