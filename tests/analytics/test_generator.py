"""The demo-scale generator writes the lake the export writes, with consistent references,
mirror declarations whose undervalued chapters show the gap, and the same bytes per seed."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from silkgate.analytics import generator_lake, lake, moves
from silkgate.analytics.datasets import DATASETS, STR, TS, Dataset
from silkgate.analytics.generator import GenerateReport, generate
from silkgate.analytics.generator_border import READ_POINTS
from silkgate.analytics.generator_lake import REFS, SchemaMismatch, targets

# the module's year is generated once, on one worker
pytestmark = pytest.mark.xdist_group("generator")
ITEMS = 20_000
#: What the generator assumes until the lake's schema owner adds them (issue 10's contract).
CONTRACT = {
    "declarations": [("trader_ref", STR), ("declarant_role", STR)],
    "goods_items": [("trader_ref", STR)],
}
REFS_FIELDS = [("record_time", TS), ("event_id", STR), ("ref_type", STR), ("ref", STR),
               ("event_time", TS), ("crossing_code", STR), ("side", STR),
               ("owner_country", STR), ("crossing", STR), ("date", pa.date32()),
               ("export_run", STR)]  # fmt: skip


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerateReport]:
    folder = tmp_path_factory.mktemp("lake")
    return folder, generate(folder, ITEMS, 2025, seed=7)


@pytest.fixture(scope="module")
def duck(year: tuple[Path, GenerateReport]) -> Any:
    """``lake.connect``'s views, each ``<dataset>_all`` then copied into memory (thousands of
    small files are slow to scan once per query)."""
    folder, _ = year
    con = lake.connect(folder)
    for name in DATASETS:
        con.execute(f"CREATE TABLE mem_{name} AS SELECT * FROM {name}_all")
        con.execute(f"CREATE OR REPLACE VIEW {name}_all AS SELECT * FROM mem_{name}")
    if REFS not in DATASETS:  # until the lake defines it, read it from its manifest here
        files = sorted(str(folder / REFS / f) for f in lake.load_manifest(folder, REFS).files())
        con.execute(f"CREATE TABLE {REFS} AS SELECT * FROM read_parquet({files!r})")
    return con


def rows(con: Any, sql: str) -> list[tuple[Any, ...]]:
    return con.execute(sql).fetchall()


def one(con: Any, sql: str) -> Any:
    return con.execute(sql).fetchone()[0]


def test_expected_schemas_are_the_lakes_plus_the_agreed_columns() -> None:
    got = targets()
    assert set(got) == {*DATASETS, REFS}
    for name, ds in DATASETS.items():
        lake_fields = [(f.name, f.type) for f in lake.file_schema(ds)]
        mine = [(f.name, f.type) for f in got[name].schema]
        added = [c for c in CONTRACT.get(name, []) if c not in lake_fields]
        assert [f for f in mine if f not in added] == lake_fields
        assert [f for f in mine if f in added] == added
        assert mine.index(("owner_country", STR)) == len(ds.columns) + len(added)
    if REFS in DATASETS:
        assert [(f.name, f.type) for f in got[REFS].schema] == [
            (f.name, f.type) for f in lake.file_schema(DATASETS[REFS])
        ]
    else:
        assert [(f.name, f.type) for f in got[REFS].schema] == REFS_FIELDS


def test_every_file_has_its_dataset_schema_and_is_listed_with_its_hash(
    year: tuple[Path, GenerateReport],
) -> None:
    folder, report = year
    expected = targets()
    reported = {d.dataset: d for d in report.datasets}
    assert set(reported) == set(expected)
    for name, target in expected.items():
        manifest = lake.load_manifest(folder, name)
        listed = manifest.files()
        on_disk = {p.relative_to(folder / name).as_posix()
                   for p in (folder / name).rglob("*.parquet")}  # fmt: skip
        assert listed == on_disk, name
        total = 0
        for part, entry in manifest.partitions.items():
            assert entry["rows"] == sum(f["rows"] for f in entry["files"])
            for f in entry["files"]:
                path = folder / name / part / f["name"]
                assert hashlib.sha256(path.read_bytes()).hexdigest() == f["sha256"]
                meta = pq.read_metadata(path)
                assert meta.schema.to_arrow_schema().remove_metadata() == target.schema, path
                assert meta.num_rows == f["rows"] and f["run"] == report.run
            total += entry["rows"]
        files = sorted(str(folder / name / f) for f in listed)
        wrong = (
            duckdb.connect()
            .execute(f"""SELECT count(*) FROM read_parquet({files!r}, filename = true,
            hive_partitioning = false) WHERE filename NOT LIKE '%/' || concat_ws('/',
            'owner_country=' || owner_country, 'crossing=' || crossing,
            'month=' || strftime(date, '%Y-%m'))
            || '/part-%'""")
            .fetchone()
        )
        assert wrong == (0,), name  # the values inside each file are its directory's
        assert total == reported[name].rows
        assert len(manifest.partitions) == reported[name].partitions
        assert manifest.runs[-1]["rows"] == total and manifest.rejected_total == 0


def test_connect_reads_the_rows_the_report_states(year: tuple[Path, GenerateReport]) -> None:
    folder, report = year
    con = lake.connect(folder)
    for d in report.datasets:
        if d.dataset in DATASETS:
            assert one(con, f"SELECT count(*) FROM {d.dataset}_all") == d.rows, d.dataset
    assert report.goods_items == ITEMS
    assert one(con, "SELECT count(*) FROM goods_items_all") == ITEMS  # exactly as asked
    assert one(con, "SELECT count(*) FROM goods_items") < ITEMS  # amended: v1 items superseded
    assert report.rows == sum(d.rows for d in report.datasets) and report.peak_rss_mb > 0


def test_every_version_of_a_record_stays_in_its_partition(
    year: tuple[Path, GenerateReport], duck: Any
) -> None:
    """An amendment keeps its crossing, owner and day, so in a lake this small no record has
    versions in two partitions. A year of millions of items has some (a later version's lane
    assessed in the next month): the generator marks them as an export would (``moves.py``),
    and records that it did."""
    folder, _ = year
    for name, ds in DATASETS.items():
        assert not moves.unmarked(lake.load_manifest(folder, name)), name
        if ds.latest == "once":
            continue
        key = ", ".join(lake.record_key(ds))
        place = "owner_country || '/' || crossing || '/' || strftime(date, '%Y-%m')"
        spread = one(duck, f"SELECT count(*) FROM (SELECT {key} FROM {name}_all GROUP BY {key} "
                           f"HAVING count(DISTINCT {place}) > 1) t")  # fmt: skip
        assert spread == 0, name


def test_watermark_is_the_highest_cursor(year: tuple[Path, GenerateReport], duck: Any) -> None:
    folder, _ = year
    wm = lake.load_manifest(folder, "declarations").watermark
    assert wm is not None
    top = rows(duck, "SELECT updated_at, declaration_id FROM declarations_all "
                     "ORDER BY updated_at DESC, declaration_id DESC LIMIT 1")[0]  # fmt: skip
    assert (wm.marker, wm.key) == (top[0].isoformat(), [top[1]])


def test_ids_are_unique(duck: Any) -> None:
    for view, key in (("declarations_all", "declaration_id"),
                      ("goods_items_all", "declaration_id, version, item_no"),
                      ("lanes_all", "assessment_id"), ("lanes_all", "declaration_id, version"),
                      ("inspections_all", "inspection_id"), ("bookings_all", "booking_id"),
                      ("gate_events_all", "event_id"), (REFS, "event_id, ref_type, ref"),
                      ("declarations_all", "declarant, lrn")):  # fmt: skip
        dup = one(duck, f"SELECT count(*) FROM (SELECT {key} FROM {view} GROUP BY ALL "
                        "HAVING count(*) > 1)")  # fmt: skip
        assert dup == 0, (view, key)


def test_references_are_consistent(duck: Any) -> None:
    orphans = {
        "items without declaration": "SELECT count(*) FROM goods_items_all g ANTI JOIN "
        "declarations d USING (declaration_id)",
        "items of a version the declaration does not have": "SELECT count(*) FROM "
        "goods_items_all g JOIN declarations d USING (declaration_id) WHERE g.version > d.version",
        "declarations whose item count is not their latest items": "SELECT count(*) FROM "
        "declarations d JOIN (SELECT declaration_id, count(*) n, sum(invoice_value) v FROM "
        "goods_items GROUP BY 1) g USING (declaration_id) WHERE g.n <> d.item_count "
        "OR abs(g.v - d.total_invoice_value) > 0.01 * g.n",
        "items that disagree with their declaration": "SELECT count(*) FROM goods_items g "
        "JOIN declarations d USING (declaration_id) WHERE g.trader_ref <> d.trader_ref "
        "OR g.type <> d.type OR g.submitted_at <> d.submitted_at OR g.currency <> d.currency",
        "lanes without declaration": "SELECT count(*) FROM lanes_all ANTI JOIN declarations "
        "USING (declaration_id)",
        "declaration versions without a lane": "SELECT count(*) FROM (SELECT DISTINCT "
        "declaration_id, version FROM goods_items_all) v ANTI JOIN lanes_all "
        "USING (declaration_id, version)",
        "declaration lane other than its latest version's": "SELECT count(*) FROM declarations "
        "d JOIN lanes l ON l.declaration_id = d.declaration_id AND l.version = d.version "
        "WHERE l.final_lane <> d.lane",
        "inspections of another version or office": "SELECT count(*) FROM inspections i "
        "JOIN declarations d USING (declaration_id) JOIN lanes l ON l.declaration_id = "
        "i.declaration_id AND l.version = i.version WHERE i.version <> d.version "
        "OR i.office <> l.office",
        "overrides before the assessment": "SELECT count(*) FROM lanes_all "
        "WHERE overridden_at <= assessed_at",
        "booking refs to no booking of that truck and crossing": f"SELECT count(*) FROM {REFS} r "
        "JOIN gate_events e USING (event_id) LEFT JOIN bookings b ON b.booking_id = r.ref "
        "WHERE r.ref_type = 'booking' AND (b.booking_id IS NULL OR b.truck_ref <> e.truck_ref "
        "OR b.crossing_code <> e.crossing_code OR b.status <> 'exited')",
        "declaration refs to no declaration of that crossing": f"SELECT count(*) FROM {REFS} r "
        "JOIN gate_events e USING (event_id) LEFT JOIN declarations d ON d.declaration_id = "
        "r.ref WHERE r.ref_type = 'declaration' AND (d.declaration_id IS NULL OR "
        "d.crossing_code <> e.crossing_code OR d.status = 'cancelled')",
        "refs that disagree with their event": f"SELECT count(*) FROM {REFS} r LEFT JOIN "
        "gate_events e USING (event_id) WHERE e.event_id IS NULL OR r.record_time <> "
        "e.record_time OR r.event_time <> e.event_time OR r.owner_country <> e.owner_country "
        "OR r.date <> e.date OR r.side <> e.side OR r.crossing_code <> e.crossing_code",
        "events naming no declaration": "SELECT count(*) FROM gate_events e ANTI JOIN (SELECT "
        f"event_id FROM {REFS} WHERE ref_type = 'declaration') USING (event_id)",
        "corrections of another truck or reporter": "SELECT count(*) FROM gate_events c "
        "LEFT JOIN gate_events o ON o.event_id = c.corrects WHERE c.corrects IS NOT NULL AND "
        "(o.event_id IS NULL OR o.truck_ref <> c.truck_ref OR o.reporter <> c.reporter "
        "OR c.record_time <= o.record_time)",
        "recorded before they happened": "SELECT count(*) FROM gate_events "
        "WHERE record_time <= event_time",
        "no-shows without their mark": "SELECT count(*) FROM bookings WHERE "
        "(status = 'no_show') <> (no_show_at IS NOT NULL)",
    }
    found = {name: one(duck, sql) for name, sql in orphans.items()}
    assert found == dict.fromkeys(orphans, 0)
    assert one(duck, "SELECT count(*) FROM gate_events WHERE corrects IS NOT NULL") > 0
    assert one(duck, "SELECT count(*) FROM lanes_all WHERE version = 2") > 0


EXIT_SIDE = ("waiting_area", "called_forward", "gate_in", "document_control_start",
             "document_control_end", "weighing", "scanning", "physical_inspection_start",
             "physical_inspection_end", "exit_gate", "neutral_zone")  # fmt: skip
ENTRY_SIDE = ("entry_gate_in", "document_control_start", "document_control_end", "scanning",
              "physical_inspection_start", "physical_inspection_end", "entry_controls",
              "release", "refusal")  # fmt: skip


def test_each_passage_runs_in_order_on_both_sides(duck: Any) -> None:
    """Per booked truck: the exit side's stages in order, then the entry side's, release or
    refusal last (events later corrected left out); a stage on the wrong side has no rank."""
    assert set(EXIT_SIDE) | set(ENTRY_SIDE) == set(READ_POINTS)

    def rank(points: tuple[str, ...], base: int) -> str:
        return " ".join(f"WHEN '{p}' THEN {base + i}" for i, p in enumerate(points))

    duck.execute(f"""CREATE TEMP TABLE passage AS
        SELECT r.ref AS booking, e.read_point, e.event_time, CASE WHEN e.side = b.exit_country
               THEN CASE e.read_point {rank(EXIT_SIDE, 0)} END
               ELSE CASE e.read_point {rank(ENTRY_SIDE, 100)} END END AS stage
        FROM {REFS} r JOIN gate_events e USING (event_id) JOIN bookings b ON b.booking_id = r.ref
        WHERE r.ref_type = 'booking' AND e.event_id NOT IN
              (SELECT corrects FROM gate_events WHERE corrects IS NOT NULL)""")
    assert one(duck, "SELECT count(*) FROM passage WHERE stage IS NULL") == 0
    backwards = one(
        duck,
        """SELECT count(*) FROM (SELECT stage, lag(stage) OVER
        (PARTITION BY booking ORDER BY event_time) AS before FROM passage)
        WHERE stage <= before""",
    )
    assert backwards == 0
    trucks = one(duck, "SELECT count(DISTINCT booking) FROM passage")
    counts = dict(
        rows(
            duck,
            """SELECT read_point, count(*) FROM passage WHERE read_point IN
        ('gate_in', 'exit_gate', 'entry_gate_in', 'release', 'refusal') GROUP BY 1""",
        )
    )
    assert counts["gate_in"] == counts["exit_gate"] == counts["entry_gate_in"] == trucks
    assert counts["release"] + counts["refusal"] == trucks > 1000
    overlapping = one(
        duck,
        """SELECT count(*) FROM (SELECT start, lag(finish) OVER
            (PARTITION BY truck_ref ORDER BY start) AS before
        FROM (SELECT b.truck_ref, min(p.event_time) AS start, max(p.event_time) AS finish
              FROM passage p JOIN bookings b ON b.booking_id = p.booking GROUP BY ALL))
        WHERE start <= before""",
    )
    assert overlapping == 0  # a tractor is in one passage at a time


def _pairs(duck: Any) -> None:
    """``pairs``: each export and the import of the same truck's load (through its booking);
    made once per connection, by whichever test needs it first."""
    duck.execute(f"""CREATE TEMP TABLE IF NOT EXISTS pairs AS
        WITH named AS (SELECT DISTINCT r.ref AS decl, b.ref AS booking FROM {REFS} r
                       JOIN {REFS} b ON b.event_id = r.event_id AND b.ref_type = 'booking'
                       WHERE r.ref_type = 'declaration')
        SELECT x.declaration_id AS export_id, m.declaration_id AS import_id
        FROM named nx JOIN declarations x ON x.declaration_id = nx.decl AND x.type = 'export'
        JOIN named nm ON nm.booking = nx.booking
        JOIN declarations m ON m.declaration_id = nm.decl AND m.type = 'import'""")


def test_mirror_declarations_show_the_undervaluation_gap(duck: Any) -> None:
    """The export and the import of one truck's load (found through its booking) hold the same
    goods; apparel, footwear and electrical goods are declared lower by some importers."""
    _pairs(duck)
    pairs, exports = rows(
        duck,
        """SELECT (SELECT count(*) FROM pairs),
        (SELECT count(*) FROM declarations WHERE type = 'export')""",
    )[0]
    assert 0.6 * exports < pairs <= exports  # most exports have their import at the crossing
    duck.execute("""CREATE TEMP TABLE mirrored AS SELECT x.hs6, x.exit_country,
            x.invoice_value AS x_value, m.invoice_value AS m_value, m.customs_value AS m_cif,
            x.net_mass_kg = m.net_mass_kg AND x.hs6 = m.hs6 AND x.packages = m.packages AS same
        FROM pairs p JOIN goods_items x ON x.declaration_id = p.export_id
        JOIN goods_items m ON m.declaration_id = p.import_id AND m.item_no = x.item_no""")
    assert one(duck, "SELECT bool_and(same) FROM mirrored")
    assert one(duck, "SELECT bool_and(m_cif >= m_value) FROM mirrored")  # imports are CIF
    gap = dict(
        rows(
            duck,
            """SELECT CASE WHEN exit_country = 'CN' AND left(hs6, 2) IN
            ('61', '62', '64', '85') THEN 'cn' WHEN exit_country = 'KZ' AND left(hs6, 2) IN
            ('72', '74') THEN 'kz' ELSE 'other' END, sum(m_value) / sum(x_value)
        FROM mirrored GROUP BY 1""",
        )
    )
    assert gap["other"] == pytest.approx(1.0, abs=1e-9)  # only the flagged chapters differ
    assert 0.80 < gap["cn"] < 0.99
    assert gap["cn"] < gap["kz"] < 1.0  # smaller gaps the other way
    assert one(duck, "SELECT count(*) FROM mirrored WHERE m_value > x_value + 0.005") == 0


def test_lanes_drift_after_the_model_change_and_inspections_find_the_undervalued(
    duck: Any,
) -> None:
    by_model = dict(
        rows(
            duck,
            """SELECT right(model_id, 1), avg(score) FROM lanes_all
        WHERE model_id IS NOT NULL GROUP BY 1""",
        )
    )
    assert set(by_model) == {"1", "2"} and by_model["2"] > by_model["1"]
    assert (
        one(
            duck,
            """SELECT count(*) FROM lanes_all WHERE model_id IS NOT NULL AND
        (right(model_id, 1) = '2') <> (assessed_at >= TIMESTAMPTZ '2025-06-30 16:00:00+00')""",
        )
        == 0
    )
    shares = dict(
        rows(
            duck,
            """SELECT lane, count(*) / sum(count(*)) OVER ()
        FROM declarations GROUP BY 1""",
        )
    )
    assert 0.6 < shares["green"] < 0.85 and 0.01 < shares["red"] < 0.15
    assert shares["blue"] > 0 and shares["yellow"] > shares["red"]
    inspected = dict(
        rows(
            duck,
            """SELECT d.lane, count(*) / any_value(n) FROM inspections i
        JOIN declarations d USING (declaration_id)
        JOIN (SELECT lane, count(*) AS n FROM declarations GROUP BY 1) USING (lane)
        GROUP BY 1""",
        )
    )
    assert inspected["red"] == pytest.approx(1.0, abs=0.02) and inspected["green"] < 0.05
    _pairs(duck)
    hit = dict(
        rows(
            duck,
            """SELECT m.declaration_id IN (SELECT import_id FROM pairs p JOIN
            goods_items x ON x.declaration_id = p.export_id JOIN goods_items g ON
            g.declaration_id = p.import_id AND g.item_no = x.item_no
            WHERE g.invoice_value < x.invoice_value - 0.005) AS undervalued,
        avg((outcome = 'discrepancy')::INT) FROM inspections i
        JOIN declarations m USING (declaration_id) WHERE m.type = 'import' GROUP BY 1""",
        )
    )
    assert hit[True] > 2 * hit[False]


def test_the_same_seed_gives_the_same_bytes(tmp_path: Path) -> None:
    def digests(folder: Path) -> dict[str, Any]:
        return {n: lake.load_manifest(folder, n).partitions for n in targets()}

    a = generate(tmp_path / "a", 600, 2024, seed=3)
    b = generate(tmp_path / "b", 600, 2024, seed=3)
    generate(tmp_path / "c", 600, 2024, seed=4)
    assert digests(tmp_path / "a") == digests(tmp_path / "b")
    assert a.datasets == b.datasets
    assert digests(tmp_path / "a") != digests(tmp_path / "c")
    assert json.loads((tmp_path / "a/goods_items/_manifest.json").read_text())["runs"][0][
        "generated"
    ] == {"seed": 3, "year": 2024, "goods_items": 600}


def test_a_column_the_lake_has_and_the_generator_lacks_stops_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    contract = {**generator_lake.CONTRACT,
                "lanes": (("reviewer_ref", STR),)}  # fmt: skip
    monkeypatch.setattr(generator_lake, "CONTRACT", contract)
    with pytest.raises(SchemaMismatch, match="lanes: the lake's column 'reviewer_ref'"):
        generate(tmp_path / "lake", 300, 2025, seed=1)
    assert generator_lake.has_manifests(tmp_path / "lake") == []  # nothing committed


def test_queue_day_plans_once_the_lake_defines_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As branch h-lake defines the dataset: a row per crossing, direction and open day."""
    columns = (("changed_at", TS), ("plan_id", pa.int64()), ("crossing_code", STR),
               ("exit_country", STR), ("entry_country", STR), ("day", pa.date32()),
               ("daily_cap", pa.int64()), ("planned_at", TS))  # fmt: skip
    plans = Dataset(
        name="queue_day_plans", description="e-queue days", columns=columns,
        key=("crossing_code", "exit_country", "entry_country", "day"),
        cursor=("changed_at", "plan_id"), query=lambda: None, cursor_sql=lambda: (),  # type: ignore[arg-type,return-value]
        day_of="day", owner="exit_country", crossing="crossing_code",
    )  # fmt: skip
    monkeypatch.setattr(generator_lake, "DATASETS", {**DATASETS, "queue_day_plans": plans})
    folder = tmp_path / "lake"
    report = generate(folder, 300, 2025, seed=2)
    files = sorted(str(folder / "queue_day_plans" / f)
                   for f in lake.load_manifest(folder, "queue_day_plans").files())  # fmt: skip
    con = duckdb.connect()
    con.execute(
        f"CREATE VIEW p AS SELECT * FROM read_parquet({files!r}, hive_partitioning = false)"
    )
    # 2025 has 261 weekdays: Khorgos and Alashankou plan every day, the others Monday to Friday
    days = dict(rows(con, "SELECT crossing_code, count(*) / 2 FROM p GROUP BY 1"))
    assert days == {"KHG-NZH": 365, "ALA-DOS": 365, "BAK-TAC": 261, "JEM-MAI": 261,
                    "DUL-KOL": 261}  # fmt: skip
    assert {d.dataset: d.rows for d in report.datasets}["queue_day_plans"] == 2 * (730 + 783)
    raised = rows(
        con,
        """SELECT DISTINCT b.daily_cap, a.daily_cap FROM p b JOIN p a USING
        (crossing_code, exit_country) WHERE b.day = DATE '2025-08-31' AND a.day >= DATE
        '2025-09-01'""",
    )
    assert all(after == -(-before * 11 // 100) * 10 for before, after in raised)
    replanned = rows(
        con,
        """SELECT DISTINCT day, changed_at FROM p
        WHERE changed_at <> planned_at ORDER BY 1""",
    )
    set_at = dt.datetime(2025, 8, 20, 2, tzinfo=dt.UTC)  # 10:00 at the crossings (UTC+8)
    assert replanned == [(dt.date(2025, 9, d), set_at) for d in (1, 2, 3)]  # planned 14 days ahead
    assert one(con, "SELECT count(*) FROM p WHERE owner_country <> exit_country") == 0
