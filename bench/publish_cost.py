"""Write-path cost of delivery under agreements: lodging a declaration with 0, 1 or 5 category
subscribers of pre-arrival information.

Run: .venv/bin/python bench/publish_cost.py [--backend sqlite|postgresql|both] [--per-round 60]
                                           [--rounds 5]
Per backend, in one run, side by side: five consumer organizations (KZ customs, the Nur Zholy
customs-service company, checkpoint operator and a KZ carrier, the analytics center) each hold
an agreement with CN customs for CN→KZ pre-arrival information and a pull subscription to it.
A variant switches on 0, 1 or all 5 of the subscriptions, then lodges declarations one per
transaction (``declarations.create``, the single-declaration API path). Each round runs every
variant once, in a rotating order. With 0 the write pays the one subscription query; each
subscriber that receives the fact adds the decision, the filtered outbox message, its delivery
rows, its audit entry and its disclosure row, in the same transaction. The script checks that
each lodging wrote as many messages as subscribers. Printed per variant: the median per
lodging over every call, the ratio to 0 subscribers, the median of the round-by-round ratios
and their range (how much the shared machine moved), and the load average at start and end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchdb import backend_url
from sqlalchemy import func, select, update

from silkgate.bootstrap import prepare_database
from silkgate.core.platform import Platform
from silkgate.core.settings import Settings
from silkgate.declarations import service as declarations
from silkgate.demo.service import seed_registry
from silkgate.demo.traffic import CROSSING, TrafficGenerator
from silkgate.exchange import service as exchange
from silkgate.exchange.agreements.defaults import pre_arrival_fields
from silkgate.exchange.agreements.models import Agreement
from silkgate.exchange.agreements.terms import digest
from silkgate.exchange.models import OutboxMessage, Subscription
from silkgate.exchange.schemas import SubscriptionIn
from silkgate.registry.service import caller_for

CONSUMERS = ("kz-customs", "kz-service", "kz-eport", "kz-carrier", "karamay")
VARIANTS = (0, 1, 5)


def bodies(n: int, prefix: str) -> list[dict[str, Any]]:
    """``n`` CN→KZ exports at Khorgos–Nur Zholy (pre-arrival information for KZ)."""
    gen = TrafficGenerator(seed=5)
    out: list[dict[str, Any]] = []
    while len(out) < n:
        d = gen.declaration()
        if d["type"] == "export" and d["crossing"]["exit_country"] == "CN":
            d["lrn"] = f"{prefix}-{len(out):06d}"
            out.append(d)
    return out


def agreement(aid: str, consumer: str, place: str) -> Agreement:
    """An active CN customs → ``consumer`` pre-arrival agreement (as signed by both)."""
    at = datetime(2020, 1, 1, tzinfo=UTC)
    row = Agreement(
        agreement_id=aid,
        version=1,
        status="active",
        provider="CN",
        consumers=[consumer],
        category="pre_arrival",
        fields=pre_arrival_fields(False),
        purposes=["statistics"],
        places=[place],
        crossings=[CROSSING],
        condition=None,
        personal_data=False,
        valid_from=at,
        valid_until=None,
        builtin=False,
        terms_digest="",
        proposed_by="bench",
        proposed_at=at,
        activated_at=at,
    )
    row.terms_digest = digest(row)
    return row


def subscribe_all(platform: Platform, ids: dict[str, str]) -> list[int]:
    """One agreement and one pull subscription per consumer; all switched off."""
    subs = []
    for key in CONSUMERS:
        who = caller_for(platform, ids[key])
        aid = f"bench-pre-arrival-{key}"
        with platform.db.session() as s:
            s.add(agreement(aid, who.member_id, who.country))
        body = SubscriptionIn(agreement_id=aid, categories=["pre_arrival"], purpose="statistics")
        subs.append(exchange.add_subscription(platform, who, body).id)
    switch(platform, subs, 0)
    return subs


def switch(platform: Platform, subs: list[int], n: int) -> None:
    with platform.db.session() as s:
        s.execute(update(Subscription).values(active=Subscription.id.in_(subs[:n])))


def messages(platform: Platform) -> int:
    with platform.db.session() as s:
        return s.scalar(select(func.count()).select_from(OutboxMessage)) or 0


def run_backend(kind: str, per_round: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="silkgate-bench-publish-") as tmp:
        url = backend_url(kind, Path(tmp), "publish")
        settings = Settings(
            database_url=url,
            data_dir=Path(tmp),
            risk_worker=False,
            exchange_worker=False,
            demo_mode=True,
        )
        platform = Platform(settings)
        try:
            prepare_database(platform)
            ids = seed_registry(platform)
            subs = subscribe_all(platform, ids)
            broker = caller_for(platform, ids["cn-broker"])
            todo = iter(bodies(per_round * rounds * len(VARIANTS) + 20, f"PUB{kind[:2]}"))
            for body in [next(todo) for _ in range(20)]:  # warm-up: caches, connections
                declarations.create(platform, broker, body)
            times: dict[int, list[float]] = {v: [] for v in VARIANTS}
            per_round_median: dict[int, list[float]] = {v: [] for v in VARIANTS}
            for r in range(rounds):
                order = VARIANTS[r % 3 :] + VARIANTS[: r % 3]
                for v in order:
                    switch(platform, subs, v)
                    before = messages(platform)
                    mine = []
                    for _ in range(per_round):
                        body = next(todo)
                        t0 = time.perf_counter()
                        declarations.create(platform, broker, body)
                        mine.append(time.perf_counter() - t0)
                    wrote = messages(platform) - before
                    assert wrote == v * per_round, (kind, v, wrote)
                    times[v] += mine
                    per_round_median[v].append(statistics.median(mine))
            base = statistics.median(times[0])
            print(f"\n{kind}: {per_round} lodgings per variant and round, {rounds} rounds")
            print(f"  {'subscribers':>11} {'median ms':>10} {'ratio':>6} {'round ratios':>24}")
            for v in VARIANTS:
                med = statistics.median(times[v])
                ratios = [
                    m / b for m, b in zip(per_round_median[v], per_round_median[0], strict=True)
                ]
                spread = f"{statistics.median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f})"
                print(f"  {v:>11} {med * 1000:>10.2f} {med / base:>6.2f} {spread:>24}")
            print(f"  load average after {kind}: {os.getloadavg()}")
        finally:
            platform.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--per-round", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    kinds = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    for kind in kinds:
        run_backend(kind, args.per_round, args.rounds)
    print(f"\nload average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
