"""Compaction: a partition's files become one, no row changes, the latest views decide as before,
older daily lakes fold into months, a crash leaves the lake as it was (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from silkgate.analytics import compaction, service
from silkgate.analytics import lake as lk
from silkgate.analytics.datasets import DATASETS
from silkgate.cli import app
from silkgate.core.platform import Platform
from silkgate.risk.platform import service as declaration_risk
from silkgate.risk.platform.schemas import LaneOverrideIn
from silkgate.risk.selectivity.schemas import Lane
from tests.analytics.jobs.lakes import write_lake
from tests.analytics.lake_world import World, build


@pytest.fixture
def world(platform: Platform) -> World:
    return build(platform)


def _snapshot(lake: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every ``_all`` view and every latest view, sorted."""
    con = lk.connect(lake)
    out = {}
    for name in DATASETS:
        for view in (f"{name}_all", name):
            out[view] = sorted(con.execute(f"SELECT * FROM {view}").fetchall(), key=repr)
    return out


def _three_runs(world: World) -> None:
    """Three exports, so lanes and declarations partitions hold several files."""
    world.export()
    for lane, reason in ((Lane.RED, "second look"), (Lane.YELLOW, "third look")):
        world.tick()
        declaration_risk.override_lane(
            world.platform,
            world.env.who("cn-customs"),
            world.plain,
            LaneOverrideIn(lane=lane, reason=reason),
        )
        world.export()


def test_compaction_leaves_one_file_per_partition_and_every_row(world: World) -> None:
    world.platform.settings.analytics_compact_files = 0  # exports leave the files alone
    _three_runs(world)
    lake = world.lake()
    before = _snapshot(lake)
    lanes = lk.load_manifest(lake, "lanes")
    assert max(len(p["files"]) for p in lanes.partitions.values()) == 3
    old_files = {lake / "lanes" / f for f in lanes.files()}

    report = service.compact(lake, min_files=2)

    by = {d.dataset: d for d in report.datasets}
    assert by["lanes"].partitions_compacted >= 1 and by["lanes"].files_after < len(old_files)
    assert by["gate_events"].partitions_compacted == 0  # one file per partition already
    for name in DATASETS:
        m = lk.load_manifest(lake, name)
        for part, entry in m.partitions.items():
            assert len(entry["files"]) == 1, (name, part)
            [f] = entry["files"]
            data = (lake / name / part / f["name"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == f["sha256"]
            assert entry["rows"] == f["rows"]
    assert _snapshot(lake) == before
    # the replaced files stay for readers that listed them, until the next export sweeps them
    assert all(p.exists() for p in old_files)
    world.export()
    assert not any(p.exists() for p in old_files)
    assert _snapshot(lake) == before


def test_latest_view_still_takes_the_last_export_of_a_record(world: World) -> None:
    world.platform.settings.analytics_compact_files = 0
    _three_runs(world)
    service.compact(world.lake(), ["lanes"], min_files=1)
    con = lk.connect(world.lake())
    got = con.execute(
        f"SELECT final_lane FROM lanes WHERE declaration_id = '{world.plain}'"
    ).fetchall()
    assert got == [("yellow",)]  # the third export's row, the last of three in one file


def test_export_compacts_partitions_that_reach_the_setting(world: World) -> None:
    world.platform.settings.analytics_compact_files = 3
    world.export()
    world.tick()
    declaration_risk.override_lane(
        world.platform, world.env.who("cn-customs"), world.plain,
        LaneOverrideIn(lane=Lane.RED, reason="second look"),
    )  # fmt: skip
    second = world.export()
    assert {d.dataset: d.partitions_compacted for d in second.datasets}["lanes"] == 0
    world.tick()
    declaration_risk.override_lane(
        world.platform, world.env.who("cn-customs"), world.plain,
        LaneOverrideIn(lane=Lane.YELLOW, reason="third look"),
    )  # fmt: skip
    third = world.export()
    assert {d.dataset: d.partitions_compacted for d in third.datasets}["lanes"] == 1
    lanes = lk.load_manifest(world.lake(), "lanes")
    assert max(len(p["files"]) for p in lanes.partitions.values()) == 1


def test_crash_before_the_manifest_commit_changes_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.platform.settings.analytics_compact_files = 0
    _three_runs(world)
    lake = world.lake()
    before, manifest = _snapshot(lake), (lake / "lanes" / lk.MANIFEST).read_text()

    def crash(*_: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(compaction.lk, "commit_manifest", crash)
    with pytest.raises(OSError, match="disk full"):
        service.compact(lake, ["lanes"])
    monkeypatch.undo()
    assert (lake / "lanes" / lk.MANIFEST).read_text() == manifest
    assert _snapshot(lake) == before
    report = service.compact(lake, ["lanes"])  # the crashed run's new file is swept first
    assert report.datasets[0].files_swept == 1
    assert _snapshot(lake) == before


def test_daily_partitions_of_an_older_lake_fold_into_months(tmp_path: Path) -> None:
    rows = [
        {"declaration_id": f"D{i}", "version": 1, "owner_country": "KZ", "crossing": "KHG-NZH",
         "date": day, "updated_at": dt.datetime.fromisoformat(f"{day}T10:00:00+00:00")}
        for i, day in enumerate(["2025-01-01", "2025-01-02", "2025-01-31", "2025-02-01"])
    ]  # fmt: skip
    lake = write_lake(tmp_path / "lake", {"declarations": rows})
    before = _snapshot(lake)
    report = service.compact(lake, ["declarations"])
    assert report.datasets[0].partitions_compacted == 2
    assert sorted(lk.load_manifest(lake, "declarations").partitions) == [
        "owner_country=KZ/crossing=KHG-NZH/month=2025-01",
        "owner_country=KZ/crossing=KHG-NZH/month=2025-02",
    ]
    assert _snapshot(lake) == before
    doc = json.loads((lake / "declarations" / lk.MANIFEST).read_text())
    assert doc["runs"][-1]["files_before"] == 4 and doc["runs"][-1]["files_after"] == 2


def test_compact_cli_names_the_bad_option(tmp_path: Path) -> None:
    env = {"SILKGATE_DEMO_MODE": "true", "SILKGATE_DATA_DIR": str(tmp_path)}
    out = CliRunner().invoke(app, ["analytics", "compact", "--min-files", "0", "--json"], env=env)
    assert out.exit_code == 2
    [error] = json.loads(out.stdout)["errors"]
    assert error["option"] == "--min-files" and "between 1 and" in error["message"]
    out = CliRunner().invoke(app, ["analytics", "compact", "-d", "cargo", "--json"], env=env)
    assert out.exit_code == 2
    assert json.loads(out.stdout)["errors"][0]["option"] == "--dataset"
