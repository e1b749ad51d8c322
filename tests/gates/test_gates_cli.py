"""`silkgate gates ingest|export|timeline` and `silkgate kpi trs|throughput|queue-length`."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from silkgate.cli import app
from silkgate.core.platform import Platform
from tests.gates.helpers import World, event

runner = CliRunner()


@pytest.fixture
def world(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv("SILKGATE_DATABASE_URL", platform.settings.database_url)
    monkeypatch.setenv("SILKGATE_DEMO_MODE", "true")
    monkeypatch.setenv("SILKGATE_DATA_DIR", str(platform.settings.data_dir))
    return World(platform)


def test_ingest_export_and_kpi_commands(world: World, tmp_path: Path) -> None:
    cn = world.ids["cn-customs"]
    lines = [
        json.dumps(world.signed("cn-customs", event(p, m, decl=world.decl)))
        for p, m in (("waiting_area", 0), ("gate_in", 30), ("document_control_start", 40),
                     ("document_control_end", 70), ("exit_gate", 80))
    ]  # fmt: skip
    f = tmp_path / "events.jsonl"
    f.write_text("\n".join([*lines, "{broken"]) + "\n")
    r = runner.invoke(app, ["gates", "ingest", str(f), "--as", cn])
    assert r.exit_code == 1  # one line refused, the others stored
    report = json.loads(r.stdout)
    assert (report["stored"], report["rejected"]) == (5, 1)
    assert report["lines"][-1]["errors"][0]["code"] == "malformed_json"
    out = tmp_path / "cal.csv"
    r = runner.invoke(app, ["gates", "export", "--for-calibration", "-o", str(out)])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(out.open()))
    assert [(x["stage"], x["truck"]) for x in rows] == [("cn.exit.documents", "KZ:123ABC02#0")]
    r = runner.invoke(app, ["kpi", "trs", "--as", cn, "--format", "csv"])
    assert r.exit_code == 0, r.output
    table = list(csv.DictReader(io.StringIO(r.stdout)))
    queue = next(x for x in table if x["group"] == "all" and x["interval"] == "queue")
    assert (queue["n"], queue["mean_h"]) == ("1", "0.5")
    r = runner.invoke(app, ["kpi", "queue-length", "--as", cn])
    assert json.loads(r.stdout)[0]["waiting"] == 1
    r = runner.invoke(app, ["gates", "timeline", "--as", cn, "--truck", "KZ:123ABC02"])
    kinds = [e["kind"] for e in json.loads(r.stdout)["entries"]]
    assert kinds.count("gate_event") == 5 and "declaration" in kinds  # its declaration's states
    r = runner.invoke(app, ["kpi", "trs", "--as", world.ids["kz-carrier"]])
    assert r.exit_code == 1
