"""`silkgate analytics verify`: every database row is in the lake, pending, or named as rejected;
a row the export passed over without a word is named missing (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text, update
from typer.testing import CliRunner, Result

from silkgate.analytics import lake as lk
from silkgate.analytics import service
from silkgate.analytics.schemas import VerifyReport
from silkgate.cli import app
from silkgate.core.errors import Conflict, ValidationFailed
from silkgate.core.platform import Platform
from silkgate.declarations.models import Declaration
from tests.analytics.lake_world import World, build


@pytest.fixture
def world(platform: Platform) -> World:
    return build(platform)


def _verify(world: World, *names: str) -> VerifyReport:
    return service.verify(world.platform, list(names) or None)


def _by(report: VerifyReport) -> dict[str, tuple[int, int, int, int, int]]:
    return {
        d.dataset: (d.rows, d.in_lake, d.pending, d.rejected, d.missing) for d in report.datasets
    }


def _cli(world: World, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    platform = world.platform
    monkeypatch.setenv("SILKGATE_DATABASE_URL", platform.settings.database_url)
    monkeypatch.setenv("SILKGATE_DEMO_MODE", "true")
    monkeypatch.setenv("SILKGATE_DATA_DIR", str(platform.settings.data_dir))
    return CliRunner().invoke(app, ["analytics", "verify", *args])


def _set_marker(world: World, decl_id: str, value: object) -> None:
    """Another program's UPDATE of a declaration's change marker (nothing else changes)."""
    with world.platform.db.session() as s:
        if isinstance(value, str | int):  # SQLite keeps any value in a timestamp column
            s.execute(
                text("UPDATE declarations SET updated_at = :v WHERE id = :id"),
                {"v": value, "id": decl_id},
            )
        else:
            s.execute(update(Declaration).where(Declaration.id == decl_id).values(updated_at=value))


def test_after_a_clean_export_every_row_is_in_the_lake(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _verify(world, "declarations", "gate_events")
    assert _by(before) == {"declarations": (4, 0, 4, 0, 0), "gate_events": (4, 0, 4, 0, 0)}
    exported = world.export()
    report = _verify(world)
    assert report.ok and report.missing == 0
    # every row the export wrote, and nothing else (goods items: both versions' items)
    assert {d.dataset: d.rows for d in report.datasets} == {
        d.dataset: d.rows for d in exported.datasets
    }
    assert all(d.rows == d.in_lake for d in report.datasets)
    r = _cli(world, monkeypatch, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["ok"] is True


def test_a_change_after_the_export_is_pending_not_missing(world: World) -> None:
    """Pending until the next export takes it, then in the lake, compacted or not."""
    world.export()
    world.tick()
    world.second_look(world.plain)
    report = _verify(world, "declarations", "goods_items", "lanes")
    assert report.ok
    by = _by(report)
    assert by["declarations"] == (4, 3, 1, 0, 0)
    assert by["goods_items"] == (21, 19, 2, 0, 0)  # version 2's two items
    assert by["lanes"] == (4, 3, 1, 0, 0)  # the overridden assessment
    world.export()
    assert all(d.rows == d.in_lake for d in _verify(world).datasets)
    # compaction rewrites each partition's files as one and keeps every version's row
    assert sum(d.partitions_compacted for d in service.compact(world.lake(), None, 1).datasets)
    again = _verify(world)
    assert again.ok and all(d.rows == d.in_lake for d in again.datasets)


def test_a_change_stamped_below_the_watermark_is_missing_and_named(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clock stepped back (or another program) stamps a change earlier than the watermark:
    the export never reads it and says nothing; verify names it."""
    world.export("declarations")
    with world.platform.db.session() as s:
        was = s.scalar(select(Declaration.updated_at).where(Declaration.id == world.plain))
    assert was is not None
    earlier = was - timedelta(minutes=5)
    _set_marker(world, world.plain, earlier)
    assert world.export("declarations").datasets[0].rows == 0  # passed over, not reported
    report = _verify(world, "declarations")
    assert not report.ok and _by(report) == {"declarations": (4, 3, 0, 0, 1)}
    [row] = report.datasets[0].missing_rows
    assert (row.dataset, row.key) == ("declarations", {"declaration_id": world.plain})
    assert row.marker == (earlier.replace(tzinfo=earlier.tzinfo or UTC)).astimezone(UTC).isoformat()
    assert "at or below the watermark" in row.reason and "in the lake as changed at" in row.reason
    r = _cli(world, monkeypatch, "-d", "declarations")
    assert r.exit_code == 3
    assert world.plain in r.stderr and "1 row(s) missing" in r.stderr


@pytest.mark.parametrize("marker", ["", "05/12/2026"])
def test_a_marker_that_is_no_timestamp_below_the_watermark_is_missing(
    world: World, marker: str
) -> None:
    """SQLite keeps any text in a timestamp column; text sorting before the watermark is never
    read by the export (the gap docs/analytics.md names) — verify names it, with the value."""
    if not world.platform.settings.is_sqlite:
        pytest.skip("PostgreSQL refuses such text in a timestamp column when it is written")
    world.export("declarations")
    _set_marker(world, world.plain, marker)
    assert world.export("declarations").rejected_total == 0  # the export cannot see it
    report = _verify(world, "declarations")
    assert _by(report) == {"declarations": (4, 3, 0, 0, 1)}
    [row] = report.datasets[0].missing_rows
    assert row.key == {"declaration_id": world.plain} and row.marker == marker
    assert row.reason == f"change marker {marker!r} is not a timestamp"


def test_a_number_hiding_behind_a_caps_time_is_missing(world: World) -> None:
    """``queue_day_plans``: the marker is the later of planning and the latest cap, so a number
    in ``planned_at`` (SQLite) leaves the marker a timestamp and the export never reads it."""
    if not world.platform.settings.is_sqlite:
        pytest.skip("PostgreSQL refuses a number in a timestamp column when it is written")
    world.export("queue_day_plans")
    world.tick()
    world.env.cap("cn-customs", 100)  # a cap set after the planning: it is the marker now
    world.export("queue_day_plans")
    with world.platform.db.session() as s:
        s.execute(text("UPDATE queue_day_plans SET planned_at = 1765000000"))
    assert world.export("queue_day_plans").rejected_total == 0
    report = _verify(world, "queue_day_plans")
    assert _by(report) == {"queue_day_plans": (1, 0, 0, 0, 1)}
    [row] = report.datasets[0].missing_rows
    assert row.key["day"] == "2026-12-11"
    assert (
        row.reason
        == "planned_at 1765000000 is not a timestamp[us, tz=UTC] (SQLite stored it as integer)"
    )


def test_a_row_the_export_rejected_counts_as_rejected(world: World) -> None:
    with world.platform.db.session() as s:
        s.execute(
            text("UPDATE queue_bookings SET exit_country = 'X' WHERE id = :id"),
            {"id": world.booking},
        )
    assert world.export("bookings", "declarations").rejected_total == 1
    report = _verify(world, "bookings", "declarations")
    assert report.ok and _by(report) == {
        "bookings": (1, 0, 0, 1, 0),
        "declarations": (4, 4, 0, 0, 0),
    }


def test_a_marker_stored_as_a_number_is_rejected_by_every_export(world: World) -> None:
    """SQLite: the export reads such a row on every rerun and rejects it by name: pending until
    it does, rejected after — never missing."""
    if not world.platform.settings.is_sqlite:
        pytest.skip("PostgreSQL refuses a number in a timestamp column when it is written")
    world.export("declarations")
    _set_marker(world, world.plain, 1765000000)
    assert _by(_verify(world, "declarations")) == {"declarations": (4, 3, 1, 0, 0)}
    # another declaration changes too, so the export commits a manifest naming the rejection
    _set_marker(world, world.inspected, datetime(2099, 1, 1, tzinfo=UTC))
    assert world.export("declarations").rejected_total == 1
    assert _by(_verify(world, "declarations")) == {"declarations": (4, 3, 0, 1, 0)}


def test_an_unknown_dataset_is_named_and_exits_2(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValidationFailed) as err:
        service.verify(world.platform, ["declarations", "trucks"])
    assert [e.field for e in err.value.errors] == ["/datasets/1"]
    r = _cli(world, monkeypatch, "--json", "-d", "declarations", "-d", "trucks")
    assert r.exit_code == 2
    (e,) = json.loads(r.stdout)["errors"]
    assert (e["option"], e["code"]) == ("--dataset", "unknown_dataset")
    assert "'trucks'" in e["message"]


def test_verify_and_an_export_do_not_read_and_write_the_lake_at_once(world: World) -> None:
    """Verify holds the lake's lock, as an export does: one is refused while the other runs
    (a compaction would otherwise sweep files verify had listed)."""
    world.export("declarations")
    lake = world.platform.settings.lake_dir
    with lk.locked(lake), pytest.raises(Conflict) as err:  # an export is running
        _verify(world, "declarations")
    assert "holds the lake" in err.value.detail
    assert _by(_verify(world, "declarations")) == {"declarations": (4, 4, 0, 0, 0)}
