"""The standard analytics jobs on a demo-scale lake: DuckDB vs PostgreSQL vs pandas vs Spark.

Run: .venv/bin/python bench/analytics.py --lake /tmp/lake10m [--generate 10000000]
                                          [--engines duckdb,postgresql,pandas,spark]
                                          [--pg-timeout 600] [--pg-nestloop] [--rounds 3]
(``--generate`` writes the lake, then compacts it: one file per partition and month.)

Each engine runs in its own child process, one after the other on the same lake (every job of
the report with its default parameters, computing in CN under agreements that let KZ's data be
processed there, minimum cell size 1), so its peak memory is its own: the child's own peak
(``wait4``'s ``ru_maxrss``) or its whole process tree's (Spark's JVM included) sampled from
/proc every 250 ms, whichever is larger. (Sampling every 50 ms cost ~3 ms of CPU each time —
6 % of a core taken from the engine being timed, more from one using both cores.) Start-up or loading
(Spark's session, PostgreSQL's COPY of the lake, pandas reading each job's datasets — only
those, dropped after the job) is timed apart from the queries. Every engine's results are
compared with DuckDB's, job by job: a speed figure for an engine that answered differently
would mean nothing. PostgreSQL runs the
jobs' very SQL text (see bench/analytics_pg.py); pandas runs bench/analytics_pandas.py, the
same definitions written as dataframe code for this comparison only.

With ``--rounds N`` the engines take turns N times (DuckDB, PostgreSQL, … then again), so a
spell of load from elsewhere on a shared machine falls on both sides of a ratio rather than on
one engine's whole run: PostgreSQL loads the lake once, in its first round, and each later
round queries what it loaded. Each round's ratio is printed, then the median of the rounds'
ratios and their range; the per-job table shows each engine's median seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from silkgate.analytics.jobs.compare import differences

ROOT = Path(__file__).resolve().parent
PG_ADMIN = os.environ.get("SILKGATE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
COMPUTE = "CN"


def _tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants, in kB (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, ()))
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def _measure(cmd: list[str]) -> tuple[int, int]:
    """Run ``cmd``; its exit code and the peak resident memory of its process tree (kB)."""
    proc = subprocess.Popen(cmd)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_kb(proc.pid))
            done.wait(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    sampler.join()
    return proc.returncode, max(peak, usage.ru_maxrss)


def standard_jobs() -> list[str]:
    from silkgate.analytics.jobs.catalogue import JOBS

    return [name for name, job in JOBS.items() if job.standard]


def rules() -> list[Any]:
    """Agreements of KZ customs letting every dataset be processed in CN for statistics."""
    from silkgate.analytics.jobs.catalogue import JOBS
    from silkgate.analytics.jobs.residency import CATEGORY_OF
    from silkgate.exchange.agreements.policy import Rule

    return [
        Rule(
            agreement_id=f"bench-kz-{c}",
            version=1,
            provider="KZ",
            consumers=frozenset({"CN"}),
            category=c,
            fields=frozenset(),
            purposes=frozenset({"statistics"}),
            places=frozenset({COMPUTE}),
            crossings=frozenset(),
            valid_from=datetime(2000, 1, 1, tzinfo=UTC),
            valid_until=None,
            condition=None,
            personal_data=False,
        )
        # every category a standard job reads, those its datasets' extra rules name included
        for c in {*CATEGORY_OF.values(), *(c for j in JOBS.values() for _, c in j.also_governed_by)}
    ]


def one_engine(
    engine_name: str,
    lake: Path,
    out: Path,
    pg_url: str | None,
    pg_timeout: int,
    pg_nestloop: bool,
    pg_loaded_rows: int = 0,
) -> None:
    """Child process: start the engine, run every standard job, write timings and results."""
    from silkgate.analytics.jobs import service
    from silkgate.analytics.jobs.engines import DuckDBEngine
    from silkgate.analytics.jobs.residency import decide

    report: dict[str, Any] = {"engine": engine_name, "jobs": {}}
    began = time.perf_counter()
    if engine_name == "pandas":
        sys.path.insert(0, str(ROOT))
        import analytics_pandas

        place = decide(lake, list(analytics_pandas.DATASETS), COMPUTE, rules(), datetime.now(UTC))
        report["startup_s"] = 0.0
        for name in standard_jobs():
            request = service.check(name, {}, "duckdb", COMPUTE)
            # only the job's own datasets in memory, dropped after it: a year of every dataset
            # at once does not fit in 24 GB as dataframes
            t = time.perf_counter()
            frames = analytics_pandas.load(
                {d: place.files.get(d, ()) for d in request.job.datasets}
            )
            report["startup_s"] += time.perf_counter() - t
            t = time.perf_counter()
            table = analytics_pandas.run(name, frames, request.values, COMPUTE, 1)
            table, _ = service.suppress(request.job, service.normalize(table), 1)
            _record(report, out, name, table, time.perf_counter() - t)
            del frames
    else:
        engine: Any
        if engine_name == "postgresql":
            sys.path.insert(0, str(ROOT))
            from analytics_pg import PostgresEngine

            assert pg_url
            engine = PostgresEngine(pg_url, timeout_s=pg_timeout, nestloop=pg_nestloop)
            if pg_loaded_rows:  # a later round: the lake is in the database already
                engine.rows_loaded = pg_loaded_rows
            else:
                every = decide(lake, list(_datasets()), COMPUTE, rules(), datetime.now(UTC))
                engine.load(every.files)
            report["rows_loaded"] = engine.rows_loaded
        elif engine_name == "spark":
            from silkgate.analytics.jobs.engines import SparkEngine

            engine = SparkEngine(
                master="local[*]", shuffle_partitions=os.cpu_count() or 2, driver_memory="8g"
            )
        else:
            engine = DuckDBEngine()
        report["startup_s"] = time.perf_counter() - began
        for name in standard_jobs():
            request = service.check(name, {}, "duckdb", COMPUTE)
            t = time.perf_counter()
            if engine_name == "duckdb":  # a run closes its connection; a new one costs ~1 ms
                engine = DuckDBEngine()
            try:
                result = service.run_on_lake(
                    lake, request, rules(), COMPUTE, 1, datetime.now(UTC), None, engine
                )
            except Exception as exc:  # PostgreSQL's time limit: shown as such, not as a figure
                if type(exc).__name__ != "QueryCanceled":
                    raise
                report["jobs"][name] = {"seconds": time.perf_counter() - t, "timed_out": True}
                (out / f"{engine_name}.json").write_text(json.dumps(report))
                continue
            _record(report, out, name, result.table, time.perf_counter() - t)
    (out / f"{engine_name}.json").write_text(json.dumps(report))


def _datasets() -> list[str]:
    from silkgate.analytics.datasets import DATASETS

    return list(DATASETS)


def _record(report: dict[str, Any], out: Path, job: str, table: pa.Table, seconds: float) -> None:
    """Keep a job's result and time; the report is rewritten after each job, so an engine that
    dies (out of memory, say) still shows what it finished."""
    pq.write_table(table, out / f"{report['engine']}-{job}.parquet")
    report["jobs"][job] = {"seconds": seconds, "rows": table.num_rows}
    (out / f"{report['engine']}.json").write_text(json.dumps(report))


def _pg_database() -> str:
    import psycopg

    name = "silkgate_bench_analytics"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lake", type=Path, required=True)
    ap.add_argument("--generate", type=int, default=0, help="goods items to generate first")
    ap.add_argument("--engines", default="duckdb,postgresql,pandas,spark")
    ap.add_argument(
        "--pg-timeout", type=int, default=600, help="seconds PostgreSQL may take per job (0: none)"
    )
    ap.add_argument(
        "--pg-nestloop",
        action="store_true",
        help="leave PostgreSQL's nested-loop joins on (its default; see bench/analytics_pg.py)",
    )
    ap.add_argument(
        "--rounds", type=int, default=1, help="times the engines take turns (PostgreSQL loads once)"
    )
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--pg-url", help=argparse.SUPPRESS)
    ap.add_argument("--pg-loaded-rows", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds: at least 1")
    if args.one:
        one_engine(
            args.one,
            args.lake,
            args.out,
            args.pg_url,
            args.pg_timeout,
            args.pg_nestloop,
            args.pg_loaded_rows,
        )
        return
    if args.generate:
        cmd = [str(Path(sys.executable).parent / "silkgate"), "analytics", "generate", "--goods-items",
               str(args.generate), "--lake", str(args.lake), "--replace", "--quiet"]  # fmt: skip
        # the generator writes random pseudonyms; it needs no secret, but settings are loaded
        env = {
            "SILKGATE_DEMO_MODE": "true",
            **os.environ,
            "SILKGATE_ANALYTICS_LAKE_DIR": str(args.lake),
        }
        subprocess.run(cmd, check=True, env=env)
        # the generator writes a file per partition and simulated chunk (~5 a month); a lake
        # in service is compacted after its exports the same way
        compact = [cmd[0], "analytics", "compact", "--json"]
        subprocess.run(compact, check=True, env=env, stdout=subprocess.DEVNULL)
    engines = args.engines.split(",")
    print(f"lake {args.lake} · load average {os.getloadavg()[0]:.1f} at start", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        peaks: dict[str, int] = {}
        rounds: list[dict[str, Any]] = []
        pg_url = _pg_database() if "postgresql" in engines else None
        pg_rows = 0
        for k in range(1, args.rounds + 1):
            out = Path(tmp) / f"round{k}"
            out.mkdir()
            for name in engines:
                cmd = [sys.executable, __file__, "--lake", str(args.lake), "--one", name,
                       "--out", str(out), "--pg-timeout", str(args.pg_timeout)]  # fmt: skip
                if args.pg_nestloop:
                    cmd.append("--pg-nestloop")
                if name == "postgresql":
                    assert pg_url
                    cmd += ["--pg-url", pg_url, "--pg-loaded-rows", str(pg_rows)]
                began = time.perf_counter()
                code, peak = _measure(cmd)
                peaks[name] = max(peaks.get(name, 0), peak)
                took = time.perf_counter() - began
                if code < 0:
                    print(f"{name}: killed by signal {-code} after {took:.0f} s at "
                          f"{peak / 1024:.0f} MB (9: the kernel's out-of-memory killer)")  # fmt: skip
                elif code:
                    print(f"{name}: failed (exit {code}) after {took:.0f} s")
                if name == "postgresql" and not pg_rows and (out / "postgresql.json").exists():
                    pg_rows = json.loads((out / "postgresql.json").read_text())["rows_loaded"]
            reports = _reports(engines, out)
            if args.rounds > 1:
                _print_round(k, reports, os.getloadavg()[0])
            rounds.append(reports)
        _print(rounds, peaks)
    print(f"load average {os.getloadavg()[0]:.1f} at end")


def _reports(engines: list[str], out: Path) -> dict[str, Any]:
    """The engines' reports of one round (an engine that wrote none is left out), each with the
    cells where its results differ from DuckDB's (``differs``: job → first difference)."""
    reports = {
        e: json.loads((out / f"{e}.json").read_text())
        for e in engines
        if (out / f"{e}.json").exists()
    }
    for e, r in reports.items():
        r["differs"] = {}
        if e == "duckdb" or "duckdb" not in reports:
            continue
        for job, got in r["jobs"].items():
            if got.get("timed_out") or job not in reports["duckdb"]["jobs"]:
                continue
            diff = differences(
                pq.read_table(out / f"duckdb-{job}.parquet"),
                pq.read_table(out / f"{e}-{job}.parquet"),
                most=1,
                types=False,
            )
            if diff:
                r["differs"][job] = diff[0]
    return reports


def ratios(reports: dict[str, Any]) -> dict[str, tuple[float, bool, int]]:
    """Per engine but DuckDB: its query seconds over DuckDB's on the jobs both finished, whether
    a job stopped at the time limit (the ratio is then a lower bound), and how many jobs."""
    out: dict[str, tuple[float, bool, int]] = {}
    ours_all = reports.get("duckdb", {}).get("jobs", {})
    for e, r in reports.items():
        if e == "duckdb":
            continue
        done = [j for j in ours_all if j in r["jobs"]]
        ours = sum(ours_all[j]["seconds"] for j in done)
        theirs = sum(r["jobs"][j]["seconds"] for j in done)
        capped = any(r["jobs"][j].get("timed_out") for j in done)
        if ours:
            out[e] = (theirs / ours, capped, len(done))
    return out


def _print_round(k: int, reports: dict[str, Any], load: float) -> None:
    totals = {e: sum(j["seconds"] for j in r["jobs"].values()) for e, r in reports.items()}
    parts = [f"{e} {t:.2f} s" for e, t in totals.items()]
    for e, (ratio, capped, _) in ratios(reports).items():
        parts.append(f"{e} / DuckDB {'≥ ' if capped else ''}×{ratio:.2f}")
    print(f"round {k}: " + ", ".join(parts) + f" (load average {load:.1f})", flush=True)
    for e, r in reports.items():
        for job, diff in r["differs"].items():
            print(f"  {e} {job} differs from DuckDB: {diff}")


def _print(rounds: list[dict[str, Any]], peaks: dict[str, int]) -> None:
    """The per-job table (each engine's median seconds over the rounds; ≠ where any round's
    result differed from DuckDB's), totals, start-up, peak memory and the ratios."""
    if not all("duckdb" in r for r in rounds):
        print("DuckDB did not finish: nothing to compare")
        return
    engines = list(dict.fromkeys(e for r in rounds for e in r))
    jobs = list(rounds[0]["duckdb"]["jobs"])
    many = len(rounds) > 1
    print(("median of rounds\n" if many else "") + f"{'job':<20}"
          + "".join(f"{e:>14}" for e in engines))  # fmt: skip
    for job in jobs:
        cells = []
        for e in engines:
            got = [r[e]["jobs"][job] for r in rounds if e in r and job in r[e]["jobs"]]
            if not got:
                cells.append(f"{'—':>14}")
                continue
            if any(g.get("timed_out") for g in got):
                cells.append(f"{'>' + format(min(g['seconds'] for g in got), '.0f') + 's':>13} ")
                continue
            differs = [r[e]["differs"][job] for r in rounds if job in r[e].get("differs", {})]
            mark = " ≠" if differs else ""
            cells.append(f"{statistics.median(g['seconds'] for g in got):>12.2f}s{mark:1}")
            if differs and not many:
                print(f"  {e} {job} differs from DuckDB: {differs[0]}")
        print(f"{job:<20}" + "".join(cells))

    def med(e: str, field: str) -> float:
        values = [
            sum(j["seconds"] for j in r[e]["jobs"].values()) if field == "total" else r[e][field]
            for r in rounds
            if e in r
        ]
        return statistics.median(values) if values else 0.0

    print(f"{'total (queries)':<20}" + "".join(f"{med(e, 'total'):>13.2f}s" for e in engines))
    print(
        f"{'start-up / load':<20}"
        + "".join(f"{rounds[0].get(e, {}).get('startup_s', 0):>13.2f}s" for e in engines)
        + ("  (first round)" if many else "")
    )
    print(f"{'peak memory':<20}" + "".join(f"{peaks.get(e, 0) / 1024:>11.0f} MB" for e in engines))
    for e in engines:
        if e == "duckdb":
            continue
        each = [ratios(r)[e] for r in rounds if e in ratios(r)]
        if not each:
            continue
        capped = any(c for _, c, _ in each)
        done = min(n for _, _, n in each)
        missing = f" ({done} of {len(jobs)} jobs)" if done < len(jobs) else ""
        values = [x for x, _, _ in each]
        ratio = f"{'≥ ' if capped else ''}×{statistics.median(values):.1f}"
        spread = (
            f" — median of {len(values)} rounds' ratios, range ×{min(values):.2f}–×{max(values):.2f}"
            if many
            else ""
        )
        print(f"{e} / DuckDB (queries): {ratio}{missing}{spread}"
              + (" — stopped at the time limit" if capped else ""))  # fmt: skip


if __name__ == "__main__":
    main()
