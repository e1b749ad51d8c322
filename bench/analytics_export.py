"""Analytics lake export rate: operational tables → Parquet lake, per dataset, per backend.

Run: .venv/bin/python bench/analytics_export.py [--backend sqlite|postgresql|both]
                                                [--items 1000000] [--baseline SRC_DIR]
                                                [--readers 1,2] [--delta 4000]
Per backend: a database is filled with bulk inserts (core.bulk: COPY on PostgreSQL), not
through the API — ``--items`` goods items on declarations of 4 items each, spread over a year
and both directions at Khorgos; per declaration one version (a real 2 KB payload with its own
exporter and importer out of 2,000 per country), one risk assessment, one booking, 4 gate
events (2 per side) naming the declaration and the booking, and one inspection per 20
declarations. Then ``silkgate analytics export --json`` runs in a child process (settle 0) and
its report gives rows/s per dataset; peak memory is the child's ru_maxrss and, apart, that of
its largest child (a SQLite reader process: with two readers there are two). A second export
(nothing changed) shows the cost of a no-op rerun, and a third after ``--delta`` more goods
items; both again after the change-marker indexes are dropped, for the side-by-side. After the
first export, ``silkgate analytics verify --json`` reconciles the lake with the database (its
time and peak memory are printed; every row should be in the lake).
``--baseline`` runs the same export first with another source tree (e.g. an older checkout's
``src``) into a lake of its own, for a side-by-side figure on the same data and load. Target:
≥ 200,000 rows/s. Load average printed at start/end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchdb import backend_url
from sqlalchemy import select, text

from silkgate.bootstrap import prepare_database
from silkgate.core.bulk import insert_rows
from silkgate.core.db import table_of
from silkgate.core.platform import Platform
from silkgate.core.settings import Settings
from silkgate.declarations.lodging import lodging_trader
from silkgate.declarations.models import (
    VERSION_ROUTING,
    Declaration,
    DeclarationVersion,
    GoodsItem,
)
from silkgate.demo.service import seed_registry
from silkgate.demo.traffic import TrafficGenerator
from silkgate.gates.models import GateEvent, GateEventRef
from silkgate.queue.models import Booking, Slot
from silkgate.registry.models import Organization
from silkgate.registry.schemas import DECLARANT_ROLES
from silkgate.risk.platform.models import InspectionResult, RiskAssessment

T0 = datetime(2025, 1, 1, tzinfo=UTC)
HS = ["721049", "851762", "392321", "640411", "870323", "080810", "271019", "940360"]
CHUNK = 20_000
TRADERS = 2_000  # distinct exporters and importers per country


def template() -> dict[str, Any]:
    """A real declaration body (2 KB with 4 items), so reading the trader costs what it would."""
    gen = TrafficGenerator(seed=7)
    while True:
        body = gen.declaration()
        if len(body["goods_items"]) == 4:
            return body


def party(body: dict[str, Any], country: str, n: int) -> dict[str, Any]:
    p = dict(body["exporter"])
    return p | {"country": country, "identifier": f"{country}{n:010d}", "name": f"Trader {n}"}


def fill(platform: Platform, items: int, after: int = 0, year: int = 0) -> dict[str, int]:
    """Bulk-write the operational rows; returns rows per table. ``after``: declarations
    already written, ``year``: how many make a year (a later delta: spaced as a year's were,
    continuing where they ended)."""
    if not after:
        seed_registry(platform)
    with platform.db.session() as s:
        orgs = list(s.scalars(select(Organization).order_by(Organization.id)))
        by_country = {c: next(o for o in orgs if o.country == c) for c in ("CN", "KZ")}
        declarants = {
            c: [o for o in orgs if o.country == c and set(o.roles) & DECLARANT_ROLES]
            for c in ("CN", "KZ")
        }
    body = template()
    n_decl = items // 4
    step = timedelta(days=365) / max(year or n_decl, 1)
    tables = {m: table_of(m) for m in (Declaration, DeclarationVersion, GoodsItem,
              RiskAssessment, InspectionResult, Booking, Slot, GateEvent, GateEventRef)}  # fmt: skip
    counts = dict.fromkeys(tables, 0)
    with platform.db.session() as s:
        slots = []
        have = set(s.scalars(select(Slot.day).distinct()))
        first, last = ((T0 + step * i + timedelta(hours=8)).date() for i in (after, after + n_decl))
        for day in range((last - first).days + 1):  # the slot days this fill books on
            d = first + timedelta(days=day)
            if d in have:
                continue
            for exit_c, entry_c in (("CN", "KZ"), ("KZ", "CN")):
                slots.append(
                    {"crossing_code": "KHG-NZH", "exit_country": exit_c, "entry_country": entry_c,
                     "day": d, "hour": 10, "starts_at": datetime.combine(d, datetime.min.time(),
                     tzinfo=UTC) + timedelta(hours=2), "quota_class": "regular",
                     "capacity": 100_000, "booked": 0}
                )  # fmt: skip
        insert_rows(s, tables[Slot], slots)
        slot_ids = {(r.day, r.exit_country): r.id for r in s.scalars(select(Slot))}
    buf: dict[Any, list[dict[str, Any]]] = {m: [] for m in tables}

    def flush(force: bool = False) -> None:
        if not force and len(buf[GoodsItem]) < CHUNK:
            return
        with platform.db.session() as s:
            for m in (Declaration, DeclarationVersion, GoodsItem, RiskAssessment,
                      InspectionResult, Booking, GateEvent, GateEventRef):  # fmt: skip
                insert_rows(s, tables[m], buf[m])
                counts[m] += len(buf[m])
                buf[m] = []

    for i in range(after, after + n_decl):
        export = i % 2 == 0
        exit_c, entry_c = ("CN", "KZ") if export else ("KZ", "CN")
        lodged = exit_c if export else entry_c
        org = declarants[lodged][i % len(declarants[lodged])]
        at = T0 + step * i
        did = f"B{i:023d}"
        values = [round(100 + (i * 37 + k * 11) % 9000 + 0.5, 2) for k in range(4)]
        payload = body | {
            "lrn": f"L{i}", "type": "export" if export else "import",
            "exporter": party(body, exit_c, (i * 7) % TRADERS),
            "importer": party(body, entry_c, (i * 13) % TRADERS),
            "crossing": {"code": "KHG-NZH", "exit_country": exit_c, "entry_country": entry_c},
        }  # fmt: skip
        buf[Declaration].append(
            {"id": did, "declarant_org_id": org.id, "declarant": org.member_id, "lrn": f"L{i}",
             "type": "export" if export else "import", "status": "released", "version": 1,
             "crossing_code": "KHG-NZH", "exit_country": exit_c, "entry_country": entry_c,
             "item_count": 4, "total_gross_kg": 4000.0, "total_invoice_value": sum(values),
             "currency": "USD", "lane": "green", "submitted_at": at, "updated_at": at,
             "payload": payload}
        )  # fmt: skip
        buf[DeclarationVersion].append(
            {"declaration_id": did, "version": 1, "payload": payload, "payload_digest": "0" * 64,
             "trader": lodging_trader(payload["type"], payload), "created_at": at,
             "created_by": org.member_id,
             **{c: buf[Declaration][-1][c] for c in VERSION_ROUTING}}
        )  # fmt: skip
        for k in range(4):
            hs = HS[(i + k) % len(HS)]
            buf[GoodsItem].append(
                {"declaration_id": did, "version": 1, "item_no": k + 1, "hs_code": hs + "00",
                 "hs6": hs, "description": "goods of heading " + hs[:4], "origin_country": exit_c,
                 "packages": 10 + k, "gross_mass_kg": 1000.0 + k, "net_mass_kg": 900.0 + k,
                 "invoice_value": values[k], "customs_value": values[k] * 1.01}
            )  # fmt: skip
        office = "CN-KHORGOS" if lodged == "CN" else "KZ-NURZHOLY"
        buf[RiskAssessment].append(
            {"declaration_id": did, "version": 1, "office": office,
             "direction": "export" if export else "import", "lane": "green", "source": "model",
             "score": (i % 100) / 100, "model_id": None, "profile_version": 1, "fired": [],
             "explanation": [], "reasons": [], "assessed_at": at + timedelta(minutes=1),
             "override_lane": None, "override_reason": None, "overridden_by": None,
             "overridden_at": None}
        )  # fmt: skip
        if i % 20 == 0:
            buf[InspectionResult].append(
                {"declaration_id": did, "version": 1, "office": office, "outcome": "no_discrepancy",
                 "findings": [], "duties_amount": None, "duties_currency": None, "note": None,
                 "recorded_at": at + timedelta(hours=5), "recorded_by": org.member_id}
            )  # fmt: skip
        slot_day = (at + timedelta(hours=8)).date()
        plate = f"{exit_c}:P{i:08d}"
        buf[Booking].append(
            {"id": f"K{i:023d}", "organization_id": org.id, "organization": org.member_id,
             "crossing_code": "KHG-NZH", "exit_country": exit_c, "entry_country": entry_c,
             "slot_id": slot_ids[(slot_day, exit_c)], "day": slot_day, "hour": 10,
             "starts_at": at + timedelta(hours=2), "quota_class": "regular", "evidence": {},
             "tractor_plate": plate[3:], "tractor_nationality": exit_c, "trailer_plate": None,
             "trailer_nationality": None, "vin": None, "driver": {}, "declaration_ids": [did],
             "status": "exited", "reschedules": 0, "displaced": False, "no_show_at": None,
             "created_at": at, "updated_at": at + timedelta(hours=6)}
        )  # fmt: skip
        for e, (point, side) in enumerate(
            (("gate_in", exit_c), ("exit_gate", exit_c), ("entry_gate_in", entry_c),
             ("release", entry_c))
        ):  # fmt: skip
            t = at + timedelta(hours=3, minutes=30 * e)
            buf[GateEvent].append(
                {"event_id": f"{i:060d}{e:04d}", "crossing_code": "KHG-NZH", "side": side,
                 "read_point": point, "biz_step": "inspecting", "disposition": None,
                 "truck": plate, "event_time": t, "event_offset": "+08:00", "record_time": t,
                 "corrects": None, "reporter_org_id": by_country[side].id,
                 "reporter": by_country[side].member_id, "content": {}, "signature": "-",
                 "key_id": "-", "audit_batch": None}
            )  # fmt: skip
            for kind, ref in (("declaration", did), ("booking", f"K{i:023d}")):
                buf[GateEventRef].append(
                    {"event_id": f"{i:060d}{e:04d}", "ref_type": kind, "ref": ref}
                )
        flush()
    flush(force=True)
    return {t.__tablename__: n for t, n in counts.items() if n}


# the CLI in a fresh process that prints its own and its children's peak RSS (KiB) last
CHILD = """
import resource, sys
from silkgate.cli import app
sys.argv = ["silkgate", "analytics", sys.argv[1], "--json"]
try:
    app()
finally:
    print("maxrss_kib", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
          resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)
"""


def export_child(env: dict[str, str], command: str = "export") -> tuple[dict[str, Any], float]:
    """Run the CLI export (or ``verify``) in a child process: its report (with ``peak_mb`` and
    ``reader_peak_mb``) and wall seconds."""
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", CHILD, command],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t
    if out.returncode != 0:
        raise SystemExit(f"{command} failed ({out.returncode}): {out.stderr[-2000:]}")
    report = json.loads(out.stdout)
    own, children = out.stderr.rsplit("maxrss_kib", 1)[1].split()[:2]
    report["peak_mb"], report["reader_peak_mb"] = int(own) / 1024, int(children) / 1024
    return report, wall


def show(kind: str, label: str, report: dict[str, Any], wall: float) -> None:
    print(f"[{kind}] {label}: {report['rows']:,} rows in {report['seconds']:.1f} s "
          f"(process {wall:.1f} s) = {report['rows_per_second']:,.0f} rows/s; peak RSS "
          f"{report['peak_mb']:,.0f} MB (its largest reader process {report['reader_peak_mb']:,.0f} MB)")  # fmt: skip
    for d in report["datasets"]:
        print(f"  {d['dataset']:<16} {d['rows']:>10,} rows {d['seconds']:>7.2f} s "
              f"{d['rows_per_second']:>12,.0f} rows/s  {d['files_written']:>5} files")  # fmt: skip
    verdict = "meets" if report["rows_per_second"] >= 200_000 else "MISSES"
    print(f"  target 200,000 rows/s: {verdict} ({report['rows_per_second'] / 2000:.0f}%)")


#: The change-marker indexes (revision 0140) a rerun reads its changes through.
MARKER_INDEXES = (
    "ix_declarations_changed", "ix_declaration_versions_created", "ix_risk_assessments_changed",
    "ix_risk_inspections_recorded", "ix_queue_bookings_changed", "ix_gate_events_recorded",
)  # fmt: skip


def reruns(kind: str, url: str, tmp: Path, env: dict[str, str], items: int, delta: int) -> None:
    """A rerun with nothing changed, then one after ``delta`` more goods items (and their
    declarations, lanes, bookings and events), with the change-marker indexes and then, on
    the same database, without them."""
    year = written = items // 4
    for label in ("with the marker indexes", "without them"):
        platform = Platform(Settings(database_url=url, demo_mode=True, data_dir=tmp))
        with platform.db.engine.begin() as conn:  # planner statistics on both sides alike
            if label == "without them":
                for name in MARKER_INDEXES:
                    conn.execute(text(f"DROP INDEX {name}"))
            conn.execute(text("ANALYZE"))
        again, _ = export_child(env)
        print(f"[{kind}] rerun, nothing changed, {label}: {again['rows']} rows, "
              f"{again['seconds']:.2f} s")  # fmt: skip
        fill(platform, delta, after=written, year=year)
        platform.close()
        written += delta // 4
        rep, _ = export_child(env)
        print(f"[{kind}] rerun after {delta:,} more goods items, {label}: {rep['rows']:,} rows, "
              f"{rep['seconds']:.2f} s")  # fmt: skip


def run(kind: str, items: int, baseline: str | None, readers: list[int], delta: int) -> None:
    with tempfile.TemporaryDirectory(prefix="lake-bench-") as tmp_s:
        tmp = Path(tmp_s)
        url = backend_url(kind, tmp, "lake")
        settings = Settings(database_url=url, demo_mode=True, data_dir=tmp)
        platform = Platform(settings)
        prepare_database(platform)
        t = time.perf_counter()
        counts = fill(platform, items)
        fill_s = time.perf_counter() - t
        if kind == "postgresql":
            with platform.db.engine.begin() as conn:
                conn.execute(text("ANALYZE"))
        platform.close()
        print(f"\n[{kind}] filled {sum(counts.values()):,} rows in {fill_s:.1f} s: {counts}")
        env = os.environ | {
            "SILKGATE_DATABASE_URL": url,
            "SILKGATE_DEMO_MODE": "true",
            "SILKGATE_DATA_DIR": str(tmp),
            "SILKGATE_ANALYTICS_SETTLE_SECONDS": "0",
        }
        if baseline:
            old = env | {"PYTHONPATH": baseline, "SILKGATE_ANALYTICS_LAKE_DIR": str(tmp / "old")}
            print(f"[{kind}] load average {os.getloadavg()[0]:.1f}")
            show(kind, f"baseline ({baseline})", *export_child(old))
        for n in readers[:-1]:  # fewer readers first, each into a lake of its own
            fewer = env | {
                "SILKGATE_ANALYTICS_EXPORT_READERS": str(n),
                "SILKGATE_ANALYTICS_LAKE_DIR": str(tmp / f"lake-{n}"),
            }
            print(f"[{kind}] load average {os.getloadavg()[0]:.1f}")
            show(kind, f"export, {n} reader(s)", *export_child(fewer))
        env["SILKGATE_ANALYTICS_EXPORT_READERS"] = str(readers[-1])
        print(f"[{kind}] load average {os.getloadavg()[0]:.1f}")
        show(kind, f"export, {readers[-1]} reader(s)", *export_child(env))
        checked, wall = export_child(env, "verify")
        print(f"[{kind}] verify: {checked['rows']:,} rows in {checked['seconds']:.1f} s (process "
              f"{wall:.1f} s), {checked['missing']} missing; peak RSS {checked['peak_mb']:,.0f} MB")  # fmt: skip
        reruns(kind, url, tmp, env, items, delta)
        lake_mb = sum(p.stat().st_size for p in (tmp / "lake").rglob("*.parquet")) / 1e6
        print(f"[{kind}] lake size {lake_mb:,.1f} MB")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="both", choices=["sqlite", "postgresql", "both"])
    ap.add_argument("--items", type=int, default=1_000_000)
    ap.add_argument(
        "--baseline", help="source tree (its src/) to export with first, for comparison"
    )
    ap.add_argument(
        "--readers",
        default="2",
        help="comma-separated SILKGATE_ANALYTICS_EXPORT_READERS to compare, in one run (e.g. 1,2)",
    )
    ap.add_argument(
        "--delta", type=int, default=4_000, help="goods items added before the timed reruns"
    )
    args = ap.parse_args()
    readers = sorted(int(n) for n in args.readers.split(","))
    print(f"load average at start: {os.getloadavg()}")
    for kind in ("sqlite", "postgresql") if args.backend == "both" else (args.backend,):
        run(kind, args.items, args.baseline, readers, args.delta)
    print(f"\nload average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
