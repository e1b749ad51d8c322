"""Webhook delivery benchmarks: throughput, event-to-delivery latency, and faults.

Run: .venv/bin/python bench/exchange.py delivery [--backend sqlite|postgresql|both]
                                                [--messages 20000] [--rate 200] [--seconds 25]
                                                [--worker thread|process]
     .venv/bin/python bench/exchange.py faults [--backend …] [--rate 100] [--down 60]

The receiver is its own process (``bench/webhook_receiver.py``): it verifies every signature
with ``verify_webhook`` and appends each message id it acknowledges to a log with fsync, so
lost and duplicate counts come from what it really got. Messages are real outbox rows
(``exchange.service.enqueue`` with their audit entries, in transactions) of one organization
with a webhook subscription to the receiver.

- delivery, throughput: ``--messages`` enqueued first, then the delivery worker starts; the
  rate is messages ÷ time from the worker's start until the receiver has every id.
- delivery, latency: the worker runs while messages are produced at ``--rate`` per second for
  ``--seconds``, one transaction each; latency is the message's ``created_at`` to its first
  arrival at the receiver. ``--worker thread`` runs the worker as in the API process (woken
  by the commit); ``process`` as ``silkgate exchange deliver`` on its own (polling).
- faults: the worker runs as ``silkgate exchange deliver`` (a subprocess) while messages are
  produced at ``--rate``; a backlog of ``--burst`` messages is made and, a quarter of it
  delivered, the worker is killed with SIGKILL and restarted; the same again for the
  receiver; then the receiver is stopped for ``--down`` seconds and restarted; after
  the last message every id must have reached the receiver: lost ids are listed, duplicates
  counted; the receiver logs a digest of each message's data, so a message that arrived
  under two ids would show (allowed: duplicates under the same id only).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from benchdb import backend_url
from sqlalchemy import func, select

from silkgate.audit.service import append
from silkgate.bootstrap import prepare_database
from silkgate.core.platform import Platform
from silkgate.core.settings import Settings
from silkgate.demo.service import seed_registry
from silkgate.exchange import delivery
from silkgate.exchange import service as exchange
from silkgate.exchange.models import Delivery
from silkgate.exchange.schemas import SubscriptionIn
from silkgate.exchange.worker import DeliveryWorker
from silkgate.registry.service import Caller, caller_for

HERE = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
TOPIC = "declaration.pre_arrival"


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------- the receiver process


@dataclass
class Receiver:
    port: int
    public_key: str
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "webhook_receiver.py"),
                "--port",
                str(self.port),
                "--public-key",
                self.public_key,
                "--log",
                str(self.log),
            ]
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # listening?
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the receiver did not start")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        self.proc.wait()

    def arrivals(self) -> tuple[list[tuple[str, float]], int]:
        """Every acknowledged arrival (id, Unix time) in order, and the bad ones' count."""
        got, bad, _ = self.read()
        return got, bad

    def read(self) -> tuple[list[tuple[str, float]], int, dict[str, set[str]]]:
        """Arrivals, bad signatures, and per digest of a message's data the ids it came under."""
        got: list[tuple[str, float]] = []
        bad = 0
        under: dict[str, set[str]] = {}
        if not self.log.exists():
            return got, bad, under
        for line in self.log.read_text().splitlines():
            parts = line.split("\t")
            if parts[0] == "BAD":
                bad += 1
            elif len(parts) == 3:  # a line cut by a kill -9 was never acknowledged
                got.append((parts[0], float(parts[1])))
                under.setdefault(parts[2], set()).add(parts[0])
        return got, bad, under

    def count_lines(self) -> int:
        if not self.log.exists():
            return 0
        with self.log.open("rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


# ---------------------------------------------------------------- the platform side


@dataclass
class World:
    kind: str
    tmp: Path
    platform: Platform
    org: Caller
    receiver: Receiver
    env: dict[str, str] = field(default_factory=dict)
    seq: int = 0
    commits: list[float] = field(default_factory=list)  # ms from created_at to committed

    def produce(self, n: int) -> list[str]:
        """``n`` messages in one transaction, each audited as a real producer does."""
        ids = []
        with self.platform.db.session() as s:
            now = datetime.now(UTC)
            events = []
            for _ in range(n):
                self.seq += 1
                mid = f"bench-{self.seq:07d}"
                msg = exchange.enqueue(
                    s, self.org.id, TOPIC, {"n": self.seq, "lrn": f"L-{self.seq}"}, mid, now
                )
                events.append(exchange.message_event(msg, "bench"))
                ids.append(mid)
            s.flush()
            append(s, self.platform.signer, events)
        self.commits.append((datetime.now(UTC) - now).total_seconds() * 1000)
        return ids

    def created(self) -> dict[str, float]:
        from silkgate.exchange.models import OutboxMessage

        with self.platform.db.snapshot() as s:
            return {
                m: c.timestamp()
                for m, c in s.execute(select(OutboxMessage.message_id, OutboxMessage.created_at))
            }

    def statuses(self) -> Counter[str]:
        with self.platform.db.snapshot() as s:
            return Counter(
                dict(
                    (st, n)
                    for st, n in s.execute(
                        select(Delivery.status, func.count()).group_by(Delivery.status)
                    )
                )
            )

    def worker_process(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [str(VENV_BIN / "silkgate"), "exchange", "deliver"],
            env={**os.environ, **self.env},
            stdout=subprocess.DEVNULL,
        )


@contextmanager
def world(kind: str) -> Iterator[World]:
    with tempfile.TemporaryDirectory(prefix="silkgate-delivery-") as t:
        tmp = Path(t)
        url = backend_url(kind, tmp, "delivery")
        env = {
            "SILKGATE_DATABASE_URL": url,
            "SILKGATE_DATA_DIR": str(tmp),
            "SILKGATE_DEMO_MODE": "true",
            "SILKGATE_EXCHANGE_WEBHOOK_ALLOW": "127.0.0.1/32",
        }
        settings = Settings(
            database_url=url,
            data_dir=tmp,
            demo_mode=True,
            exchange_webhook_allow=["127.0.0.1/32"],
            exchange_worker=False,
        )
        platform = Platform(settings)
        prepare_database(platform)
        ids = seed_registry(platform)
        org = caller_for(platform, ids["kz-customs"])
        key = exchange.signing_key(platform).public_key
        rec = Receiver(free_port(), key, tmp / "received.log")
        rec.start()
        exchange.add_subscription(platform, org, SubscriptionIn(url=rec.url, topics=[TOPIC]))
        w = World(kind, tmp, platform, org, rec, env)
        try:
            yield w
        finally:
            if rec.proc is not None and rec.proc.poll() is None:
                rec.kill(signal.SIGTERM)
            platform.close()


@contextmanager
def running_worker(w: World, mode: str) -> Iterator[None]:
    if mode == "thread":
        worker = DeliveryWorker(w.platform)
        worker.start()
        try:
            yield
        finally:
            worker.stop()
    else:
        proc = w.worker_process()
        try:
            yield
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_for(w: World, n: int, timeout: float) -> float | None:
    """Seconds until the receiver logged ``n`` arrivals (None: timed out)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if w.receiver.count_lines() >= n:
            return time.monotonic() - started
        time.sleep(0.02)
    return None


def produce_at(
    w: World,
    rate: float,
    seconds: float,
    stop: threading.Event | None = None,
    ids: list[str] | None = None,
) -> list[str]:
    """One message per transaction, at ``rate`` per second on an absolute schedule."""
    ids = [] if ids is None else ids
    t0 = time.monotonic()
    total = int(rate * seconds)
    for i in range(total):
        if stop is not None and stop.is_set():
            break
        delay = t0 + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        ids.extend(w.produce(1))
    return ids


# ---------------------------------------------------------------- delivery


def run_delivery(kind: str, a: argparse.Namespace) -> dict[str, float]:
    out: dict[str, float] = {}
    with world(kind) as w:
        st = w.platform.settings
        print(
            f"{kind}: batch {st.exchange_batch}, concurrency {st.exchange_concurrency}, "
            f"worker {a.worker}; load {load()}",
            flush=True,
        )
        for i in range(0, a.messages, 500):
            w.produce(min(500, a.messages - i))
        with running_worker(w, a.worker):
            took = wait_for(w, a.messages, 600)
        assert took is not None, "throughput: not every message arrived in 600 s"
        got, bad = w.receiver.arrivals()
        unique = len({m for m, _ in got})
        first, last = got[0][1], got[-1][1]
        out["rate"] = a.messages / took
        print(
            f"  throughput: {a.messages:,} messages in {took:.2f} s = {out['rate']:,.0f}/s "
            f"(first to last arrival {a.messages / (last - first):,.0f}/s); "
            f"{unique:,} ids, {len(got) - unique} duplicates, {bad} bad signatures; "
            f"load {load()}",
            flush=True,
        )
        mark = len(got)
        with running_worker(w, a.worker):
            time.sleep(1.0)  # the worker is up (a process needs its imports)
            w.commits.clear()
            ids = produce_at(w, a.rate, a.seconds)
            took = wait_for(w, mark + len(ids), 60)
        assert took is not None, "latency: not every message arrived in 60 s"
        created = w.created()
        got, _ = w.receiver.arrivals()
        firsts: dict[str, float] = {}
        for m, t in got[mark:]:
            firsts.setdefault(m, t)
        lat = [(firsts[m] - created[m]) * 1000 for m in ids]
        out["p50"], out["p99"], out["max"] = pct(lat, 0.5), pct(lat, 0.99), max(lat)
        print(
            f"  latency at {a.rate:.0f}/s for {a.seconds:.0f} s ({len(ids):,} messages, one "
            f"transaction each): p50 {out['p50']:.1f} ms, p99 {out['p99']:.1f} ms, max "
            f"{out['max']:.1f} ms, mean {statistics.mean(lat):.1f} ms; the producing "
            f"transaction alone (created_at to committed): p50 {pct(w.commits, 0.5):.1f} ms, "
            f"p99 {pct(w.commits, 0.99):.1f} ms; load {load()}",
            flush=True,
        )
        print(
            f"  targets: ≥ 1,000/s — {'met' if out['rate'] >= 1000 else 'NOT met'}; "
            f"p99 ≤ 1 s at 200/s — {'met' if out['p99'] <= 1000 else 'NOT met'}",
            flush=True,
        )
    return out


# ---------------------------------------------------------------- faults


def run_faults(kind: str, a: argparse.Namespace) -> bool:
    with world(kind) as w:
        print(
            f"{kind}: producing {a.rate:.0f}/s, bursts of {a.burst:,}; lease "
            f"{delivery.lease_for(w.platform.settings).total_seconds():.0f} s; load {load()}",
            flush=True,
        )
        stop = threading.Event()
        ids: list[str] = []
        lock = threading.Lock()
        t0 = time.monotonic()

        def producer() -> None:
            produce_at(w, a.rate, 10_000, stop, ids)

        def step(what: str) -> int:
            n = w.receiver.count_lines()
            with lock:
                print(
                    f"  t={time.monotonic() - t0:6.1f} s  {what}  (produced {len(ids):,}, "
                    f"arrivals {n:,})",
                    flush=True,
                )
            return n

        def burst_then_wait() -> None:
            """A backlog, so that what follows strikes in the middle of a drain."""
            burst = w.produce(a.burst)  # one transaction: the whole backlog at once
            with lock:
                ids.extend(burst)
            before = w.receiver.count_lines()
            while w.receiver.count_lines() < before + a.burst // 4:
                time.sleep(0.01)

        def monitor() -> None:
            while not stop.wait(a.every):
                step("…")

        worker = w.worker_process()
        thread = threading.Thread(target=producer, daemon=True)
        thread.start()
        if a.every > 0:
            threading.Thread(target=monitor, daemon=True).start()
        while w.receiver.count_lines() < 50:  # the worker process is up and delivering
            time.sleep(0.1)
        step("worker delivering")
        burst_then_wait()
        step("kill -9 the delivery worker, mid-drain")
        worker.kill()
        worker.wait()
        time.sleep(2)
        worker = w.worker_process()
        step("worker restarted")
        time.sleep(5)
        burst_then_wait()
        step("kill -9 the receiver, mid-drain")
        w.receiver.kill(signal.SIGKILL)
        time.sleep(2)
        w.receiver.start()
        step("receiver restarted")
        time.sleep(5)
        step(f"receiver stopped (SIGTERM) for {a.down:.0f} s")
        w.receiver.kill(signal.SIGTERM)
        time.sleep(a.down)
        w.receiver.start()
        step("receiver restarted")
        time.sleep(5)
        stop.set()
        thread.join()
        step("production stopped")
        deadline = time.monotonic() + a.settle
        expected = set(ids)
        while time.monotonic() < deadline:
            got, _ = w.receiver.arrivals()
            if expected <= {m for m, _ in got}:
                break
            time.sleep(0.5)
        step("every message arrived" if time.monotonic() < deadline else "gave up waiting")
        worker.send_signal(signal.SIGINT)
        try:
            worker.wait(10)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        got, bad, under = w.receiver.read()
        counts = Counter(m for m, _ in got)
        lost = sorted(expected - set(counts))
        strangers = sorted(set(counts) - expected)
        renamed = sum(1 for s in under.values() if len(s) > 1)
        dupes = sum(n - 1 for n in counts.values())
        dup_ids = sum(1 for n in counts.values() if n > 1)
        statuses = w.statuses()
        print(
            f"  {len(expected):,} messages produced; {len(counts):,} distinct ids received; "
            f"lost {len(lost)}{': ' + ', '.join(lost[:20]) if lost else ''}; "
            f"duplicates {dupes} (of {dup_ids} ids); one message under two ids {renamed}; "
            f"ids never produced {len(strangers)}; bad signatures {bad}; "
            f"deliveries {dict(statuses)}; load {load()}",
            flush=True,
        )
        ok = not lost and not strangers and not renamed and bad == 0
        print(f"  target: 0 lost, duplicates only under the same id — {'met' if ok else 'NOT met'}")
        return ok


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="bench/exchange.py", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    d = sub.add_parser("delivery", help="throughput and event-to-delivery latency")
    f = sub.add_parser("faults", help="kill -9 of worker and receiver, receiver down")
    for p in (d, f):
        p.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    d.add_argument("--messages", type=int, default=20_000)
    d.add_argument("--rate", type=float, default=200.0)
    d.add_argument("--seconds", type=float, default=25.0)
    d.add_argument("--worker", choices=["thread", "process"], default="thread")
    f.add_argument("--rate", type=float, default=100.0)
    f.add_argument("--burst", type=int, default=3000, help="backlog made before each kill")
    f.add_argument("--every", type=float, default=0.0, help="print progress every N seconds")
    f.add_argument("--down", type=float, default=60.0, help="seconds the receiver stays down")
    f.add_argument("--settle", type=float, default=180.0, help="seconds to wait at the end")
    a = ap.parse_args(argv)
    kinds = ["sqlite", "postgresql"] if a.backend == "both" else [a.backend]
    print(f"load average at start: {load()}", flush=True)
    for kind in kinds:
        if a.what == "delivery":
            run_delivery(kind, a)
        else:
            run_faults(kind, a)
    print(f"load average at end: {load()}")


if __name__ == "__main__":
    main(sys.argv[1:])
