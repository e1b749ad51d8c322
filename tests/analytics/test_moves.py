"""Supersession markers: an older version in a partition a run may read never passes for the
latest when the newer version lies in a partition it may not read."""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from silkgate.analytics import compaction, moves
from silkgate.analytics import lake as lk
from silkgate.analytics.datasets import DATASETS, PARTITION, Dataset
from silkgate.analytics.jobs import service as jobs
from silkgate.analytics.jobs.engines import DuckDBEngine, SparkEngine
from silkgate.core.platform import Platform
from silkgate.declarations import service as declarations
from silkgate.exchange.agreements.catalogue import Category
from silkgate.risk.platform import profiles as profile_service
from silkgate.risk.platform.worker import assess_pending
from tests.analytics.jobs.conftest import NOW, statistics_rule
from tests.analytics.lake_world import PROFILE, World, build
from tests.factories import export_cn_to_kz

pytestmark = pytest.mark.xdist_group("analytics-lake")


@pytest.fixture
def world(platform: Platform) -> World:
    return build(platform)


@pytest.fixture
def lake_world(platform: Platform) -> World:
    """The world on SQLite only: past the export (run on both databases above), the markers
    and the jobs read the lake, not the database."""
    if platform.db.engine.dialect.name != "sqlite":
        pytest.skip("the markers are read from the lake, not the database: one backend is enough")
    return build(platform)


def _move(world: World, decl_id: str, crossing: str) -> None:
    """Amend the declaration to leave by another crossing (a new version, a new partition)."""
    world.tick()
    body = export_cn_to_kz(world.lrn(decl_id))
    body["crossing"] = {"code": crossing, "exit_country": "CN", "entry_country": "KZ"}
    declarations.amend(world.platform, world.env.who("cn-broker"), decl_id, body)


def _files(world: World, crossing: str | None = None) -> dict[str, list[Path]]:
    """Every listed file of each dataset, or only those at ``crossing``."""
    out = {}
    for name in ("declarations", "goods_items"):
        listed = sorted(
            world.lake() / name / f for f in lk.load_manifest(world.lake(), name).files()
        )
        out[name] = [f for f in listed if crossing is None or f"crossing={crossing}/" in str(f)]
    return out


def _seen(world: World, decl_id: str, crossing: str | None = None) -> dict[str, Any]:
    """The declaration's latest version and its items' versions, read from those files only."""
    con = duckdb.connect()
    lk.duckdb_views(con, _files(world, crossing))
    version = con.execute(
        "SELECT version FROM declarations WHERE declaration_id = ?", [decl_id]
    ).fetchall()
    items = con.execute(
        "SELECT DISTINCT version FROM goods_items WHERE declaration_id = ?", [decl_id]
    ).fetchall()
    return {"declaration": version, "items": items}


def test_a_version_moved_to_another_crossing_hides_the_one_left_behind(world: World) -> None:
    world.export()
    _move(world, world.plain, "ALA-DOS")
    report = {d.dataset: d for d in world.export().datasets}
    assert report["declarations"].markers_written == 1
    assert report["goods_items"].markers_written == 1
    assert report["lanes"].markers_written == 0  # the new version's lane is a new record
    manifest = lk.load_manifest(world.lake(), "declarations")
    khorgos = [p for k, p in manifest.partitions.items() if "crossing=KHG-NZH/" in k]
    marked = [f for p in khorgos for f in p["files"] if lk.is_moves(f["name"])]
    assert [f["rows"] for f in marked] == [1]
    assert sum(p["rows"] for p in khorgos) == 4  # rows are records' rows, markers apart
    # the new version's row in one partition, the marker in another: both touched, two files
    declarations = report["declarations"]
    assert (declarations.partitions_written, declarations.files_written) == (1, 2)
    assert declarations.partitions_unchanged == len(manifest.partitions) - 2

    assert _seen(world, world.plain, "KHG-NZH") == {"declaration": [], "items": []}
    assert _seen(world, world.plain, "ALA-DOS") == {"declaration": [(2,)], "items": [(2,)]}
    assert _seen(world, world.plain) == {"declaration": [(2,)], "items": [(2,)]}
    # the others, never moved, are read as before
    assert _seen(world, world.amended, "KHG-NZH") == {"declaration": [(2,)], "items": [(2,)]}


def test_a_record_moved_back_is_read_where_it_now_is(lake_world: World) -> None:
    world = lake_world
    world.export()
    _move(world, world.plain, "ALA-DOS")
    world.export()
    _move(world, world.plain, "KHG-NZH")
    report = {d.dataset: d for d in world.export().datasets}
    assert report["declarations"].markers_written == 1  # in ALA-DOS; Khorgos's version is latest
    assert _seen(world, world.plain, "KHG-NZH") == {"declaration": [(3,)], "items": [(3,)]}
    assert _seen(world, world.plain, "ALA-DOS") == {"declaration": [], "items": []}
    assert _seen(world, world.plain) == {"declaration": [(3,)], "items": [(3,)]}
    # a rerun with nothing changed marks nothing again
    assert all(d.markers_written == 0 for d in world.export().datasets)


def test_compaction_keeps_markers_apart_from_rows(lake_world: World) -> None:
    world = lake_world
    world.export()
    _move(world, world.plain, "ALA-DOS")
    world.export()
    before = {c: _seen(world, world.plain, c) for c in ("KHG-NZH", "ALA-DOS", None)}
    compaction.compact(world.lake(), ["declarations", "goods_items"], min_files=1)
    manifest = lk.load_manifest(world.lake(), "declarations")
    for key, part in manifest.partitions.items():
        names = [f["name"] for f in part["files"]]
        assert sum(not lk.is_moves(n) for n in names) == 1, key
        assert part["rows"] == sum(f["rows"] for f in part["files"] if not lk.is_moves(f["name"]))
    assert {c: _seen(world, world.plain, c) for c in ("KHG-NZH", "ALA-DOS", None)} == before
    # a partition of one data file and one marker file is compacted: nothing more to do
    again = compaction.compact(world.lake(), ["declarations", "goods_items"], min_files=2)
    assert [d.partitions_compacted for d in again.datasets] == [0, 0]


def _exported_before_markers(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The plain declaration moved to ALA-DOS by exports as they were before markers: none
    written, and no run of the manifests records looking for them."""
    world.export()
    _move(world, world.plain, "ALA-DOS")
    with monkeypatch.context() as m:
        m.setattr(moves, "markers", lambda ds, *_a, **_k: lk.moves_schema(ds).empty_table())
        world.export()
    for name in DATASETS:
        manifest = lk.load_manifest(world.lake(), name)
        for run in manifest.runs:
            run.pop("markers", None)
        lk.commit_manifest(world.lake(), manifest, "before-markers")
    assert _seen(world, world.plain, "KHG-NZH") == {"declaration": [(1,)], "items": [(1,)]}


def test_compaction_marks_a_lake_exported_before_markers(
    lake_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = lake_world
    _exported_before_markers(world, monkeypatch)
    report = compaction.compact(world.lake(), ["declarations", "goods_items", "lanes"], 2)
    assert [d.markers_written for d in report.datasets] == [1, 1, 0]
    assert _seen(world, world.plain, "KHG-NZH") == {"declaration": [], "items": []}
    assert _seen(world, world.plain) == {"declaration": [(2,)], "items": [(2,)]}
    again = compaction.compact(world.lake(), ["declarations", "goods_items"], 2)
    assert [d.markers_written for d in again.datasets] == [0, 0]


def test_an_export_marks_a_lake_exported_before_markers_once(
    lake_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No compaction needed: the next export marks what the exports before markers left."""
    world = lake_world
    _exported_before_markers(world, monkeypatch)
    report = world.export()
    marked = {d.dataset: d.markers_written for d in report.datasets}
    assert (marked["declarations"], marked["goods_items"]) == (1, 1)
    assert _seen(world, world.plain, "KHG-NZH") == {"declaration": [], "items": []}
    assert _seen(world, world.plain) == {"declaration": [(2,)], "items": [(2,)]}
    again = world.export()
    assert sum(d.markers_written for d in again.datasets) == 0
    runs = [r["run"] for r in lk.load_manifest(world.lake(), "declarations").runs]
    assert sum(r == report.run + "-moves" for r in runs) == 1
    assert not any(r.startswith(again.run) and r.endswith("-moves") for r in runs)


def test_a_job_allowed_only_the_old_crossing_does_not_count_the_moved_declaration(
    lake_world: World,
) -> None:
    """Computing in KZ with China's agreement covering Khorgos only: the declaration moved to
    Alashankou is not counted in its old version (trade_flows counts a declaration in each of
    its headings' rows: the moved one's rows are those an Alashankou-only run counts)."""
    world = lake_world

    def declarations_counted(crossings: tuple[str, ...]) -> int:
        rules = [
            statistics_rule("CN", c, places=("KZ",), consumers=("KZ",), crossings=crossings)
            for c in Category
        ]
        request = jobs.check("trade_flows", {}, "duckdb", "KZ")
        result = jobs.run_on_lake(world.lake(), request, rules, "KZ", 1, NOW, None, DuckDBEngine())
        return int(sum(result.table.column("declarations").to_pylist()))

    world.export()
    before = declarations_counted(("KHG-NZH",))
    _move(world, world.plain, "ALA-DOS")
    world.export()
    moved = declarations_counted(("ALA-DOS",))
    assert moved > 0
    assert declarations_counted(("KHG-NZH",)) == before - moved
    assert declarations_counted(("KHG-NZH", "ALA-DOS")) == before


#: Partitions of the property below: two owners at one crossing, and a second month.
PLACES = (
    ("CN", "KHG-NZH", date(2025, 1, 15)),
    ("KZ", "KHG-NZH", date(2025, 1, 15)),
    ("CN", "KHG-NZH", date(2025, 2, 3)),
)
#: Export runs, each a list of (record, partition) changes in the order they happened.
RUNS = st.lists(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, len(PLACES) - 1)), max_size=4),
    min_size=1,
    max_size=5,
)


def _rows(ds: Dataset, changes: list[tuple[str, int, int, int]], run: str) -> pa.Table:
    """Lake rows of ``ds`` for (record, order, partition, items) changes; other columns null."""
    schema = lk.file_schema(ds)
    out: dict[str, list[Any]] = {f.name: [] for f in schema}
    for record, order, place, items in changes:
        for item in range(1, items + 1):
            for f in schema:
                out[f.name].append(None)
            owner, crossing, day = PLACES[place]
            stamp = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=order)
            values = {"owner_country": owner, "crossing": crossing, "date": day, "export_run": run}
            if ds.latest == "max_version":
                values |= {"declaration_id": record, "version": order, "item_no": item}
                values["version_created_at"] = stamp
            else:
                values |= {"booking_id": record, "updated_at": stamp}
            for k, v in values.items():
                out[k][-1] = v
    return pa.table(out, schema=schema)


def _write(root: Path, ds: Dataset, table: pa.Table, prefix: str, run: str) -> list[Path]:
    written = []
    for place in set(zip(*(table.column(c).to_pylist() for c in PARTITION), strict=True)):
        owner, crossing, day = place
        mask = [
            (o, c, d) == place
            for o, c, d in zip(*(table.column(c).to_pylist() for c in PARTITION), strict=True)
        ]
        key = lk.partition_key(owner, crossing, day.strftime("%Y-%m"))
        path = root / ds.name / key / f"{prefix}{run}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table.filter(pa.array(mask)), path)
        written.append(path)
    return written


def _history(
    root: Path, ds: Dataset, runs: list[list[tuple[int, int]]]
) -> tuple[list[Path], dict[str, tuple[int, int]]]:
    """Export ``runs`` of changes, markers and all, into a lake at ``root``: its files, and each
    record's latest (order, partition)."""
    latest: dict[str, tuple[int, int]] = {}
    files: list[Path] = []
    order = 0
    for n, changes in enumerate(runs):
        run = f"r{n:03d}"
        rows: list[tuple[str, int, int, int]] = []
        for record, place in changes:
            if ds.latest != "max_version" and f"rec{record}" in {r[0] for r in rows}:
                continue  # a record changed twice between runs is exported once
            order += 1
            rows.append((f"rec{record}", order, place, 1 + order % 2))
            latest[f"rec{record}"] = (order, place)
        if rows:
            new = _write(root, ds, _rows(ds, rows, run), "part-", run)
            found = moves.markers(ds, files, new, run)
            files += new + _write(root, ds, found, lk.MOVES_PREFIX, run)
    return files, latest


def _readable(root: Path, ds: Dataset, files: list[Path], places: set[int]) -> list[Path]:
    allowed = {lk.partition_key(o, c, f"{d:%Y-%m}") for o, c, d in (PLACES[i] for i in places)}
    return [f for f in files if f.parent.relative_to(root / ds.name).as_posix() in allowed]


def _latest(engine: Any, ds: Dataset, files: list[Path]) -> dict[str, int]:
    """Each record the latest view shows, with its order value (minutes for a timestamp)."""
    engine.load({ds.name: files})
    key, column = lk.record_key(ds)[0], lk.order_column(ds)
    table = engine.query(f"SELECT DISTINCT {key}, {column} FROM {ds.name}")
    got = list(zip(*(table.column(c).to_pylist() for c in (key, column)), strict=True))
    if ds.latest != "max_version":
        start = datetime(2025, 1, 1, tzinfo=UTC)
        got = [(k, (v - start) // timedelta(minutes=1)) for k, v in got]
    assert len(got) == len(dict(got)), "a record seen in two versions"
    return dict(got)


@pytest.mark.parametrize("name", ["bookings", "goods_items"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs=RUNS, readable=st.sets(st.integers(0, len(PLACES) - 1)))
def test_any_history_reads_each_record_where_its_latest_version_is(
    name: str, runs: list[list[tuple[int, int]]], readable: set[int]
) -> None:
    """Whatever partitions a record's versions went to, run after run, a reader of any set of
    partitions sees exactly the records whose latest version it reads, in that version."""
    ds = DATASETS[name]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files, latest = _history(root, ds, runs)
        wanted = {r: o for r, (o, p) in latest.items() if p in readable}
        assert _latest(DuckDBEngine(), ds, _readable(root, ds, files, readable)) == wanted


@pytest.mark.xdist_group("spark")
@pytest.mark.parametrize("name", ["bookings", "goods_items"])
def test_spark_reads_markers_as_duckdb_does(name: str, tmp_path: Path) -> None:
    ds = DATASETS[name]
    # rec0 moves CN -> KZ -> back to CN; rec1 to the next month; rec2 stays; rec3 moves to KZ
    runs = [[(0, 0), (1, 0), (2, 0), (3, 0)], [(0, 1), (1, 2)], [(0, 0), (3, 1)]]
    files, latest = _history(tmp_path, ds, runs)
    for readable in ({0}, {1}, {2}, {0, 2}, {0, 1, 2}):
        listed = _readable(tmp_path, ds, files, readable)
        wanted = {r: o for r, (o, p) in latest.items() if p in readable}
        assert _latest(DuckDBEngine(), ds, listed) == wanted
        assert _latest(SparkEngine(master="local[2]", shuffle_partitions=4), ds, listed) == wanted


def test_lanes_of_a_moved_declaration_follow_it(lake_world: World) -> None:
    """lane_shares takes a declaration's latest lane: in a run allowed only Khorgos, the lane
    of the version that left for Alashankou is not taken for it, and the declarations that
    never moved keep their cells; every lane row is still in ``lanes`` (model drift counts
    each scoring)."""
    world = lake_world

    def lanes_counted(crossings: tuple[str, ...]) -> dict[str, int]:
        rules = [
            statistics_rule("CN", c, places=("KZ",), consumers=("KZ",), crossings=crossings)
            for c in Category
        ]
        request = jobs.check("lane_shares", {"by": "office"}, "duckdb", "KZ")
        result = jobs.run_on_lake(world.lake(), request, rules, "KZ", 1, NOW, None, DuckDBEngine())
        return {r["lane"]: r["declarations"] for r in result.table.to_pylist()}

    world.export()
    before = lanes_counted(("KHG-NZH",))
    _move(world, world.plain, "ALA-DOS")
    profile_service.save(world.platform, "test", "CN-ALASHANKOU", "export", PROFILE)
    assess_pending(world.platform)
    # the assessor stamps the declaration on the real clock, before this test's simulated one
    # (docs/analytics.md): a third version, on the test's clock, gets it exported
    _move(world, world.plain, "ALA-DOS")
    report = {d.dataset: d for d in world.export().datasets}
    assert report["lanes"].markers_written == 1
    plain_lane = lanes_counted(("ALA-DOS",))
    assert sum(plain_lane.values()) == 1  # the moved declaration, at Alashankou
    after = lanes_counted(("KHG-NZH",))
    assert sum(after.values()) == sum(before.values()) - 1
    con = world.duck()
    versions = con.execute(
        "SELECT DISTINCT version FROM lanes WHERE declaration_id = ? ORDER BY 1", [world.plain]
    ).fetchall()
    assert versions == [(1,), (2,)]
