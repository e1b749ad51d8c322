"""`silkgate analytics export`: the JSON report, exit codes, bad options named."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from typer.testing import CliRunner, Result

from silkgate.cli import app
from silkgate.core.platform import Platform
from tests.analytics.lake_world import World, build


def _run(platform: Platform, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    monkeypatch.setenv("SILKGATE_DATABASE_URL", platform.settings.database_url)
    monkeypatch.setenv("SILKGATE_DEMO_MODE", "true")
    monkeypatch.setenv("SILKGATE_DATA_DIR", str(platform.settings.data_dir))
    monkeypatch.setenv("SILKGATE_ANALYTICS_SETTLE_SECONDS", "0")
    return CliRunner().invoke(app, ["analytics", "export", *args])


@pytest.fixture
def world(platform: Platform) -> World:
    return build(platform)


def test_export_reports_rows_per_dataset_as_json(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = _run(world.platform, monkeypatch, "--json", "-d", "gate_events", "-d", "bookings")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert [(d["dataset"], d["rows"]) for d in doc["datasets"]] == [
        ("bookings", 1),
        ("gate_events", 4),
    ]
    assert doc["rows"] == 5 and doc["rejected_total"] == 0 and doc["rows_per_second"] > 0
    again = json.loads(_run(world.platform, monkeypatch, "--json").stdout)
    assert {d["dataset"]: d["rows"] for d in again["datasets"]}["gate_events"] == 0


def test_rejected_rows_exit_3_and_are_named(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    with world.platform.db.session() as s:
        s.execute(
            text("UPDATE queue_bookings SET exit_country = '' WHERE id = :id"),
            {"id": world.booking},
        )
    r = _run(world.platform, monkeypatch, "--json", "-d", "bookings")
    assert r.exit_code == 3
    doc = json.loads(r.stdout)
    assert doc["rejected"] == [
        {
            "dataset": "bookings",
            "key": world.booking,
            "column": "exit_country",
            "reason": "no owning country: '' is not an ISO 3166 code",
        }
    ]


@pytest.mark.parametrize(
    ("args", "option", "code"),
    [
        (["-d", "declarations", "-d", "trucks"], "--dataset", "unknown_dataset"),
        (["--until", "2026-13-01"], "--until", "bad_date"),
        (["--until", "yesterday"], "--until", "bad_date"),
        (["--until", "9999-12-31"], "--until", "out_of_range"),  # its end overflowed (a traceback)
        (["--settle", "-5"], "--settle", "negative"),
        (["--settle", "inf"], "--settle", "out_of_range"),  # its horizon overflowed
        (["--settle", "1e11"], "--settle", "out_of_range"),
    ],
)
def test_bad_options_are_named(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, args: list[str], option: str, code: str
) -> None:
    r = _run(platform, monkeypatch, "--json", *args)
    assert r.exit_code == 2
    (err,) = json.loads(r.stdout)["errors"]
    assert (err["option"], err["code"]) == (option, code)
    assert not platform.settings.lake_dir.exists()  # nothing written
