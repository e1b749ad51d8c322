"""The export's reader: one snapshot for the run, a failure mid-stream leaves nothing behind
and the next run exports everything (SQLite's reader process does not hang)."""

from __future__ import annotations

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


@pytest.fixture
def any_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite's second reader also for this small database."""
    monkeypatch.setattr(service, "SQLITE_PARALLEL_FROM", 0)


def test_a_small_sqlite_database_is_read_by_one_process(world: World) -> None:
    snap = service.Snapshot(world.platform, readers=2)
    try:
        assert (snap.sibling() is None) == (snap.kind == "sqlite")
    finally:
        snap.close()


@pytest.mark.usefixtures("any_size")
def test_an_export_on_two_readers_writes_what_one_reader_writes(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    two = world.export()
    monkeypatch.setattr(world.platform.settings, "analytics_export_readers", 1)
    monkeypatch.setattr(world.platform.settings, "analytics_lake_dir", tmp_path / "one")
    one = world.export()
    assert [(d.dataset, d.rows, d.rejected) for d in two.datasets] == [
        (d.dataset, d.rows, d.rejected) for d in one.datasets
    ]
    assert sum(d.rows for d in two.datasets) > 0


@pytest.mark.usefixtures("any_size")
def test_a_second_reader_shares_the_run_snapshot(world: World) -> None:
    """Datasets read at once on two connections see one state: a change committed after the
    run's snapshot was taken is seen by neither (PostgreSQL: an exported snapshot; SQLite:
    two reader processes begun together)."""
    snap = service.Snapshot(world.platform, readers=2)
    try:
        sibling = snap.sibling()
        assert sibling is not None
        try:
            assert snap.sibling() is None or snap.kind == "postgresql"  # SQLite: 2 asked for
            world.tick()
            world.amend(world.plain, 2)
            for reader in (snap, sibling):
                assert _versions(reader)[world.plain] == 1
        finally:
            sibling.close()
    finally:
        snap.close()


@pytest.mark.usefixtures("any_size")
def test_sqlite_readers_begin_with_no_commit_between_them(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write committed while the readers begin waits until all have begun: it is seen by
    none of them (without the write lock held meanwhile, the second reader saw it)."""
    if world.platform.db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's siblings import the first reader's snapshot")
    real = SqliteReader.begin
    writers: list[threading.Thread] = []

    def begin(self: Any) -> None:
        real(self)
        if not writers:  # after the first reader began: another connection amends
            world.tick()
            writers.append(threading.Thread(target=world.amend, args=(world.plain, 2)))
            writers[0].start()
            time.sleep(0.5)  # time enough to commit, were it not held off

    monkeypatch.setattr(SqliteReader, "begin", begin)
    snap = service.Snapshot(world.platform, readers=2)
    try:
        writers[0].join(timeout=30)
        assert not writers[0].is_alive()  # the write went in once the readers had begun
        sibling = snap.sibling()
        assert sibling is not None
        assert _versions(snap)[world.plain] == _versions(sibling)[world.plain] == 1
    finally:
        snap.close()
    fresh = service.Snapshot(world.platform)
    try:
        assert _versions(fresh)[world.plain] == 2
    finally:
        fresh.close()
