"""Exchange benchmark: the policy cost of reading and listing declarations through agreements.

Run: .venv/bin/python bench/exchange.py [--backend sqlite|postgresql|both] [--declarations 4000]
                                        [--rounds 7]
     .venv/bin/python bench/exchange.py delivery|faults …  (webhook delivery: see
                                        bench/exchange_delivery.py)
Per backend, in one run, side by side (rounds; within a round the variants take turns call by
call, in a rotating order):
  - ``hard-coded``: today's view before agreements (declarations.legacy: access.view_of,
    the pre-arrival redaction, no decision, no log);
  - ``enforced``: the reads the API serves (declarations.reading through the policy decision
    point: which shipped default agreements are active checked in the read's own statement,
    their rules cached per process, decide per record, filter to the allowed pointers, one
    disclosure row per record shown under an agreement, written in the read's transaction
    with its commit);
  - ``enforced, no log``: the same with the disclosure rows dropped, to show the log's share.
Measured twice: over HTTP (the real routes; the hard-coded view behind a bench-only route
with the same authentication and serialisation) — the issue's target, ≤ 10 % slower — and in
the service layer with JSON serialisation, without HTTP (a stricter ratio). The reader is KZ
customs: CN→KZ exports reach it as pre-arrival information (agreement, logged), declarations
lodged with KZ in full (authority, not logged). Reads: GET one declaration (half of each),
a list of 50 and a list of 500 (the maximum page). Printed per read: the medians over every
call and their ratio, and the median and range of the ratio round by round (each round's
medians compared) — the spread says how much the shared machine moved the figure. The load
average is printed at the start, after each backend and at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchdb import backend_url
from fastapi import APIRouter, Depends, Response
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from silkgate.app import create_app
from silkgate.bootstrap import prepare_database
from silkgate.core.http import get_platform
from silkgate.core.platform import Platform
from silkgate.core.settings import Settings
from silkgate.declarations import legacy, reading
from silkgate.declarations import service as declarations
from silkgate.declarations.reading import ListFilter
from silkgate.demo.service import seed_registry
from silkgate.demo.traffic import TrafficGenerator
from silkgate.exchange.agreements.enforce import Asking, Point
from silkgate.exchange.disclosures.models import Disclosure
from silkgate.registry import service as registry
from silkgate.registry.auth import current_caller
from silkgate.registry.service import Caller, caller_for

GETS = 200  # single reads per variant and round
LISTS_50 = 20
LISTS_500 = 4
CASES = (("get", GETS), ("list 50", LISTS_50), ("list 500", LISTS_500))


def bodies(n: int, exit_country: str, prefix: str) -> list[dict[str, Any]]:
    """``n`` realistic export declarations leaving ``exit_country`` at Khorgos–Nur Zholy."""
    gen = TrafficGenerator(seed=3 if exit_country == "CN" else 4)
    out: list[dict[str, Any]] = []
    while len(out) < n:
        d = gen.declaration()
        if d["type"] == "export" and d["crossing"]["exit_country"] == exit_country:
            d["lrn"] = f"{prefix}-{len(out):06d}"
            out.append(d)
    return out


def lodge(platform: Platform, who: Caller, rows: list[dict[str, Any]]) -> list[str]:
    ids: list[str] = []
    for i in range(0, len(rows), 500):
        report = declarations.create_batch(platform, who, rows[i : i + 500])
        assert report.rejected == 0, report.lines[:3]
        ids += [line.id for line in report.lines if line.id]
    return ids


@contextmanager
def no_log() -> Any:
    """Drop the disclosure rows instead of writing them (the variant without the log)."""
    original = Point.flush

    def drop(self: Point) -> None:
        self._rows, self._persons = [], {}

    Point.flush = drop
    try:
        yield
    finally:
        Point.flush = original


def variants(
    platform: Platform, kz: Caller
) -> dict[str, tuple[Callable[[str], str], Callable[[int], str]]]:
    """Per variant: one GET and one list in the service layer, serialised as the route does."""
    asking = Asking(kz, "customs_control")

    def get_old(decl_id: str) -> str:
        return legacy.get(platform, kz, decl_id).model_dump_json()

    def list_old(limit: int) -> str:
        return legacy.list_declarations(platform, kz, ListFilter(), None, limit).model_dump_json()

    def get_new(decl_id: str) -> str:
        return reading.get(platform, asking, decl_id).model_dump_json(exclude_unset=True)

    def list_new(limit: int) -> str:
        page = reading.list_declarations(platform, asking, ListFilter(), None, limit)
        return page.model_dump_json(exclude_unset=True)

    return {
        "hard-coded": (get_old, list_old),
        "enforced": (get_new, list_new),
        "enforced, no log": (get_new, list_new),
    }


def legacy_router() -> APIRouter:
    """The hard-coded view behind the same authentication and serialisation as the real
    routes, mounted for this benchmark only."""
    router = APIRouter(prefix="/bench/hard-coded/declarations")

    @router.get("")
    def listing(
        limit: int = 50,
        platform: Platform = Depends(get_platform),
        caller: Caller = Depends(current_caller),
    ) -> Response:
        page = legacy.list_declarations(platform, caller, ListFilter(), None, limit)
        return Response(page.model_dump_json(), media_type="application/json")

    @router.get("/{declaration_id}")
    def one(
        declaration_id: str,
        platform: Platform = Depends(get_platform),
        caller: Caller = Depends(current_caller),
    ) -> Response:
        out = legacy.get(platform, caller, declaration_id)
        return Response(out.model_dump_json(), media_type="application/json")

    return router


def http_variants(
    client: TestClient, key: str
) -> dict[str, tuple[Callable[[str], str], Callable[[int], str]]]:
    """Per variant: the same reads over HTTP (in-process ASGI client, API key auth)."""
    auth = {"Authorization": f"Bearer {key}"}
    purpose = {**auth, "Silkgate-Purpose": "customs_control"}

    def fetch(path: str, headers: dict[str, str]) -> str:
        r = client.get(path, headers=headers)
        assert r.status_code == 200, r.text
        return r.text

    def get_old(decl_id: str) -> str:
        return fetch(f"/bench/hard-coded/declarations/{decl_id}", auth)

    def list_old(limit: int) -> str:
        return fetch(f"/bench/hard-coded/declarations?limit={limit}", auth)

    def get_new(decl_id: str) -> str:
        return fetch(f"/api/v1/declarations/{decl_id}", purpose)

    def list_new(limit: int) -> str:
        return fetch(f"/api/v1/declarations?limit={limit}", purpose)

    return {
        "hard-coded": (get_old, list_old),
        "enforced": (get_new, list_new),
        "enforced, no log": (get_new, list_new),
    }


#: Per (variant, read): the times (ms) of each round.
Rounds = dict[tuple[str, str], list[list[float]]]


def measure(
    runs: dict[str, tuple[Callable[[str], str], Callable[[int], str]]],
    ids: list[str],
    rounds: int,
) -> Rounds:
    """Times per read (ms), per variant and kind of read, round by round.

    In every round each kind of read is done ``GETS`` / ``LISTS_50`` / ``LISTS_500`` times by
    every variant, the variants taking turns call by call in an order that rotates, so a
    change in the load of the shared machine falls on all of them alike.
    """
    rng = random.Random(9)
    names = list(runs)
    times: Rounds = {(name, kind): [] for name in names for kind, _ in CASES}
    picks = [rng.choice(ids) for _ in range(GETS * rounds)]
    for r in range(rounds):
        for kind, n in CASES:
            for series in times.values():
                if len(series) == r:
                    series.append([])
            for i in range(n):
                turn = r * n + i
                for name in names[turn % 3 :] + names[: turn % 3]:
                    get, listing = runs[name]
                    with no_log() if name == "enforced, no log" else _nothing():
                        started = time.perf_counter()
                        if kind == "get":
                            get(picks[turn])
                        else:
                            listing(50 if kind == "list 50" else 500)
                        elapsed = time.perf_counter() - started
                    times[(name, kind)][r].append(elapsed * 1000)
    return times


def report(title: str, got: Rounds) -> None:
    """Medians over every call, their ratio, and the spread of the ratio round by round
    (each round's median against the hard-coded view's in the same round)."""
    print(f"  {title}", flush=True)

    def med(name: str, read: str) -> float:
        return statistics.median(t for rnd in got[(name, read)] for t in rnd)

    def per_round(name: str, read: str) -> list[float]:
        old = got[("hard-coded", read)]
        return [
            statistics.median(new) / statistics.median(o)
            for new, o in zip(got[(name, read)], old, strict=True)
        ]

    for read, _ in CASES:
        old, new, bare = (
            med("hard-coded", read),
            med("enforced", read),
            med("enforced, no log", read),
        )
        rr = per_round("enforced", read)
        print(
            f"    {read:9s} hard-coded {old:8.2f} ms | enforced {new:8.2f} ms (x{new / old:.3f}; "
            f"rounds x{statistics.median(rr):.3f}, {min(rr):.3f}-{max(rr):.3f}) | "
            f"enforced, no log {bare:8.2f} ms (x{bare / old:.3f})",
            flush=True,
        )


@contextmanager
def _nothing() -> Any:
    yield


def check_same(platform: Platform, kz: Caller, ids: list[str]) -> None:
    """The two paths answer the same records with the same content (lane key aside: the
    hard-coded view sends ``lane: null`` for pre-arrival, the enforced one leaves it out)."""
    old = legacy.list_declarations(platform, kz, ListFilter(), None, 500)
    new = reading.list_declarations(
        platform, Asking(kz, "customs_control"), ListFilter(), None, 500
    )
    assert [d.id for d in old.items] == [d.id for d in new.items]
    for a, b in zip(old.items, new.items, strict=True):
        x = a.model_dump(mode="json")
        y = b.model_dump(mode="json", exclude_unset=True)
        if x["pre_arrival"]:
            assert x.pop("lane") is None and "lane" not in y
        assert x == y, a.id


def main() -> None:
    if sys.argv[1:2] in (["delivery"], ["faults"]):  # webhook delivery: bench/exchange_delivery.py
        from exchange_delivery import main as delivery_main

        delivery_main(sys.argv[1:])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--declarations", type=int, default=4000)
    ap.add_argument("--rounds", type=int, default=7)
    a = ap.parse_args()
    kinds = ["sqlite", "postgresql"] if a.backend == "both" else [a.backend]
    print(f"load average at start: {_load()}", flush=True)
    for kind in kinds:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                database_url=backend_url(kind, Path(tmp), "exchange"),
                demo_mode=True,
                data_dir=Path(tmp),
            )
            platform = Platform(settings)
            prepare_database(platform)
            ids = seed_registry(platform)
            cn_broker = caller_for(platform, ids["cn-broker"])
            kz_service = caller_for(platform, ids["kz-service"])
            kz = caller_for(platform, ids["kz-customs"])
            half = a.declarations // 2
            cn_rows, kz_rows = bodies(half, "CN", "CN"), bodies(half, "KZ", "KZ")
            decl_ids: list[str] = []
            for i in range(0, half, 250):  # interleaved, so every page mixes both
                decl_ids += lodge(platform, cn_broker, cn_rows[i : i + 250])
                decl_ids += lodge(platform, kz_service, kz_rows[i : i + 250])
            check_same(platform, kz, decl_ids)
            service_times = measure(variants(platform, kz), decl_ids, a.rounds)
            app = create_app(platform=platform)
            app.include_router(legacy_router())
            _, key = registry.issue_api_key(platform, ids["kz-customs"], "bench", "bench")
            with TestClient(app) as client:
                http_times = measure(http_variants(client, key), decl_ids, a.rounds)
            with platform.db.snapshot() as s:
                logged = s.scalar(select(func.count()).select_from(Disclosure))
            print(
                f"{kind}: {len(decl_ids):,} declarations (half CN→KZ pre-arrival, half lodged "
                f"with KZ), reader KZ customs, medians of {a.rounds} rounds of calls; "
                f"{logged:,} disclosure rows written",
                flush=True,
            )
            report("HTTP (the API as served, in-process client):", http_times)
            report("service layer (no HTTP: the stricter ratio):", service_times)
            print(f"  load {_load()}", flush=True)
            platform.close()
    print(f"load average at end: {_load()}")


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
