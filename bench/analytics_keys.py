"""What string keys cost clearance_times on DuckDB: its visit window and its events-to-lanes join
with the lake's string keys against integer ones, side by side on the same rows.

Run: .venv/bin/python bench/analytics_keys.py --lake /tmp/lake10m [--rounds 2]

The lake carries a truck as a 20-character pseudonym and a gate event as a 64-character id;
DuckDB's ``hash()`` of each stands in here for an integer key the lake does not have. The gate
events (neutral-zone reads left out, as the job does) and their declaration references are
copied into memory first, so only the window and the join are timed, not reading Parquet.
Each case prints its sums, which must agree between the two kinds of key.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from analytics import COMPUTE, rules

from silkgate.analytics.jobs.residency import decide
from silkgate.analytics.lake import split_moves


def _read(files: list[Path]) -> str:
    listed = ", ".join(f"'{f}'" for f in files)
    return f"read_parquet([{listed}], union_by_name = true)"


def _window(truck: str, tiebreak: str) -> str:
    """The job's visit and trip numbering (``clearance._PASSAGE``), summed."""
    over = (
        f"(PARTITION BY crossing, {truck} "
        f"ORDER BY event_time, record_time, {tiebreak} ROWS UNBOUNDED PRECEDING)"
    )
    return (
        "SELECT sum(visit), sum(trip), count(*) FROM (SELECT "
        f"CASE WHEN at_first_side = 1 THEN sum(departs * at_first_side) OVER {over} "
        f"ELSE sum(departs * (1 - at_first_side)) OVER {over} END - departs AS visit, "
        f"sum(ends_trip) OVER {over} - ends_trip AS trip FROM events)"
    )


def _join(key: str) -> str:
    return f"SELECT count(r.ref), count(*) FROM events e LEFT JOIN refs r ON r.{key} = e.{key}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    place = decide(
        args.lake, ["gate_events", "gate_event_refs"], COMPUTE, rules(), datetime.now(UTC)
    )
    events, _ = split_moves(place.files.get("gate_events", ()))
    refs, _ = split_moves(place.files.get("gate_event_refs", ()))
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE events AS SELECT event_id, crossing_code AS crossing, truck_ref, "
        "event_time, record_time, "
        "CASE WHEN read_point IN ('exit_gate', 'release', 'refusal') THEN 1 ELSE 0 END AS departs, "
        "CASE WHEN read_point IN ('release', 'refusal') THEN 1 ELSE 0 END AS ends_trip, "
        "CASE WHEN side = 'CN' THEN 1 ELSE 0 END AS at_first_side, "
        "hash(truck_ref) AS truck_key, hash(event_id) AS event_key "
        f"FROM {_read(list(events))} WHERE read_point <> 'neutral_zone'"
    )
    con.execute(
        "CREATE TABLE refs AS SELECT event_id, hash(event_id) AS event_key, ref "
        f"FROM {_read(list(refs))} WHERE ref_type = 'declaration'"
    )
    counted = [con.sql(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in ("events", "refs")]
    print(f"{counted[0]:,} gate events, {counted[1]:,} declaration references in memory")
    cases = {
        "window, string keys": _window("truck_ref", "event_id"),
        "window, integer keys": _window("truck_key", "event_key"),
        "join, string key": _join("event_id"),
        "join, integer key": _join("event_key"),
    }
    for r in range(1, args.rounds + 1):
        for name, sql in cases.items():
            began = time.perf_counter()
            sums = con.sql(sql).fetchall()[0]
            print(f"round {r}  {name:22s} {time.perf_counter() - began:6.2f} s  {sums}", flush=True)


if __name__ == "__main__":
    main()
