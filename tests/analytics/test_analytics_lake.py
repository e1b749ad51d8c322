"""The lake from a small hand-checked history: layout, manifest, incremental reruns, latest
versions, crash safety, rejected rows, agreement with the database (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DataError

from silkgate.analytics import lake as lk
from silkgate.core.platform import Platform
from silkgate.declarations.models import Declaration, GoodsItem
from silkgate.gates.models import GateEvent
from silkgate.queue.models import Booking, DayPlan
from silkgate.risk.platform.models import InspectionResult, RiskAssessment
from tests.analytics.lake_world import World, build
from tests.factories import export_cn_to_kz

ALL = (
    "declarations", "goods_items", "lanes", "inspections", "bookings", "gate_events",
    "queue_day_plans",
)  # fmt: skip
EVERY = (*ALL, "gate_event_refs")  # the world's gate events name no declaration or booking


@pytest.fixture
def world(platform: Platform) -> World:
    return build(platform)


def _rows(report: Any) -> dict[str, int]:
    return {d.dataset: d.rows for d in report.datasets}


def _parquet_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*.parquet")}


def _count(con: Any, sql: str) -> int:
    return int(con.execute(sql).fetchone()[0])


def test_hand_checked_lake_layout_and_manifest(world: World) -> None:
    report = world.export()
    # 4 declarations (3 + the booking's); items: v1 and v2 of the amended one (4 + 3), 4 each else
    assert _rows(report) == {
        "declarations": 4, "goods_items": 19, "lanes": 4, "inspections": 1, "bookings": 1,
        "gate_events": 4, "gate_event_refs": 0, "queue_day_plans": 1,
    }  # fmt: skip
    assert report.rejected_total == 0
    lake = world.lake()
    # Hive partitions: owner country, crossing, month of the crossing-local day (UTC+8)
    assert {p.rsplit("/", 1)[0] for p in _parquet_files(lake)} == {
        "declarations/owner_country=CN/crossing=KHG-NZH/month=2026-12",
        "goods_items/owner_country=CN/crossing=KHG-NZH/month=2026-12",
        "lanes/owner_country=CN/crossing=KHG-NZH/month=" + _lane_day(world)[:7],
        "inspections/owner_country=CN/crossing=KHG-NZH/month=" + _lane_day(world)[:7],
        "bookings/owner_country=CN/crossing=KHG-NZH/month=2026-12",  # the slot's day
        "gate_events/owner_country=CN/crossing=KHG-NZH/month=2025-11",  # reporting side
        "gate_events/owner_country=KZ/crossing=KHG-NZH/month=2025-11",
        "queue_day_plans/owner_country=CN/crossing=KHG-NZH/month=2026-12",  # the booked day
    }
    for name in ALL:
        m = json.loads((lake / name / lk.MANIFEST).read_text())
        assert m["watermark"] is not None and m["runs"][-1]["run"] == report.run
        for part, entry in m["partitions"].items():
            assert entry["rows"] == sum(f["rows"] for f in entry["files"])
            for f in entry["files"]:
                data = (lake / name / part / f["name"]).read_bytes()
                assert hashlib.sha256(data).hexdigest() == f["sha256"]
    con = world.duck()
    assert con.execute("SELECT side, count(*) FROM gate_events GROUP BY 1 ORDER BY 1").fetchall() == [
        ("CN", 3), ("KZ", 1),
    ]  # fmt: skip
    lanes = dict(con.execute("SELECT declaration_id, final_lane FROM lanes").fetchall())
    assert lanes[world.inspected] == "red" and lanes[world.plain] == "yellow"
    assert con.execute("SELECT outcome, findings FROM inspections").fetchall() == [
        ("discrepancy", 1)
    ]
    # no plates in the lake: a keyed pseudonym instead
    (ref,) = con.execute("SELECT truck_ref FROM bookings").fetchone()
    assert len(ref) == 20 and "新F" not in ref
    assert "123ABC02" not in str(con.execute("SELECT truck_ref FROM gate_events").fetchall())


def _lane_day(world: World) -> str:
    with world.platform.db.session() as s:
        at = s.scalar(select(func.min(RiskAssessment.assessed_at)))
    from datetime import timedelta

    return str((at + timedelta(hours=8)).date())


def test_rerun_without_change_exports_nothing(world: World) -> None:
    first = world.export()
    files = _parquet_files(world.lake())
    again = world.export()
    assert _rows(again) == dict.fromkeys(EVERY, 0)
    assert all(d.files_written == 0 for d in again.datasets)
    assert [d.partitions_unchanged for d in again.datasets] == [
        d.partitions_written for d in first.datasets
    ]
    assert _parquet_files(world.lake()) == files


def test_an_older_versions_items_keep_their_own_crossing_and_currency(world: World) -> None:
    """An amendment moves a declaration to another crossing and invoices it in another
    currency; both versions are exported in one run. Version 1's items stay where and in what
    that version said (they took the current declaration's crossing, owner and currency)."""
    first = export_cn_to_kz()
    was = (first["crossing"]["code"], first["invoice"]["currency"])
    now = ("ALA-DOS" if was[0] != "ALA-DOS" else "BAK-TAC", "USD" if was[1] != "USD" else "EUR")
    crossing = {**first["crossing"], "code": now[0]}
    world.amend(world.plain, 2, crossing=crossing, invoice={**first["invoice"], "currency": now[1]})
    report = world.export()
    # version 1's partition gets a marker: a run reading it alone must not take v1 for latest
    assert {d.dataset: d.markers_written for d in report.datasets}["goods_items"] == 1
    con = world.duck()
    got = con.execute(
        "SELECT version, crossing_code, crossing, owner_country, currency, count(*) "
        f"FROM goods_items_all WHERE declaration_id = '{world.plain}' GROUP BY ALL ORDER BY 1"
    ).fetchall()
    assert got == [(1, *was[:1], was[0], "CN", was[1], 4), (2, now[0], now[0], "CN", now[1], 2)]
    latest = con.execute(
        f"SELECT DISTINCT version, crossing FROM goods_items WHERE declaration_id = '{world.plain}'"
    ).fetchall()
    assert latest == [(2, now[0])]
    assert any(f"goods_items/owner_country=CN/crossing={now[0]}/" in f
               for f in _parquet_files(world.lake()))  # fmt: skip


def test_changed_declaration_appears_once_in_its_latest_version(world: World) -> None:
    world.export()
    world.tick()
    world.second_look(world.plain)
    report = world.export()
    assert _rows(report)["declarations"] == 1 and _rows(report)["goods_items"] == 2
    assert _rows(report)["lanes"] == 1  # the overridden assessment of version 1
    con = world.duck()
    lanes = con.execute(
        f"SELECT version, final_lane FROM lanes WHERE declaration_id = '{world.plain}'"
    ).fetchall()
    assert lanes == [(1, "red")]
    assert (
        _count(con, f"SELECT count(*) FROM lanes_all WHERE declaration_id = '{world.plain}'") == 2
    )
    got = con.execute(
        f"SELECT version, item_count FROM declarations WHERE declaration_id = '{world.plain}'"
    ).fetchall()
    assert got == [(2, 2)]
    assert (
        _count(con, f"SELECT count(*) FROM declarations_all WHERE declaration_id = '{world.plain}'")
        == 2
    )
    items = con.execute(
        f"SELECT version, item_no FROM goods_items WHERE declaration_id = '{world.plain}' ORDER BY 2"
    ).fetchall()
    assert items == [(2, 1), (2, 2)]
    _agrees_with_database(world)


def test_until_leaves_later_changes_for_the_next_run(world: World) -> None:
    # the declaration moved to the border changed at 08:00 on 10 Dec, crossing time
    early = world.export("declarations", "lanes", until="2026-12-09")
    by = {d.dataset: d for d in early.datasets}
    assert by["declarations"].held_back >= 1
    assert {n: by[n].rows + by[n].held_back for n in by} == {"declarations": 4, "lanes": 4}
    later = world.export("declarations", "lanes")
    assert _rows(later) == {n: by[n].held_back for n in by}
    assert all(d.held_back == 0 for d in later.datasets)
    _agrees_with_database(world, ("declarations", "lanes"))


@pytest.mark.parametrize("fail_at", ["while_moving_files", "before_manifest_commit"])
def test_crash_mid_export_then_rerun(
    world: World, monkeypatch: pytest.MonkeyPatch, fail_at: str
) -> None:
    world.export("declarations")
    world.tick()
    world.amend(world.plain, 1)

    class Crash(RuntimeError):
        pass

    if fail_at == "while_moving_files":
        real, calls = lk.settle_file, []

        def settle(path: Path) -> str:
            calls.append(path)
            if "goods_items" in path.parts:  # declarations' file may go in (read beside it)
                raise Crash
            return real(path)

        monkeypatch.setattr(lk, "settle_file", settle)
    else:
        real_commit = lk.commit_manifest

        def commit(lake: Path, manifest: lk.Manifest, run: str) -> None:
            if manifest.dataset == "goods_items":
                raise Crash
            real_commit(lake, manifest, run)

        monkeypatch.setattr(lk, "commit_manifest", commit)
    with pytest.raises(Crash):
        world.export()
    assert not (world.lake() / lk.STAGING).exists()  # no partial copies of trade data left
    con = world.duck()  # readers see the last committed state only
    assert _count(con, "SELECT count(*) FROM goods_items_all") == 0
    assert (
        _count(con, f"SELECT version FROM declarations WHERE declaration_id = '{world.plain}'") == 2
    )
    monkeypatch.undo()
    report = world.export()
    assert report.rejected_total == 0
    lake = world.lake()
    for name in ALL:  # every file on disk is listed, every listed file is on disk
        listed = {f"{name}/{f}" for f in lk.load_manifest(lake, name).files()}
        assert {p for p in _parquet_files(lake) if p.startswith(name + "/")} == listed
    assert not (lake / lk.STAGING).exists()
    _agrees_with_database(world)


def _agrees_with_database(world: World, names: tuple[str, ...] = ALL) -> None:
    """Latest views hold each record once, as many as the database has, no duplicates."""
    con = world.duck()
    with world.platform.db.session() as s:
        current_items = s.scalar(
            select(func.count())
            .select_from(GoodsItem)
            .join(Declaration, Declaration.id == GoodsItem.declaration_id)
            .where(GoodsItem.version == Declaration.version)
        )
        expected = {
            "declarations": s.scalar(select(func.count()).select_from(Declaration)),
            "goods_items": current_items,
            "lanes": s.scalar(select(func.count()).select_from(RiskAssessment)),
            "inspections": s.scalar(select(func.count()).select_from(InspectionResult)),
            "bookings": s.scalar(select(func.count()).select_from(Booking)),
            "gate_events": s.scalar(select(func.count()).select_from(GateEvent)),
            "queue_day_plans": s.scalar(select(func.count()).select_from(DayPlan)),
        }
        versions = dict(s.execute(select(Declaration.id, Declaration.version)).all())
    got = {n: _count(con, f"SELECT count(*) FROM {n}") for n in names}
    assert got == {n: expected[n] for n in names}
    assert (
        dict(con.execute("SELECT declaration_id, version FROM declarations").fetchall()) == versions
    )
    keys = "declaration_id, version, item_no"
    assert _count(con, f"SELECT count(DISTINCT ({keys})) FROM goods_items_all") == _count(
        con, "SELECT count(*) FROM goods_items_all"
    )


def test_lake_counts_equal_the_database(world: World) -> None:
    world.export()
    _agrees_with_database(world)


def test_unconvertible_rows_are_rejected_by_name_and_the_rest_exported(world: World) -> None:
    with world.platform.db.session() as s:
        s.execute(
            text("UPDATE queue_bookings SET exit_country = 'X' WHERE id = :id"),
            {"id": world.booking},
        )
        if s.get_bind().dialect.name == "sqlite":  # SQLite keeps text in a REAL column
            s.execute(
                text(
                    "UPDATE goods_items SET gross_mass_kg = 'heavy' "
                    "WHERE declaration_id = :d AND item_no = 1"
                ),
                {"d": world.inspected},
            )
    report = world.export()
    named = {(r.dataset, r.key, r.column) for r in report.rejected}
    assert ("bookings", world.booking, "exit_country") in named
    reasons = [r.reason for r in report.rejected if r.dataset == "bookings"]
    assert reasons == ["no owning country: 'X' is not an ISO 3166 code"]
    expected_rejects = 1
    if world.platform.db.engine.dialect.name == "sqlite":
        assert ("goods_items", f"{world.inspected}/1/1", "gross_mass_kg") in named
        expected_rejects = 2
    assert report.rejected_total == expected_rejects
    by = {d.dataset: d for d in report.datasets}
    assert by["bookings"].rows == 0 and by["bookings"].watermark is not None
    assert by["goods_items"].rows == 19 - (expected_rejects - 1)
    kept = lk.load_manifest(world.lake(), "bookings")
    assert kept.rejected_total == 1 and kept.rejected[0]["key"] == world.booking


def test_an_unreadable_change_marker_is_rejected_by_name_and_not_taken_for_the_watermark(
    world: World,
) -> None:
    """SQLite keeps any text in a timestamp column; text that sorts above every timestamp once
    became the watermark and stopped every later export of the dataset with a ValueError."""
    garbage = text("UPDATE declarations SET updated_at = 'garbage' WHERE id = :id")
    if world.platform.db.engine.dialect.name != "sqlite":
        with pytest.raises(DataError), world.platform.db.session() as s:  # refused when written
            s.execute(garbage, {"id": world.plain})
        return
    with world.platform.db.session() as s:
        s.execute(garbage, {"id": world.plain})
    report = world.export("declarations")
    named = {(r.dataset, r.key, r.column) for r in report.rejected}
    assert named == {("declarations", world.plain, "updated_at")}
    [dataset] = report.datasets
    assert dataset.watermark is not None and dataset.rows > 0
    again = world.export("declarations")  # still reported, never a crash
    assert {(r.dataset, r.key) for r in again.rejected} == {("declarations", world.plain)}
    assert again.datasets[0].rows == 0


def test_a_marker_stored_as_a_number_after_the_watermark_is_rejected_not_passed_over(
    world: World,
) -> None:
    """SQLite sorts a number before every text: a row whose change marker was written as one
    after a first export was never read again, so never reported."""
    if world.platform.db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL refuses a number in a timestamp column when it is written")
    first = world.export("declarations")
    assert first.rejected == [] and first.datasets[0].watermark is not None
    with world.platform.db.session() as s:
        s.execute(
            text("UPDATE declarations SET updated_at = 1765000000 WHERE id = :id"),
            {"id": world.plain},
        )
    for _ in range(2):  # reported on every run until the row is mended
        report = world.export("declarations")
        assert [(r.dataset, r.key, r.column) for r in report.rejected] == [
            ("declarations", world.plain, "updated_at")
        ]
        assert "integer" in report.rejected[0].reason
        assert report.datasets[0].rows == 0


def test_a_row_rejected_on_every_run_is_named_once_in_the_manifest(world: World) -> None:
    """A marker SQLite stores as a number is rejected on every run until mended: each run used
    to add one more copy to the manifest's kept rejections (10,000 at most), crowding out
    other rows' names."""
    if world.platform.db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL refuses a number in a timestamp column when it is written")
    world.export("declarations")
    with world.platform.db.session() as s:
        s.execute(
            text("UPDATE declarations SET updated_at = 1765000000 WHERE id = :id"),
            {"id": world.plain},
        )
    for hour in (1, 2):  # another declaration changes too, so each run commits a manifest
        with world.platform.db.session() as s:
            s.execute(
                text("UPDATE declarations SET updated_at = :t WHERE id = :id"),
                {"t": f"2099-01-01 0{hour}:00:00.000000", "id": world.inspected},
            )
        report = world.export("declarations")
        assert report.datasets[0].rows == 1 and report.rejected_total == 1
    kept = lk.load_manifest(world.lake(), "declarations")
    assert [(e["key"], e["column"], e.get("times")) for e in kept.rejected] == [
        (world.plain, "updated_at", 2)
    ]
    assert kept.rejected_total == 2 and kept.rejected[0]["last_run"] == kept.runs[-1]["run"]


def test_cap_change_reaches_the_lake(world: World) -> None:
    """A cap change re-plans the booked day's cap without a new ``planned_at``; the plan is
    exported again (its marker is the latest cap in force on the day)."""
    world.export()
    world.tick()
    world.env.cap("cn-customs", 100)  # below Kazakhstan's 240: binds from now on
    report = world.export()
    assert _rows(report)["queue_day_plans"] == 1
    con = world.duck()
    assert con.execute("SELECT day, daily_cap FROM queue_day_plans").fetchall() == [
        (dt.date(2026, 12, 11), 100)
    ]
    assert _count(con, "SELECT count(*) FROM queue_day_plans_all") == 2
    assert _rows(world.export())["queue_day_plans"] == 0
