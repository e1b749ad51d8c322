"""Booking-rush benchmark: many carriers race for the slots of one day through the HTTP API.

Run: .venv/bin/python bench/booking_rush.py [--clients 200] [--attempts 10000] [--slots 1000]
Per backend (PostgreSQL at 127.0.0.1:5432 first, SQLite for comparison): one day of
Khorgos–Nur Zholy CN→KZ with a binding cap of ``--slots`` (24 hourly slots), ``--clients``
organizations each trying ``attempts / clients`` bookings for their own trucks (one accepted
declaration each) at random hours, over keep-alive connections. Reports attempts/s, p50/p99
latency, the outcome counts, and checks in the database that exactly ``--slots`` bookings
exist and no slot is sold beyond its capacity. Beside it, in the same run: the raw insert
rate of the same booking rows (Core executemany, and one row per transaction), no HTTP,
no checks, no audit; and two ceilings on the same server with the same clients: the same
attempts again once every slot is full (authenticated, rate-limited, parsed, refused mostly
without a query), and GET /api/v1/health (the HTTP stack alone). For each phase, the CPU
seconds of the API server, the load generator, PostgreSQL (all of it) and the rest of the
machine, from /proc.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run as a script: make `bench.ingest` importable

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Coroutine  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

from bench.ingest import free_port, make_backend, pct  # noqa: E402
from silkgate.bootstrap import prepare_database  # noqa: E402
from silkgate.codelists.identifiers import generate_uscc  # noqa: E402
from silkgate.core.db import table_of  # noqa: E402
from silkgate.core.platform import Platform  # noqa: E402
from silkgate.core.settings import Settings  # noqa: E402
from silkgate.declarations import service as declarations  # noqa: E402
from silkgate.demo.service import seed_registry  # noqa: E402
from silkgate.demo.traffic import TrafficGenerator  # noqa: E402
from silkgate.queue import service as queue  # noqa: E402
from silkgate.queue.models import Booking, Slot  # noqa: E402
from silkgate.queue.schemas import CapIn  # noqa: E402
from silkgate.registry import service as registry  # noqa: E402
from silkgate.registry.schemas import OrganizationCreate, Role  # noqa: E402

CROSSING = "KHG-NZH"


def setup(
    platform: Platform, clients: int, per_client: int, slots: int
) -> tuple[list[tuple[str, list[bytes]]], str]:
    """Organizations with keys, one accepted declaration per truck, caps on both sides."""
    ids = seed_registry(platform)
    for side in ("cn-customs", "kz-customs"):
        queue.set_cap(
            platform,
            registry.caller_for(platform, ids[side]),
            CapIn(
                crossing=CROSSING,
                exit_country="CN",
                entry_country="KZ",
                valid_from=datetime.now(UTC).date(),
                daily_cap=slots,
            ),
        )
    day = (datetime.now(UTC) + timedelta(hours=8)).date() + timedelta(days=2)
    rng = random.Random(5)
    gen = TrafficGenerator(3)
    template = next(
        b
        for b in iter(gen.declaration, None)
        if b["type"] == "export" and b["crossing"]["exit_country"] == "CN"
    )
    out: list[tuple[str, list[bytes]]] = []
    truck_no = 0
    for c in range(clients):
        member = f"CN/COM/{generate_uscc(rng)}"
        registry.create_organization(
            platform,
            OrganizationCreate(member_id=member, name=f"Carrier {c}", roles=[Role.BROKER]),
            "bench",
        )
        _, token = registry.issue_api_key(platform, member, "bench", "bench")
        who = registry.caller_for(platform, member)
        batch, trucks = [], []
        for _ in range(per_client):
            truck_no += 1
            plate = f"新{'ABCDEFGH'[truck_no // 10000]}{truck_no % 10000:05d}"
            body = dict(
                template,
                lrn=f"QB-{truck_no}",
                transport={"tractor_plate": plate, "tractor_nationality": "CN"},
            )
            batch.append(body)
            trucks.append((plate, f"LZZ1CCND0J{truck_no:07d}"))
        report = declarations.create_batch(platform, who, batch)
        assert report.accepted == per_client, report.lines[0]
        requests = []
        for line, (plate, vin) in zip(report.lines, trucks, strict=True):
            requests.append(
                json.dumps(
                    {
                        "crossing": CROSSING,
                        "exit_country": "CN",
                        "entry_country": "KZ",
                        "slot": {"day": day.isoformat(), "hour": rng.randrange(24)},
                        "truck": {"tractor_plate": plate, "tractor_nationality": "CN", "vin": vin},
                        "driver": {"name": "Driver", "document_number": f"E{truck_no:08d}"},
                        "declaration_ids": [line.id],
                    },
                    ensure_ascii=False,
                ).encode()
            )
        out.append((token, requests))
    return out, day.isoformat()


class CpuMeter:
    """CPU seconds spent by the load generator (this process), the API server's processes,
    PostgreSQL (all its processes, so other databases' work too) and the whole machine, read
    from /proc around a phase; empty where /proc is missing."""

    def __init__(self, server_pid: int | None) -> None:
        self.server_pid = server_pid
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def _stat(self, pid: int) -> tuple[int, list[str]]:
        with open(f"/proc/{pid}/stat") as f:
            head, _, rest = f.read().rpartition(")")
        fields = rest.split()
        return int(fields[1]), [head.partition("(")[2], *fields]  # ppid; name, state, ppid, ...

    def sample(self) -> dict[str, float]:
        if not Path("/proc/stat").exists():
            return {}
        procs: dict[int, tuple[int, list[str]]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    procs[int(entry)] = self._stat(int(entry))
                except (OSError, ValueError, IndexError):
                    continue
        children: dict[int, list[int]] = {}
        for pid, (ppid, _) in procs.items():
            children.setdefault(ppid, []).append(pid)

        def cpu(pid: int, reaped: bool = False) -> float:
            f = procs[pid][1]  # f[12], f[13]: utime, stime; f[14], f[15]: of reaped children
            ticks = int(f[12]) + int(f[13]) + (int(f[14]) + int(f[15]) if reaped else 0)
            return ticks / self.tick

        server = 0.0
        todo = [self.server_pid] if self.server_pid in procs else []
        while todo:
            pid = todo.pop()
            server += cpu(pid)
            todo += children.get(pid, [])
        # the postmaster's reaped children: backends that closed during the phase
        pg_pids = [pid for pid in procs if procs[pid][1][0] == "postgres"]
        postmaster = {p for p in pg_pids if procs.get(procs[p][0], (0, [""]))[1][0] != "postgres"}
        pg = sum(cpu(pid, reaped=pid in postmaster) for pid in pg_pids)
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:8]]
        me = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "client": me.ru_utime + me.ru_stime,
            "server": server,
            "postgresql": pg,
            "busy": (sum(ticks) - ticks[3] - ticks[4]) / self.tick,
            "total": sum(ticks) / self.tick,
        }

    @staticmethod
    def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        if not before or not after:
            return {}
        d = {k: after[k] - before[k] for k in before}
        d["others"] = max(0.0, d["busy"] - d["client"] - d["server"] - d["postgresql"])
        d["idle"] = d["total"] - d["busy"]
        return d


async def _roundtrip(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes
) -> int:
    """Send one prepared HTTP/1.1 request on a keep-alive connection; return the status."""
    writer.write(data)
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


def booking_requests(host: str, work: list[tuple[str, list[bytes]]]) -> list[list[bytes]]:
    """Each client's booking POSTs, as bytes on the wire."""
    out = []
    for token, bodies in work:
        head = (
            f"POST /api/v1/queue/bookings HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        ).encode()
        out.append([head + b"Content-Length: %d\r\n\r\n" % len(b) + b for b in bodies])
    return out


async def rush(base: str, requests: list[list[bytes]], meter: CpuMeter) -> dict[str, Any]:
    """Each client sends its requests one after another on its own keep-alive connection."""
    host, port = base.removeprefix("http://").split(":")
    latencies: list[float] = []
    firsts: list[float] = []  # each client's first attempt: its API key checked, caches cold
    later: list[float] = []
    statuses: Counter[int] = Counter()
    last_201 = 0.0

    async def client(mine: list[bytes]) -> None:
        nonlocal last_201
        reader, writer = await asyncio.open_connection(host, int(port))
        t = time.perf_counter()
        for k, data in enumerate(mine):
            status = await _roundtrip(reader, writer, data)
            done = time.perf_counter()
            statuses[status] += 1
            latencies.append(done - t)
            (firsts if k == 0 else later).append(done - t)
            if status == 201:
                last_201 = done
            t = time.perf_counter()
        writer.close()

    before = meter.sample()
    start = time.perf_counter()
    await asyncio.gather(*(client(r) for r in requests))
    elapsed = time.perf_counter() - start
    cpu = CpuMeter.spent(before, meter.sample())
    return {
        "attempts": len(latencies),
        "elapsed": elapsed,
        "rate": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * pct(latencies, 0.99),
        "mean_ms": 1000 * statistics.mean(latencies),
        "first_p50_ms": 1000 * statistics.median(firsts),
        "later_p99_ms": 1000 * pct(later, 0.99) if later else 0.0,
        "statuses": dict(sorted(statuses.items())),
        "sold_out_s": last_201 - start if last_201 else None,
        "cpu": cpu,
    }


def run_client(coro: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    """uvloop where installed (it comes with uvicorn[standard]): the load generator shares the
    cores with the server, so its own cost per request is kept low."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def verify(platform: Platform) -> dict[str, int]:
    """Bookings stored, slots over capacity, and slots whose counter disagrees with the rows."""
    with platform.db.session() as s:
        booked = s.scalar(select(func.count()).select_from(Booking)) or 0
        per_slot = dict(
            s.execute(select(Booking.slot_id, func.count()).group_by(Booking.slot_id)).all()
        )
        over = drift = 0
        for slot in s.scalars(select(Slot)):
            rows = per_slot.get(slot.id, 0)
            over += max(0, rows - slot.capacity)
            drift += rows != slot.booked
    return {"booked": booked, "double_sold": over, "counter_drift": drift}


def raw_inserts(platform: Platform, n: int) -> dict[str, float]:
    """The same booking rows (ended status, so no active-index clash) inserted with no checks."""
    with platform.db.session() as s:
        template = s.scalars(select(Booking).limit(1)).one()
        row = {c.key: getattr(template, c.key) for c in table_of(Booking).columns}
    row["status"] = "expired"
    rows = [dict(row, id=f"{i:022x}", vin=f"RAW{i:014d}") for i in range(n)]
    engine = platform.db.engine
    t = time.perf_counter()
    for i in range(0, n, 500):
        with engine.begin() as conn:
            conn.execute(insert(table_of(Booking)), rows[i : i + 500])
    many = n / (time.perf_counter() - t)
    single = [dict(r, id=f"f{i:021x}") for i, r in enumerate(rows[: n // 5])]
    t = time.perf_counter()
    for r in single:
        with engine.begin() as conn:
            conn.execute(insert(table_of(Booking)), r)
    return {"executemany": many, "per_transaction": len(single) / (time.perf_counter() - t)}


def bench_backend(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix=f"silkgate-qbench-{kind}-"))
    url = make_backend(kind, tmp)
    settings = Settings(database_url=url, demo_mode=True, data_dir=tmp)
    platform = Platform(settings)
    prepare_database(platform)
    t = time.perf_counter()
    work, _day = setup(platform, args.clients, args.attempts // args.clients, args.slots)
    setup_s = time.perf_counter() - t
    env = {
        **os.environ,
        "SILKGATE_DATABASE_URL": url,
        "SILKGATE_DEMO_MODE": "true",
        "SILKGATE_DATA_DIR": str(tmp),
        "SILKGATE_LOG_LEVEL": "warning",
        "SILKGATE_RISK_WORKER": "false",
    }
    workers = args.workers or (1 if kind == "sqlite" else 2)
    port = free_port()
    server = subprocess.Popen(
        [
            str(HERE.parent / ".venv/bin/silkgate"),
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
        for _ in range(300):
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        meter = CpuMeter(server.pid)
        host = base.removeprefix("http://").split(":")[0]
        bookings = booking_requests(host, work)
        result = run_client(rush(base, bookings, meter))
        # Ceilings on the same server with the same clients: the same attempts again, every
        # slot now full (each answered 409 after auth, rate limits and parsing, mostly without
        # a query), and the bare HTTP stack (GET /health: no auth, no body, no database).
        replay = run_client(rush(base, bookings, meter))
        health = f"GET /api/v1/health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        bare = run_client(rush(base, [[health] * len(r) for r in bookings], meter))
    finally:
        server.terminate()
        server.wait(20)
    checked = verify(platform)
    raw = raw_inserts(platform, args.attempts)
    platform.close()
    return {
        "setup_s": setup_s,
        "workers": workers,
        **result,
        **checked,
        "raw": raw,
        "replay": replay,
        "health": bare,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--attempts", type=int, default=10_000)
    ap.add_argument("--slots", type=int, default=1_000)
    ap.add_argument(
        "--workers", type=int, default=0, help="API processes (default: PostgreSQL 2, SQLite 1)"
    )
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = ap.parse_args()
    kinds = ["postgresql", "sqlite"] if args.backend == "both" else [args.backend]
    print(
        f"silkgate booking rush — {os.cpu_count()} cores, {args.clients} clients, {args.attempts} attempts, {args.slots} slots"
    )
    print(
        f"{'backend':<11} {'workers':>7} {'attempts/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'booked':>7} {'double':>6} {'drift':>5} {'raw many/s':>10} {'raw 1-tx/s':>10}  statuses"
    )
    for kind in kinds:
        load = os.getloadavg()[0]
        r = bench_backend(kind, args)
        raw = r["raw"]
        print(
            f"{kind:<11} {r['workers']:>7} {r['rate']:>10.0f} {r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} {r['booked']:>7} {r['double_sold']:>6} {r['counter_drift']:>5} "
            f"{raw['executemany']:>10.0f} {raw['per_transaction']:>10.0f}  {r['statuses']}  (setup {r['setup_s']:.0f} s)"
        )
        print(
            f"  load average {load:.1f} before, {os.getloadavg()[0]:.1f} after; sold out after {r['sold_out_s']:.2f} s"
        )
        print(
            f"  {'':<38} {'/s':>6} {'p50 ms':>7} {'p99 ms':>7} {'mean':>6} {'1st p50':>7} {'p99 2nd+':>8}  CPU s: server client postgres others idle (server, client µs per request)"
        )
        phases: list[tuple[str, dict[str, Any]]] = [
            ("the rush", r),
            ("ceiling: same attempts, all slots full", r["replay"]),
            ("ceiling: GET /health, no auth, no DB", r["health"]),
        ]
        for label, phase in phases:
            c = phase["cpu"]
            cpu = (
                f"{c['server']:>6.1f} {c['client']:>6.1f} {c['postgresql']:>8.1f} {c['others']:>6.1f} {c['idle']:>4.1f} "
                f"({1e6 * c['server'] / phase['attempts']:.0f}, {1e6 * c['client'] / phase['attempts']:.0f})"
                if c
                else "n/a"
            )
            print(
                f"  {label:<38} {phase['rate']:>6.0f} {phase['p50_ms']:>7.1f} {phase['p99_ms']:>7.1f} {phase['mean_ms']:>6.1f} {phase['first_p50_ms']:>7.1f} {phase['later_p99_ms']:>8.1f}  {cpu}  {phase['statuses']}"
            )
    print(
        f"targets (PostgreSQL): exactly {args.slots} booked, 0 double-sold, >= 2000 attempts/s, p99 <= 100 ms"
    )
    print(
        f"(each client sends its next attempt on the answer: mean latency = {args.clients} clients / rate "
        f"(Little's law), so {args.clients / 2000 * 1000:.0f} ms at 2000/s; '1st p50': each client's first attempt; 'p99 2nd+': the others)"
    )


if __name__ == "__main__":
    main()
