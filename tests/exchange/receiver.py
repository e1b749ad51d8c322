"""A local webhook receiver (127.0.0.1 only) that records requests and answers scripted codes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Receiver:
    url: str
    codes: list[int] = field(default_factory=list)  # answered in turn; then 200
    hits: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    got: threading.Event = field(default_factory=threading.Event)


@contextmanager
def receiver(codes: list[int] | None = None) -> Iterator[Receiver]:
    rec = Receiver(url="", codes=list(codes or []))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            rec.hits.append((dict(self.headers.items()), body))
            code = rec.codes.pop(0) if rec.codes else 200
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()
            rec.got.set()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()
