"""Risk assessor benchmark: declarations assessed per second, and time from lodging to lane.

Run: .venv/bin/python bench/assessor.py [--backend both] [--declarations 5000] [--history 600]
Per backend (SQLite file, PostgreSQL at 127.0.0.1:5432), on a fresh database:
  1. throughput with the built-in default profile (random selection only, no model);
  2. a labelled history: --history declarations lodged, assessed and inspected (recorded through
     the service, audited), spread over 60 days; `train --from-platform` on it (full search);
  3. throughput with a saved profile (criteria, value band, random quotas, model top-ups) and
     the trained model active: scores and top-5 explanations for every goods item;
  4. time from lodging to lane with the API's worker thread running (in-process app, default
     0.2 s poll): steady single lodgings, then a burst of JSON Lines batches.
Assessment = lock rows, map items, assess, combine, insert rows, update declarations, append
one signed audit entry per declaration, commit.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchdb import backend_url  # noqa: E402

from silkgate.bootstrap import prepare_database  # noqa: E402
from silkgate.core.platform import Platform  # noqa: E402
from silkgate.core.settings import Settings  # noqa: E402
from silkgate.declarations import service as declarations  # noqa: E402
from silkgate.declarations.models import Declaration  # noqa: E402
from silkgate.risk.platform import model_registry  # noqa: E402
from silkgate.risk.platform import profiles as profile_service  # noqa: E402
from silkgate.risk.platform.models import RiskAssessment  # noqa: E402
from silkgate.risk.platform.worker import assess_pending, assessor_for  # noqa: E402
from tests.factories import caller, seeded  # noqa: E402
from tests.risk.platform_env import Env  # noqa: E402
from tests.risk.platform_history import cn_exports, inspected_history  # noqa: E402

PROFILE = {
    "description": "benchmark: criteria, a value band, random quotas and model top-ups",
    "lists": {"watched": ["91650000000000000X"]},
    "criteria": [
        {
            "name": "textiles",
            "description": "textiles",
            "when": 'hs2 in ["61", "62"]',
            "lane": "yellow",
            "percent": 30,
        },
        {
            "name": "watched",
            "description": "watched exporter",
            "when": "exporter in @watched",
            "lane": "red",
        },
        {
            "name": "light",
            "description": "light for its value",
            "when": "unit_value > 500",
            "lane": "yellow",
        },
    ],
    "value_controls": {"bands": [{"hs6": "847130", "min_per_kg": 5.0, "max_per_kg": 400.0}]},
    "random": {"rates": {"red": 1.0, "yellow": 2.0}},
    "model": {"rates": {"red": 3.0, "yellow": 5.0}, "exploration": 0.1},
}


def make_url(kind: str, tmp: Path) -> str:
    return backend_url(kind, tmp, "risk")


def lodge(platform: Platform, who: Any, bodies: list[dict[str, Any]]) -> list[str]:
    ids: list[str] = []
    for i in range(0, len(bodies), 500):
        report = declarations.create_batch(platform, who, bodies[i : i + 500])
        ids += [line.id for line in report.lines if line.id]
    return ids


def throughput(platform: Platform, who: Any, n: int, prefix: str) -> dict[str, float]:
    bodies = cn_exports(n, seed=hash(prefix) % 1000, prefix=prefix)
    lodge(platform, who, bodies)
    items = sum(len(b["goods_items"]) for b in bodies)
    t0 = time.perf_counter()
    done = assess_pending(platform)
    seconds = time.perf_counter() - t0
    return {"declarations": done, "items": items, "seconds": seconds, "rate": done / seconds}


def lags(platform: Platform, ids: list[str], commits: list[float]) -> list[float]:
    """Seconds from lodging to the commit of the batch that gave each declaration its lane."""
    with platform.db.session() as s:
        rows = s.execute(
            select(Declaration.submitted_at, RiskAssessment.assessed_at)
            .join(RiskAssessment, RiskAssessment.declaration_id == Declaration.id)
            .where(Declaration.id.in_(ids))
        ).all()
    out = []
    for submitted, assessed in rows:
        sub = submitted.replace(tzinfo=UTC) if submitted.tzinfo is None else submitted
        ass = (assessed.replace(tzinfo=UTC) if assessed.tzinfo is None else assessed).timestamp()
        commit = next((c for c in commits if c >= ass), ass)
        out.append(commit - sub.timestamp())
    return sorted(out)


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def latency(env: Env, steady: int, rate: float, burst: int) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from silkgate.app import create_app

    assessor = assessor_for(env.platform)
    commits: list[float] = []
    original = assessor.run_once

    def timed(limit: int) -> int:
        n = original(limit)
        if n:
            commits.append(datetime.now(UTC).timestamp())
        return n

    assessor.run_once = timed
    out: dict[str, Any] = {}
    with TestClient(create_app(platform=env.platform)) as client:
        ids = []
        bodies = cn_exports(steady, seed=77, prefix="LAT")
        t0 = time.perf_counter()
        for i, body in enumerate(bodies):
            r = client.post("/api/v1/declarations", json=body, headers=env.auth("cn-broker"))
            ids.append(r.json()["id"])
            time.sleep(max(0.0, t0 + (i + 1) / rate - time.perf_counter()))
        burst_bodies = cn_exports(burst, seed=78, prefix="BUR")
        who = env.caller("cn-broker")
        burst_ids: list[str] = []
        sender = threading.Thread(
            target=lambda: burst_ids.extend(lodge(env.platform, who, burst_bodies))
        )
        t1 = time.perf_counter()
        sender.start()
        sender.join()
        lodged_in = time.perf_counter() - t1
        while time.perf_counter() - t1 < 60:
            with env.platform.db.session() as s:
                waiting = s.scalar(
                    select(Declaration.id).where(Declaration.status == "accepted").limit(1)
                )
            if waiting is None:
                break
            time.sleep(0.05)
        drained_in = time.perf_counter() - t1
    assessor.run_once = original
    steady_lags = lags(env.platform, ids, commits)
    burst_lags = lags(env.platform, burst_ids, commits)
    out["steady"] = {
        "n": len(steady_lags),
        "p50": pct(steady_lags, 0.5),
        "p99": pct(steady_lags, 0.99),
        "max": steady_lags[-1],
    }
    out["burst"] = {
        "n": len(burst_lags),
        "lodged_s": lodged_in,
        "all_assessed_s": drained_in,
        "p50": pct(burst_lags, 0.5),
        "max": burst_lags[-1],
    }
    return out


def bench_backend(kind: str, args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f"silkgate-bench-risk-{kind}-"))
    url = make_url(kind, tmp)
    platform = Platform(Settings(database_url=url, demo_mode=True, data_dir=tmp))
    prepare_database(platform)
    ids = seeded(platform)
    who = caller(platform, ids, "cn-broker")
    env = Env.build(platform)
    print(f"\n== {kind}")
    r = throughput(platform, who, args.declarations, "T0")
    print(
        f"default profile, no model: {r['declarations']} declarations ({r['items']} items) "
        f"in {r['seconds']:.2f} s = {r['rate']:,.0f} declarations/s"
    )
    t0 = time.perf_counter()
    inspected_history(env, n=args.history)
    t1 = time.perf_counter()
    meta, _ = model_registry.train_from_platform(platform, "bench", "CN-KHORGOS", activate_it=True)
    t2 = time.perf_counter()
    rep = meta.validation_report
    print(
        f"history: {args.history} declarations lodged, assessed, inspected in {t1 - t0:.1f} s; "
        f"train --from-platform on {meta.training.rows} items: {t2 - t1:.1f} s "
        f"(held-out AUC {rep.auc if rep else float('nan'):.3f})"
    )
    profile_service.save(platform, "bench", "CN-KHORGOS", "export", PROFILE)
    r = throughput(platform, who, args.declarations, "T1")
    print(
        f"profile + model + explanations: {r['declarations']} declarations ({r['items']} items) "
        f"in {r['seconds']:.2f} s = {r['rate']:,.0f} declarations/s"
    )
    lat = latency(env, args.steady, args.rate, args.burst)
    s, b = lat["steady"], lat["burst"]
    print(
        f"lodging -> lane, {s['n']} single lodgings at {args.rate:g}/s with the worker thread: "
        f"p50 {s['p50'] * 1000:.0f} ms, p99 {s['p99'] * 1000:.0f} ms, max {s['max'] * 1000:.0f} ms"
    )
    print(
        f"burst of {b['n']} in batches of 500: lodged in {b['lodged_s']:.2f} s, all assessed "
        f"{b['all_assessed_s']:.2f} s after the burst began; lag p50 {b['p50'] * 1000:.0f} ms, "
        f"max {b['max'] * 1000:.0f} ms"
    )
    platform.close()


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--declarations", type=int, default=5000)
    ap.add_argument("--history", type=int, default=600)
    ap.add_argument("--steady", type=int, default=300, help="single lodgings for the latency")
    ap.add_argument("--rate", type=float, default=30.0, help="single lodgings per second")
    ap.add_argument("--burst", type=int, default=3000)
    args = ap.parse_args()
    print(f"silkgate assessor benchmark — {os.cpu_count()} cores")
    for kind in ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]:
        bench_backend(kind, args)


if __name__ == "__main__":
    main()
