"""`silkgate queue …`: caps, book, list, reschedule, cancel and sweep from the console."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from silkgate.cli import app
from silkgate.core.platform import Platform
from tests.queue.env import Env, seeded

runner = CliRunner()


@pytest.fixture
def cli_env(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> Env:
    monkeypatch.setenv("SILKGATE_DATABASE_URL", platform.settings.database_url)
    monkeypatch.setenv("SILKGATE_DEMO_MODE", "true")
    monkeypatch.setenv("SILKGATE_DATA_DIR", str(platform.settings.data_dir))
    monkeypatch.setenv("COLUMNS", "250")  # the list table on one line per booking
    return Env(platform, seeded(platform))


def test_queue_commands(cli_env: Env, tmp_path: Path) -> None:
    ids = cli_env.ids
    today = (datetime.now(UTC) + timedelta(hours=8)).date()
    for side in ("cn-customs", "kz-customs"):
        r = runner.invoke(
            app,
            [
                "queue",
                "caps",
                "set",
                "--as",
                ids[side],
                "--crossing",
                "KHG-NZH",
                "--direction",
                "CN-KZ",
                "--from",
                today.isoformat(),
                "--cap",
                "240",
                "--quota",
                "perishables=0.1",
            ],
        )
        assert r.exit_code == 0, r.output
    bad = runner.invoke(
        app,
        [
            "queue",
            "caps",
            "set",
            "--as",
            ids["cn-customs"],
            "--crossing",
            "KHG-NZH",
            "--direction",
            "CN-KZ",
            "--from",
            today.isoformat(),
            "--cap",
            "-1",
        ],
    )
    assert bad.exit_code == 1 and "/daily_cap" in bad.output
    assert "KHG-NZH" in runner.invoke(app, ["queue", "caps", "list"]).output
    day = today + timedelta(days=2)
    body = cli_env.booking_body(hour=10, day=day)
    f = tmp_path / "booking.json"
    f.write_text(json.dumps(body, ensure_ascii=False))
    r = runner.invoke(app, ["queue", "book", str(f), "--as", ids["cn-broker"]])
    assert r.exit_code == 0, r.output
    booking_id = r.output.split()[1].rstrip(":")
    again = runner.invoke(app, ["queue", "book", str(f), "--as", ids["cn-broker"]])
    assert again.exit_code == 1 and "already_booked" in again.output
    r = runner.invoke(
        app,
        [
            "queue",
            "reschedule",
            booking_id,
            "--as",
            ids["cn-broker"],
            "--day",
            day.isoformat(),
            "--hour",
            "11",
        ],
    )
    assert r.exit_code == 0 and "reschedules 1" in r.output
    listed = runner.invoke(app, ["queue", "list", "--as", ids["cn-customs"]]).output
    assert body["truck"]["tractor_plate"] in listed  # the table may wrap the id
    r = runner.invoke(
        app, ["queue", "cancel", booking_id, "--as", ids["cn-broker"], "--reason", "no load"]
    )
    assert r.exit_code == 0 and "cancelled" in r.output
    r = runner.invoke(app, ["queue", "sweep"])
    assert r.exit_code == 0 and "0 no-show(s)" in r.output
