"""Ingest benchmark: declarations/s through the HTTP API vs. straight inserts (the ceiling).

Run: .venv/bin/python bench/ingest.py [--single 3000] [--batches 20] [--batch-size 500]
Measures, per backend (SQLite file, PostgreSQL at 127.0.0.1:5432):
  - single requests from 32 concurrent clients: rate, p50/p99 latency;
  - JSON Lines batches: declarations/s, each validated, stored with its items and audited;
  - the same rows inserted straight into the same database (no HTTP, validation or audit).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
from benchdb import backend_url
from sqlalchemy import insert

from silkgate.bootstrap import prepare_database
from silkgate.core.platform import Platform
from silkgate.core.settings import Settings
from silkgate.declarations.lodging import new_declaration_id, rows_for
from silkgate.declarations.models import Declaration, DeclarationVersion, GoodsItem
from silkgate.declarations.service import prepare
from silkgate.demo.service import seed_registry
from silkgate.demo.traffic import TrafficGenerator
from silkgate.registry import service as registry

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_backend(kind: str, tmp: Path) -> str:
    return backend_url(kind, tmp, "ingest")


def bodies(n: int, prefix: str, seed: int) -> list[bytes]:
    gen = TrafficGenerator(seed)
    out: list[bytes] = []
    while len(out) < n:
        b = gen.declaration(lrn_prefix=prefix)
        if b["type"] != "import" and b["crossing"]["exit_country"] == "CN":
            out.append(json.dumps(b).encode())
    return out


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def _post(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, body: bytes
) -> int:
    """One keep-alive HTTP/1.1 POST; a minimal client so the load generator stays light."""
    writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
    await writer.drain()
    status_line = await reader.readline()
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(status_line.split()[1])


async def run_single(
    base: str, token: str, payloads: list[bytes], concurrency: int
) -> dict[str, float]:
    """Each of ``concurrency`` clients sends one declaration at a time on its own connection."""
    host, port = base.removeprefix("http://").split(":")
    head = (
        f"POST /api/v1/declarations HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\nContent-Length: "
    ).encode()
    latencies: list[float] = []
    pending = list(reversed(payloads))
    errors = 0

    async def client() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        while pending:
            body = pending.pop()
            t = time.perf_counter()
            status = await _post(reader, writer, head, body)
            latencies.append(time.perf_counter() - t)
            errors += status != 201
        writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    return {
        "rate": len(payloads) / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * pct(latencies, 0.99),
        "errors": errors,
    }


def run_batches(
    base: str, token: str, payloads: list[bytes], size: int, clients: int
) -> dict[str, float]:
    """``clients`` concurrent senders of JSON Lines batches of ``size`` declarations."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
    chunks = [b"\n".join(payloads[i : i + size]) for i in range(0, len(payloads), size)]
    accepted = 0

    def send(part: list[bytes]) -> int:
        n = 0
        with httpx.Client(timeout=300) as client:
            for chunk in part:
                r = client.post(f"{base}/api/v1/declarations/batch", content=chunk, headers=headers)
                r.raise_for_status()
                n += r.json()["accepted"]
        return n

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        accepted = sum(pool.map(send, [chunks[i::clients] for i in range(clients)]))
    elapsed = time.perf_counter() - start
    return {"rate": accepted / elapsed, "accepted": accepted}


def run_ceiling(
    platform: Platform, member_id: str, payloads: list[bytes], size: int
) -> dict[str, float]:
    """Insert the same rows with Core executemany, no HTTP, validation or audit."""
    caller = registry.caller_for(platform, member_id)
    prepared = [prepare(p) for p in payloads]  # parsing excluded from the timing
    now = datetime.now(UTC)
    engine = platform.db.engine
    start = time.perf_counter()
    for i in range(0, len(prepared), size):
        decls, vers, items = [], [], []
        for p in prepared[i : i + size]:
            d, v, it = rows_for(p, caller, new_declaration_id(), 1, now)
            decls.append(d)
            vers.append(v)
            items.extend(it)
        with engine.begin() as conn:
            conn.execute(insert(Declaration), decls)
            conn.execute(insert(DeclarationVersion), vers)
            conn.execute(insert(GoodsItem), items)
    return {"rate": len(prepared) / (time.perf_counter() - start)}


def bench_backend(kind: str, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    tmp = Path(tempfile.mkdtemp(prefix=f"silkgate-bench-{kind}-"))
    url = make_backend(kind, tmp)
    env = {
        **os.environ,
        "SILKGATE_DATABASE_URL": url,
        "SILKGATE_DEMO_MODE": "true",
        "SILKGATE_DATA_DIR": str(tmp),
        "SILKGATE_LOG_LEVEL": "warning",
        # Ingest only: risk assessment runs in its own worker process in production (docs).
        "SILKGATE_RISK_WORKER": "false",
    }
    platform = Platform(Settings(database_url=url, demo_mode=True, data_dir=tmp))
    prepare_database(platform)
    ids = seed_registry(platform)
    _, token = registry.issue_api_key(platform, ids["cn-broker"], "bench", "bench")
    _ = platform.signer
    # SQLite has one writer at a time: a second process only adds lock waits (see docs).
    workers = args.workers if args.workers else (1 if kind == "sqlite" else 2)
    port = free_port()
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/silkgate"),
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        asyncio.run(run_single(base, token, bodies(300, "W", 0), args.concurrency))  # warm-up
        single = asyncio.run(run_single(base, token, bodies(args.single, "S", 1), args.concurrency))
        batch = run_batches(
            base,
            token,
            bodies(args.batches * args.batch_size, "B", 2),
            args.batch_size,
            args.batch_clients,
        )
    finally:
        server.terminate()
        server.wait(10)
    ceiling = run_ceiling(
        platform, ids["cn-broker"], bodies(args.batches * args.batch_size, "C", 3), args.batch_size
    )
    platform.close()
    return {"single": single, "batch": batch, "ceiling": ceiling}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--single", type=int, default=3000, help="single requests per backend")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument(
        "--workers",
        type=int,
        default=0,
        help="API worker processes (default: SQLite 1, PostgreSQL 2)",
    )
    ap.add_argument("--batch-clients", type=int, default=2, help="concurrent batch senders")
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = ap.parse_args()
    kinds = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(
        f"silkgate ingest benchmark — {os.cpu_count()} cores, "
        f"{args.workers or 'SQLite 1 / PostgreSQL 2'} API workers, "
        f"{args.concurrency} single-request clients, {args.batch_clients} batch clients x {args.batch_size}"
    )
    print(
        f"{'backend':<11} {'single/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'batch/s':>9} {'ceiling/s':>10} {'batch/ceiling':>13}"
    )
    for kind in kinds:
        r = bench_backend(kind, args)
        s, b, c = r["single"], r["batch"], r["ceiling"]
        print(
            f"{kind:<11} {s['rate']:>9.0f} {s['p50_ms']:>7.1f} {s['p99_ms']:>7.1f} {b['rate']:>9.0f} {c['rate']:>10.0f} {b['rate'] / c['rate']:>13.2f}"
            + (f"  ({s['errors']:.0f} errors)" if s["errors"] else "")
        )
    print("targets (PostgreSQL): batch >= 2000 declarations/s; single p99 <= 100 ms at 32 clients")


if __name__ == "__main__":
    main()
