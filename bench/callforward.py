"""Call-forward latency: from the border stage freeing room to the carrier's webhook delivered.

Run: .venv/bin/python bench/callforward.py [--trucks 200] [--backend both]
Per backend (PostgreSQL at 127.0.0.1:5432 first, SQLite for comparison): ``--trucks`` booked
trucks checked in at the Khorgos CN waiting area, a border stage of capacity 1, the carrier
subscribed with a webhook to a local receiver (127.0.0.1), the delivery worker running as in
the API process. Each round: the truck in the stage exits (service call, committed), the
platform calls the next truck (same transaction: booking ``called`` + outbox message), the
worker signs and POSTs it, the receiver records its arrival. Reports p50/p99/max of the whole
path beside the exit transaction alone, and the worker poll interval that bounds the rest.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402

from bench.ingest import make_backend, pct  # noqa: E402
from silkgate.bootstrap import prepare_database  # noqa: E402
from silkgate.core.errors import Conflict  # noqa: E402
from silkgate.core.platform import Platform  # noqa: E402
from silkgate.core.settings import Settings  # noqa: E402
from silkgate.exchange import service as exchange  # noqa: E402
from silkgate.exchange.schemas import SubscriptionIn  # noqa: E402
from silkgate.exchange.worker import DeliveryWorker  # noqa: E402
from silkgate.queue import waiting  # noqa: E402
from silkgate.queue.schemas import StageIn  # noqa: E402
from tests.queue.env import NOW, make_env  # noqa: E402


class Arrivals:
    """What the local receiver saw: booking id → perf_counter at arrival."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.cond = threading.Condition()

    def wait_for(self, booking_id: str, timeout: float = 30.0) -> float:
        with self.cond:
            self.cond.wait_for(lambda: booking_id in self.at, timeout)
            return self.at[booking_id]


def serve(arrivals: Arrivals) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            now = time.perf_counter()
            self.send_response(204)
            self.end_headers()
            with arrivals.cond:
                arrivals.at[json.loads(body)["data"]["booking_id"]] = now
                arrivals.cond.notify_all()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/hook"


def book_all(env: object, n: int) -> list[str]:
    ids: list[str] = []
    hour = 8
    while len(ids) < n:
        try:
            ids.append(env.book(hour=hour).id)  # type: ignore[attr-defined]
        except Conflict:
            hour += 1  # this hour's regular slots are full
    return ids


def bench_backend(kind: str, trucks: int, tmp: Path) -> dict[str, object]:
    url = make_backend(kind, tmp)
    platform = Platform(
        Settings(
            database_url=url, demo_mode=True, data_dir=tmp, exchange_webhook_allow=["127.0.0.1"]
        )
    )
    prepare_database(platform)
    env = make_env(platform, cap=2400)
    ids = book_all(env, trucks)
    arrivals = Arrivals()
    server, hook = serve(arrivals)
    broker, official = env.who("cn-broker"), env.who("cn-customs")
    exchange.add_subscription(platform, broker, SubscriptionIn(url=hook))
    waiting.set_stage(
        platform,
        official,
        StageIn(crossing="KHG-NZH", exit_country="CN", entry_country="KZ", capacity=1),
    )
    for b in ids:
        waiting.move(platform, official, b, "check_in", NOW)
    worker = DeliveryWorker(platform)
    worker.start()
    arrivals.wait_for(ids[0])
    total: list[float] = []
    commit: list[float] = []
    inside = ids[0]
    for nxt in ids[1:]:
        t0 = time.perf_counter()
        waiting.move(platform, official, inside, "exit", NOW)
        commit.append(time.perf_counter() - t0)
        total.append(arrivals.wait_for(nxt) - t0)
        inside = nxt
    worker.stop()
    server.shutdown()
    platform.close()
    ms = lambda xs, q: round(pct(xs, q) * 1000, 1)  # noqa: E731
    return {
        "backend": kind,
        "rounds": len(total),
        "free_to_webhook_ms": {
            "p50": ms(total, 0.5),
            "p99": ms(total, 0.99),
            "max": ms(total, 1.0),
        },
        "exit_and_call_tx_ms": {"p50": ms(commit, 0.5), "p99": ms(commit, 0.99)},
        "worker_poll_ms": platform.settings.exchange_poll_seconds * 1000,
        "target_p99_ms": 1000,
        "meets_target": pct(total, 0.99) <= 1.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--trucks", type=int, default=200)
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = ap.parse_args()
    kinds = ["postgresql", "sqlite"] if args.backend == "both" else [args.backend]
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            sub = Path(tmp) / kind
            sub.mkdir()
            print(json.dumps(bench_backend(kind, args.trucks, sub)), flush=True)


if __name__ == "__main__":
    main()
