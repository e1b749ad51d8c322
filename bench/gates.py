"""Gate-event benchmark: signed batch ingest rate and timeline latency with many events stored.

Run: .venv/bin/python bench/gates.py [--backend sqlite|postgresql|both] [--ingest 20000]
                                     [--stored 1000000] [--lookups 300]
Per backend, in one run:
  - the machine's Ed25519 rates right before and right after the ingest (verify on one
    thread and on two, sign): the bound on ingest, which verifies one signature per event;
  - batch ingest through gates.service (JSON Lines of 5,000): each event parsed, checked,
    its Ed25519 signature verified (SILKGATE_GATE_VERIFY_THREADS, default one thread per
    core), stored with its references, one audit entry per batch listing every event;
    beside it the raw bulk insert rate of the same rows (core.bulk: COPY on PostgreSQL;
    no checks, no audit);
  - ``--stored`` events (25 passages of 40 events per 1,000) bulk-written (background rows:
    not signed or audited), then the truck timeline of random trucks through
    timeline.truck_timeline (entitlement, corrections, intervals): p50/p99.
The load average is printed at the start and the end.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchdb import backend_url
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, text

from silkgate.audit.consistency import Report
from silkgate.audit.gate_event_checks import check_gate_events
from silkgate.bootstrap import prepare_database
from silkgate.core.bulk import insert_rows
from silkgate.core.db import table_of
from silkgate.core.platform import Platform
from silkgate.core.settings import Settings
from silkgate.core.signing import public_key_b64
from silkgate.demo.service import seed_registry
from silkgate.gates import service, timeline
from silkgate.gates.ingest import sign_event
from silkgate.gates.models import GateEvent, GateEventRef
from silkgate.registry import service as registry

POINTS = [
    ("waiting_area", "CN"), ("called_forward", "CN"), ("gate_in", "CN"),
    ("document_control_start", "CN"), ("document_control_end", "CN"), ("weighing", "CN"),
    ("scanning", "CN"), ("physical_inspection_start", "CN"), ("physical_inspection_end", "CN"),
    ("exit_gate", "CN"), ("neutral_zone", "CN"), ("entry_gate_in", "KZ"),
    ("entry_controls", "KZ"), ("document_control_start", "KZ"), ("document_control_end", "KZ"),
    ("scanning", "KZ"), ("physical_inspection_start", "KZ"), ("physical_inspection_end", "KZ"),
    ("weighing", "KZ"), ("release", "KZ"),
]  # fmt: skip
T0 = datetime(2025, 11, 1, tzinfo=UTC)


def body(i: int, truck: int, prefix: str = "B") -> dict[str, Any]:
    point, side = POINTS[i % len(POINTS)]
    at = T0 + timedelta(minutes=truck * 3 + i * 7)
    return {
        "eventTime": at.isoformat(),
        "bizStep": "inspecting",
        "readPoint": point,
        "crossing": "KHG-NZH",
        "side": side,
        "truck": {"nationality": "KZ", "plate": f"{prefix}{truck:07d}"},
    }


def crypto_ceiling(n: int = 3000) -> dict[str, float]:
    """Ed25519 verifications/s on one thread and on two (pyca/cryptography releases the GIL
    while verifying), and signatures/s, on this machine now."""
    key = Ed25519PrivateKey.generate()
    pub, msg = key.public_key(), b"x" * 300
    sig = key.sign(msg)

    def verify(k: int) -> None:
        for _ in range(k):
            pub.verify(sig, msg)

    t = time.perf_counter()
    verify(n)
    one = n / (time.perf_counter() - t)
    with ThreadPoolExecutor(2) as pool:
        t = time.perf_counter()
        list(pool.map(verify, [n // 2, n // 2]))
        two = n / (time.perf_counter() - t)
    t = time.perf_counter()
    for _ in range(n):
        key.sign(msg)
    return {"verify_1": one, "verify_2": two, "sign_per_s": n / (time.perf_counter() - t)}


def bench_ingest(platform: Platform, ids: dict[str, str], n: int) -> dict[str, float]:
    key = Ed25519PrivateKey.generate()
    registry.register_signing_key(platform, ids["cn-customs"], public_key_b64(key), "bench")
    caller = registry.caller_for(platform, ids["cn-customs"])
    lines = []  # bytes only: event dicts kept alive would swell what the collector scans
    for i in range(n):
        e = body(i % 10, i, "I") | {"side": "CN"}  # CN-side points only: the reporter's side
        lines.append(json.dumps({"event": e, "signature": sign_event(key, e)}).encode())
    t = time.perf_counter()
    stored = 0
    for k in range(0, n, 5000):
        rep = service.ingest_lines(platform, caller, lines[k : k + 5000])
        stored += rep.stored
    ingest_s = time.perf_counter() - t
    assert stored == n, f"stored {stored} of {n}"
    # what `audit verify` does for these events (after the chain): each proved by its batch entry
    report = Report()
    t = time.perf_counter()
    with platform.db.snapshot() as s:
        check_gate_events(s, report)
    verify_s = time.perf_counter() - t
    assert report.ok and report.checked["gate events"] == n, report.problems[:3]
    # the same rows straight in (ids offset so they do not clash), then removed
    rows = []
    with platform.db.session() as s:
        for r in s.query(GateEvent).limit(n):
            d = {c.name: getattr(r, c.name) for c in GateEvent.__table__.columns}
            d["event_id"] = "x" + d["event_id"][1:]
            rows.append(d)
    t = time.perf_counter()
    with platform.db.session() as s:
        insert_rows(s, table_of(GateEvent), rows)
    raw_s = time.perf_counter() - t
    with platform.db.session() as s:
        s.execute(delete(GateEvent).where(GateEvent.event_id.like("x%")))
    return {
        "ingest_per_s": n / ingest_s,
        "raw_insert_per_s": len(rows) / raw_s,
        "audit_check_per_s": n / verify_s,
    }


def bulk_store(platform: Platform, org_id: int, member: str, stored: int) -> int:
    trucks = stored // 40
    chunk: list[dict[str, Any]] = []
    refs: list[dict[str, Any]] = []
    now = datetime.now(UTC)
    ev_t, ref_t = table_of(GateEvent), table_of(GateEventRef)
    with platform.db.session() as s:
        for truck in range(trucks):
            for i in range(40):
                b = body(i, truck)
                eid = f"{truck:032x}{i:032x}"
                chunk.append(
                    {
                        "event_id": eid, "crossing_code": "KHG-NZH", "side": b["side"],
                        "read_point": b["readPoint"], "biz_step": "inspecting", "disposition": None,
                        "truck": f"KZ:B{truck:07d}",
                        "event_time": datetime.fromisoformat(b["eventTime"]),
                        "event_offset": "+00:00", "record_time": now, "corrects": None,
                        "reporter_org_id": org_id, "reporter": member, "content": b,
                        "signature": "-", "key_id": "-", "audit_batch": None,
                    }
                )  # fmt: skip
                refs.append({"event_id": eid, "ref_type": "declaration", "ref": f"D{truck}"})
            if len(chunk) >= 20_000:
                insert_rows(s, ev_t, chunk)
                insert_rows(s, ref_t, refs)
                chunk, refs = [], []
        if chunk:
            insert_rows(s, ev_t, chunk)
            insert_rows(s, ref_t, refs)
    return trucks


def bench_timeline(
    platform: Platform, ids: dict[str, str], stored: int, lookups: int
) -> dict[str, float]:
    org = registry.caller_for(platform, ids["cn-customs"])
    t = time.perf_counter()
    trucks = bulk_store(platform, org.id, org.member_id, stored)
    fill_s = time.perf_counter() - t
    if platform.db.engine.dialect.name == "postgresql":
        with platform.db.engine.begin() as conn:
            conn.execute(text("ANALYZE gate_events; ANALYZE gate_event_refs"))
    gc.collect()  # the fill's allocations are not the lookups' to pay for
    rng = random.Random(1)
    times = []
    for _ in range(lookups):
        truck = rng.randrange(trucks)
        t = time.perf_counter()
        tl = timeline.truck_timeline(platform, org, "KZ", f"B{truck:07d}")
        times.append((time.perf_counter() - t) * 1000)
        assert len(tl.entries) == 40
    times.sort()
    return {
        "fill_rows_per_s": stored / fill_s,
        "timeline_p50_ms": statistics.median(times),
        "timeline_p99_ms": times[int(0.99 * (len(times) - 1))],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--ingest", type=int, default=20_000)
    ap.add_argument("--stored", type=int, default=1_000_000)
    ap.add_argument("--lookups", type=int, default=300)
    a = ap.parse_args()
    kinds = ["sqlite", "postgresql"] if a.backend == "both" else [a.backend]
    print(f"load average at start: {_load()}", flush=True)
    for kind in kinds:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                database_url=backend_url(kind, Path(tmp), "gates"),
                demo_mode=True,
                data_dir=Path(tmp),
            )
            platform = Platform(settings)
            prepare_database(platform)
            ids = seed_registry(platform)
            before = crypto_ceiling()  # the bound, measured right before and after the ingest
            ing = bench_ingest(platform, ids, a.ingest)
            after = crypto_ceiling()
            print(
                f"{kind:10s} Ed25519 around the ingest: verify "
                f"{before['verify_1']:,.0f} / {after['verify_1']:,.0f} per s on one thread, "
                f"{before['verify_2']:,.0f} / {after['verify_2']:,.0f} on two "
                f"({os.cpu_count()} cores); sign {before['sign_per_s']:,.0f} / "
                f"{after['sign_per_s']:,.0f} (before / after)\n"
                f"{kind:10s} ingest: {ing['ingest_per_s']:,.0f} signed events/s (verified, audited) "
                f"vs raw bulk insert {ing['raw_insert_per_s']:,.0f} rows/s "
                f"({ing['ingest_per_s'] / ing['raw_insert_per_s']:.0%}); audit verify proves "
                f"{ing['audit_check_per_s']:,.0f} stored events/s against their batch entries; "
                f"load {_load()}",
                flush=True,
            )
            tl = bench_timeline(platform, ids, a.stored, a.lookups)
            print(
                f"{kind:10s} timeline of 40 events with {a.stored + a.ingest:,} stored: "
                f"p50 {tl['timeline_p50_ms']:.1f} ms, p99 {tl['timeline_p99_ms']:.1f} ms "
                f"(target p99 <= 20 ms); bulk fill {tl['fill_rows_per_s']:,.0f} rows/s",
                flush=True,
            )
            platform.close()
    print(f"load average at end: {_load()}")


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
