"""The export's reader: one snapshot for the run, a failure mid-stream leaves nothing behind
and the next run exports everything (SQLite's reader process does not hang)."""

from __future__ import annotations

from typing import Any

import pytest

from silkgate.analytics import export as exporting
from silkgate.analytics import lake as lk
from silkgate.analytics import service
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


def test_a_second_reader_shares_the_run_snapshot(world: World) -> None:
    """Datasets read at once on two connections (PostgreSQL) see one state: a change committed
    after the run's snapshot was taken is seen by neither."""
    snap = service.Snapshot(world.platform)
    try:
        sibling = snap.sibling()
        if world.platform.db.engine.dialect.name == "sqlite":
            assert sibling is None  # SQLite reads one dataset at a time
            return
        assert sibling is not None
        try:
            world.tick()
            world.amend(world.plain, 2)
            ds = service.DATASETS["declarations"]
            for reader in (snap, sibling):
                rows = [r for b in service.stream_changes(reader, ds, None, None)
                        for r in b.to_pylist()]  # fmt: skip
                assert {r["declaration_id"]: r["version"] for r in rows}[world.plain] == 1
        finally:
            sibling.close()
    finally:
        snap.close()
