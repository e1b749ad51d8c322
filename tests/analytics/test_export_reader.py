"""The export's reader: one snapshot for the run, a failure mid-stream leaves nothing behind
and the next run exports everything (SQLite's reader process does not hang)."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from silkgate.analytics import export as exporting
from silkgate.analytics import lake as lk
from silkgate.analytics import service
from silkgate.analytics.sqlite_reader import SqliteReader
from silkgate.core.platform import Platform
from tests.analytics.lake_world import World, build


@pytest.fixture
def world(platform: Platform) -> World:
    return build(platform)


def test_failure_mid_stream_then_rerun(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    class Boom(RuntimeError):
        pass

    real = exporting.Converter.convert

    def convert(self: Any, batch: Any, run: str) -> Any:
        if self.ds.name == "goods_items":
            raise Boom
        return real(self, batch, run)

    monkeypatch.setattr(exporting.Converter, "convert", convert)
    with pytest.raises(Boom):
        world.export()
    assert lk.load_manifest(world.lake(), "goods_items").watermark is None
    monkeypatch.undo()
    report = world.export()
    rows = {d.dataset: d.rows for d in report.datasets}
    assert rows["declarations"] == 0 and rows["goods_items"] == 19  # declarations went in first


def test_one_snapshot_for_every_read_of_a_run(world: World) -> None:
    """A change committed while a run's snapshot is open is not seen by that run."""
    snap = service.Snapshot(world.platform)
    try:
        ds = service.DATASETS["declarations"]
        before = sum(b.num_rows for b in service.stream_changes(snap, ds, None, None))
        world.tick()
        world.amend(world.plain, 2)  # commits a new state of one declaration
        again = list(service.stream_changes(snap, ds, None, None))
        assert sum(b.num_rows for b in again) == before == 4
        versions = {r["declaration_id"]: r["version"] for b in again for r in b.to_pylist()}
        assert versions[world.plain] == 1
    finally:
        snap.close()
    fresh = service.Snapshot(world.platform)
    try:
        ds = service.DATASETS["declarations"]
        rows = [r for b in service.stream_changes(fresh, ds, None, None) for r in b.to_pylist()]
        assert {r["declaration_id"]: r["version"] for r in rows}[world.plain] == 2
    finally:
        fresh.close()


def _versions(reader: service.Snapshot) -> dict[str, int]:
    ds = service.DATASETS["declarations"]
    rows = [r for b in service.stream_changes(reader, ds, None, None) for r in b.to_pylist()]
    return {r["declaration_id"]: r["version"] for r in rows}


def _lanes(reader: service.Snapshot) -> dict[str, str | None]:
    ds = service.DATASETS["declarations"]
    rows = [r for b in service.stream_changes(reader, ds, None, None) for r in b.to_pylist()]
    return {r["declaration_id"]: r["lane"] for r in rows}


@pytest.fixture
def any_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite's second reader also for this small database and few rows."""
    monkeypatch.setattr(service, "SQLITE_PARALLEL_FROM_BYTES", 0)
    monkeypatch.setattr(service, "SQLITE_PARALLEL_FROM_ROWS", 0)


def test_sqlite_reads_with_one_process_where_there_is_little_to_read(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = list(service.DATASETS)
    sqlite = world.platform.db.engine.dialect.name == "sqlite"
    assert service.readers_for(world.platform, names) == (1 if sqlite else 2)  # a small file
    monkeypatch.setattr(service, "SQLITE_PARALLEL_FROM_BYTES", 0)
    monkeypatch.setattr(service, "SQLITE_PARALLEL_FROM_ROWS", 10)
    assert service.readers_for(world.platform, names) == 2  # a first export: everything
    world.export()
    world.tick()
    world.amend(world.plain, 2)  # 1 declaration, 1 version with 2 items: under 10 rows
    assert service.readers_for(world.platform, names) == (1 if sqlite else 2)
    assert service.readers_for(world.platform, names[:1]) == 1  # one dataset, one reader


@pytest.mark.usefixtures("any_size")
def test_an_export_on_two_readers_writes_what_one_reader_writes(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert service.readers_for(world.platform, list(service.DATASETS)) == 2
    two = world.export()
    monkeypatch.setattr(world.platform.settings, "analytics_export_readers", 1)
    monkeypatch.setattr(world.platform.settings, "analytics_lake_dir", tmp_path / "one")
    one = world.export()
    assert [(d.dataset, d.rows, d.rejected) for d in two.datasets] == [
        (d.dataset, d.rows, d.rejected) for d in one.datasets
    ]
    assert sum(d.rows for d in two.datasets) > 0


def test_a_second_reader_shares_the_run_snapshot(world: World) -> None:
    """Datasets read at once on two connections see one state: a change committed after the
    run's snapshot was taken is seen by neither (PostgreSQL: an exported snapshot; SQLite:
    two reader processes begun together)."""
    snap = service.Snapshot(world.platform, readers=2)
    sibling = snap.sibling()
    try:
        assert sibling is not None
        if snap.kind == "sqlite":
            assert snap.sibling() is None  # two were asked for
        world.tick()
        world.amend(world.plain, 2)
        for reader in (snap, sibling):
            assert _versions(reader)[world.plain] == 1
    finally:
        if sibling is not None:
            sibling.close()
        snap.close()


def test_sqlite_readers_begin_with_no_commit_between_them(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write lock is held from the first reader's beginning to the last's, so a write
    committed meanwhile waits, and is seen by none of them (without the lock the second reader
    saw it)."""
    if world.platform.db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's siblings import the first reader's snapshot")
    path = world.platform.db.engine.url.database or ""
    real = SqliteReader.begin
    writers: list[threading.Thread] = []

    def write() -> None:
        with sqlite3.connect(path, timeout=30) as conn:
            conn.execute("UPDATE declarations SET lane = 'red' WHERE id = ?", (world.plain,))

    def begin(self: Any, within: float) -> None:
        real(self, within)
        if not writers:  # after the first reader began
            other = sqlite3.connect(path, timeout=0, isolation_level=None)
            try:
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("BEGIN IMMEDIATE")
            finally:
                other.close()
            writers.append(threading.Thread(target=write))
            writers[0].start()
            time.sleep(0.5)  # time enough for one UPDATE to commit, were it not held off

    before = _lanes_now(world)
    monkeypatch.setattr(SqliteReader, "begin", begin)
    snap = service.Snapshot(world.platform, readers=2)
    try:
        writers[0].join(timeout=30)
        assert not writers[0].is_alive()  # the write went in once the readers had begun
        sibling = snap.sibling()
        assert sibling is not None
        assert _lanes(snap)[world.plain] == _lanes(sibling)[world.plain] == before != "red"
    finally:
        snap.close()
    assert _lanes_now(world) == "red"


def _lanes_now(world: World) -> str | None:
    fresh = service.Snapshot(world.platform)
    try:
        return _lanes(fresh)[world.plain]
    finally:
        fresh.close()
