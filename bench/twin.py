"""Benchmark the digital twin: one year of a 1,000-trucks-a-day crossing, both sides.

Run:  .venv/bin/python bench/twin.py [--days 365] [--trucks-per-day 1000] [--replications 2]
      [--no-demo-traffic]

Uses the shipped khorgos-digital scenario with its demand scaled so both directions together
bring the given trucks per day (~365,000 trucks a year). A demand the scenario cannot carry
(more than its e-queue slots or acceptance caps allow) is refused with the reason: those
trucks would wait past the horizon and never be simulated, which would flatter the speed. Prints, for one replication on one
core, the simulated trucks and SimPy events per second; then the wall time of several
replications run in parallel on all cores; then one replication fed by the core's demo
traffic generator (`--traffic demo`). Target: <= 30 s per replication.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

try:
    import silkgate  # noqa: F401
except ImportError:  # not installed: run from the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from silkgate.twin import service
from silkgate.twin.scenario import load_scenario, scale_demand, with_run

TARGET_S = 30.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="khorgos-digital")
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--trucks-per-day", type=float, default=1000.0)
    ap.add_argument("--replications", type=int, default=2)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument(
        "--no-demo-traffic", action="store_true", help="skip the generator-fed replication"
    )
    args = ap.parse_args()

    sc = load_scenario(args.scenario)
    base = sum(d.trucks_per_day for d in sc.directions.values())
    sc = scale_demand(sc, args.trucks_per_day / base)
    sc = with_run(sc, days=args.days, warmup_days=7, replications=1, seed=1)
    limits = service.capacity_limits(sc)
    if limits:
        print(f"cannot simulate {args.trucks_per_day:,.0f} trucks a day on {args.scenario}:")
        for reason in limits:
            print(f"  {reason}")
        print("trucks beyond these limits would wait past the horizon and never be simulated;")
        print("lower --trucks-per-day or give --scenario a crossing with more capacity.")
        return 2
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"python {platform.python_version()}, {cores} core(s) available, {platform.machine()}")
    print(f"scenario {args.scenario}: {args.trucks_per_day:,.0f} trucks/day, {args.days} days")

    t0, c0 = time.perf_counter(), time.process_time()
    one = service.run(sc, workers=1)
    wall1, cpu1 = time.perf_counter() - t0, time.process_time() - c0
    rep = one.replications[0]
    print("\n1 replication, 1 core (in process)")
    print(f"  trucks simulated        {rep.trucks:>12,}")
    print(f"  SimPy events            {rep.events:>12,}")
    print(f"  simulation loop         {rep.seconds:>12.2f} s")
    print(f"  wall incl. setup+stats  {wall1:>12.2f} s   (target <= {TARGET_S:.0f} s)")
    print(f"  CPU time of the process {cpu1:>12.2f} s   (less sensitive to a busy machine)")
    print(f"  trucks per second       {rep.trucks / rep.seconds:>12,.0f}")
    print(f"  events per second       {rep.events / rep.seconds:>12,.0f}")
    released = sum(v for k, v in rep.metrics.items() if k.endswith(".released_per_day")) * (
        args.days - 7
    )
    print(f"  trucks released (window){released:>12,.0f}")
    per_day = sum(v for k, v in rep.metrics.items() if k.endswith(".arrived_per_day"))
    print(f"  trucks per day simulated{per_day:>12,.0f}   (asked {args.trucks_per_day:,.0f})")
    if per_day < 0.97 * args.trucks_per_day:
        print(f"  short of the demand; where the waiting is: {one.bottleneck}")

    r = args.replications
    t0 = time.perf_counter()
    many = service.run(sc, replications=r, workers=args.workers)
    wall = time.perf_counter() - t0
    trucks = sum(x.trucks for x in many.replications)
    print(f"\n{r} replications on {many.workers} worker process(es)")
    print(f"  wall                    {wall:>12.2f} s  ({wall / r:.2f} s per replication)")
    print(f"  trucks per second       {trucks / wall:>12,.0f}  (all workers)")
    print(f"  per-replication loop    {', '.join(f'{x.seconds:.2f}' for x in many.replications)} s")
    if not args.no_demo_traffic:
        from silkgate.twin.demo_traffic import pool_for
        from silkgate.twin.scenario import with_traffic

        demo_sc = with_traffic(sc, "demo")
        t0 = time.perf_counter()
        pool = pool_for(demo_sc.demand)
        t_pool = time.perf_counter() - t0
        demo = service.run(demo_sc, workers=1)
        wall_demo = time.perf_counter() - t0
        x = demo.replications[0]
        print(
            f"\ndemo traffic (generator seed {pool.seed}, {pool.size:,} declarations sampled in "
            f"{t_pool:.2f} s): {x.trucks:,} trucks, loop {x.seconds:.2f} s, "
            f"wall {wall_demo:.2f} s incl. sampling"
        )
    ok = wall1 <= TARGET_S
    print(
        f"\n{'PASS' if ok else 'FAIL'}: one replication in {wall1:.1f} s (target {TARGET_S:.0f} s)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
