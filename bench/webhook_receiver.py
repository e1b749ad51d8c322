"""A counterpart system's webhook receiver for the delivery benchmarks, run as its own process.

Run: .venv/bin/python bench/webhook_receiver.py --port P --public-key B64 --log FILE [--no-fsync]
Listens on 127.0.0.1 (uvicorn, HTTP/1.1 keep-alive). Each POST is checked as a real receiver
would (``silkgate.exchange.signing.verify_webhook``: key id, timestamp within 5 minutes,
Ed25519 signature over ``timestamp.body``; the body's ``id`` must equal
``Silkgate-Message-Id``); a bad one is answered 401 and logged as ``BAD``. A good one is
appended to ``--log`` as ``<message id>\\t<arrival, Unix seconds>\\t<digest of its data>`` and answered 204 only once
the line is on disk (fsync, shared by the requests waiting at that moment: group commit), so
what the log holds is what the receiver acknowledged — or more, never less. Every arrival is
logged, duplicates included: the benchmark counts them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from typing import Any

import uvicorn

from silkgate.core.signing import canonical_json, sha256_hex
from silkgate.exchange.signing import verify_webhook


class GroupSync:
    """fsync of the log shared by every write made before it starts."""

    def __init__(self, fd: int, enabled: bool) -> None:
        self.fd = fd
        self.enabled = enabled
        self.written = 0
        self.waiting: list[tuple[int, asyncio.Future[None]]] = []
        self.running = False

    async def durable(self) -> None:
        self.written += 1
        if not self.enabled:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append((self.written, fut))
        if not self.running:
            self.running = True
            asyncio.get_running_loop().create_task(self._run())
        await fut

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self.waiting:
                upto = self.written
                await loop.run_in_executor(None, os.fsync, self.fd)
                done = [f for n, f in self.waiting if n <= upto]
                self.waiting = [(n, f) for n, f in self.waiting if n > upto]
                for f in done:
                    f.set_result(None)
        finally:
            self.running = False


def make_app(public_key: str, log_path: str, fsync: bool) -> Any:
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    sync = GroupSync(fd, fsync)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                event = await receive()
                if event["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif event["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            event = await receive()
            if event["type"] == "http.disconnect":
                return  # the sender went away mid-request (killed): nothing acknowledged
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        arrived = time.time()
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        message_id = headers.get("silkgate-message-id", "")
        good = verify_webhook(public_key, headers, body, int(arrived))
        digest = ""
        if good:
            try:
                msg = json.loads(body)
                good = msg.get("id") == message_id
                digest = sha256_hex(canonical_json(msg.get("data")))[:16]
            except ValueError:
                good = False
        line = f"{message_id}\t{arrived:.6f}\t{digest}\n" if good else f"BAD\t{message_id}\n"
        os.write(fd, line.encode())
        await sync.durable()
        await send({"type": "http.response.start", "status": 204 if good else 401, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return app


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--public-key", required=True, help="The platform's public key (base64)")
    ap.add_argument("--log", required=True)
    ap.add_argument("--no-fsync", action="store_true")
    a = ap.parse_args()
    uvicorn.run(
        make_app(a.public_key, a.log, not a.no_fsync),
        host="127.0.0.1",
        port=a.port,
        http="httptools",
        loop="uvloop",
        log_level="warning",
        access_log=False,
        lifespan="on",
    )


if __name__ == "__main__":
    main()
