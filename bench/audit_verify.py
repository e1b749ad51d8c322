"""Audit verification benchmark: how long `silkgate audit verify` takes on a large log.

Run: .venv/bin/python bench/audit_verify.py [--declarations 50000] [--backends sqlite,postgresql]
Per backend (fresh SQLite file; PostgreSQL database silkgate_bench at 127.0.0.1:5432): lodge
the declarations in JSON Lines batches of 500 (two audit entries each), optionally assess them
(--assess: one more entry and an assessment row each), then time, on one snapshot each:
  - the chain pass (links, hashes, Ed25519 signatures against pinned keys);
  - the table pass (every declaration, version, goods item, assessment replayed against its log);
  - the whole `verify_all` as the CLI runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from ingest import bodies, make_backend

from silkgate.audit.consistency import run_checks
from silkgate.audit.keys import trusted_keys
from silkgate.audit.service import verify_chain
from silkgate.audit.verify import verify_all
from silkgate.bootstrap import prepare_database
from silkgate.core.platform import Platform
from silkgate.core.settings import Settings
from silkgate.declarations import service as declarations
from silkgate.demo.service import seed_registry
from silkgate.registry import service as registry
from silkgate.risk.platform.worker import assess_pending


def build(platform: Platform, n: int, assess: bool) -> float:
    ids = seed_registry(platform)
    broker = registry.caller_for(platform, ids["cn-broker"])
    lines = bodies(n, "AV", seed=5)
    started = time.perf_counter()
    for i in range(0, n, 500):
        report = declarations.create_batch(platform, broker, lines[i : i + 500])
        assert report.rejected == 0, report.lines[:3]
    if assess:
        assess_pending(platform)
    return time.perf_counter() - started


def measure(kind: str, n: int, assess: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = make_backend(kind, Path(tmp))
        settings = Settings(
            database_url=url, demo_mode=True, data_dir=Path(tmp), group_commit=False
        )
        platform = Platform(settings)
        try:
            prepare_database(platform)
            took = build(platform, n, assess)
            trusted = trusted_keys(settings)
            with platform.db.snapshot() as s:
                t0 = time.perf_counter()
                chain = verify_chain(s, trusted)
                t1 = time.perf_counter()
                report = run_checks(s)
                t2 = time.perf_counter()
            assert chain.ok and report.ok, (chain, report.problems[:3])
            t3 = time.perf_counter()
            assert verify_all(platform).ok
            t4 = time.perf_counter()
            load = os.getloadavg()[0]
        finally:
            platform.close()
    entries = chain.checked
    print(
        json.dumps(
            {
                "backend": kind,
                "declarations": n,
                "assessed": assess,
                "audit_entries": entries,
                "build_s": round(took, 1),
                "chain_s": round(t1 - t0, 2),
                "chain_entries_per_s": round(entries / (t1 - t0)),
                "tables_s": round(t2 - t1, 2),
                "declarations_per_s": round(n / (t2 - t1)),
                "verify_all_s": round(t4 - t3, 2),
                "load_average": round(load, 1),
            }
        ),
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--declarations", type=int, default=50_000)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--assess", action="store_true")
    args = ap.parse_args()
    for kind in args.backends.split(","):
        measure(kind, args.declarations, args.assess)


if __name__ == "__main__":
    main()
