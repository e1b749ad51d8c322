"""``silkgate risk`` commands on the platform's database."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from silkgate.cli import app
from silkgate.risk.platform import model_registry
from silkgate.risk.platform.models import RiskAssessment
from tests.risk.platform_env import Env
from tests.risk.platform_history import SMALL_GRID, inspected_history

runner = CliRunner()
PROFILE = """
description = "Khorgos exports"
[[criteria]]
name = "all"
description = "every consignment"
when = 'hs2 != ""'
lane = "yellow"
"""


@pytest.fixture
def cli(env: Env, monkeypatch: pytest.MonkeyPatch) -> Env:
    settings = env.platform.settings
    monkeypatch.setenv("SILKGATE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SILKGATE_DEMO_MODE", "true")
    monkeypatch.setenv("SILKGATE_DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("SILKGATE_RISK_ARTIFACTS", raising=False)
    return env


def run(*args: object, code: int = 0) -> str:
    result = runner.invoke(app, ["risk", *map(str, args)])
    assert result.exit_code == code, result.output
    return result.output


def test_profile_import_export_list(cli: Env, tmp_path: Path) -> None:
    where = ("--office", "CN-KHORGOS", "--direction", "export")
    builtin = run("profile", "export", *where)
    assert builtin.startswith("# built-in default")
    path = tmp_path / "p.toml"
    path.write_text(PROFILE)
    assert "version 1 stored" in run("profile", "import", path, *where)
    assert "version 2 stored" in run("profile", "import", path, *where)
    exported = tomllib.loads(run("profile", "export", *where))
    assert exported["version"] == 2 and exported["criteria"][0]["name"] == "all"
    assert tomllib.loads(run("profile", "export", *where, "--version", "1"))["version"] == 1
    assert "CN-KHORGOS" in run("profile", "list")
    bad = tmp_path / "bad.toml"
    bad.write_text(PROFILE.replace('hs2 != ""', "hs2 != 7"))
    out = run("profile", "import", bad, *where, code=1)
    assert "/criteria/0/when" in out and "at position" in out
    assert "unknown" not in run("profile", "list", "--office", "CN-KHORGOS").lower()


def test_worker_once_and_inspection_record(cli: Env) -> None:
    decl = cli.lodge("CLI-1")
    assert "1 declarations assessed" in run("worker", "--once")
    customs = cli.ids["cn-customs"]
    out = run(
        "inspection",
        "record",
        decl,
        "--as",
        customs,
        "--outcome",
        "discrepancy",
        "--finding",
        "1:undervaluation:invoice is half the price",
        "--finding",
        "documents:no phytosanitary certificate",
        "--duties",
        "1200.5",
        "--currency",
        "CNY",
    )
    assert "recorded: discrepancy" in out
    shown = json.loads(run("inspection", "show", decl, "--as", customs))
    assert shown["findings"] == [
        {"kind": "undervaluation", "text": "invoice is half the price", "item": 1},
        {"kind": "documents", "text": "no phytosanitary certificate", "item": None},
    ]
    assert shown["additional_duties"] == {"amount": 1200.5, "currency": "CNY"}
    again = run("inspection", "record", decl, "--as", customs, "--outcome", "x", code=1)
    assert "/outcome" in again
    broker = run(
        "inspection", "record", decl, "--as", cli.ids["cn-broker"], "--outcome",
        "no_discrepancy", code=1,
    )  # fmt: skip
    assert "not found" in broker.lower()


def test_models_activate_and_train_from_platform(cli: Env) -> None:
    assert "no models yet" in run("models")
    out = run("train", "--from-platform", "--office", "CN-KHORGOS", code=1)
    assert "needs both outcomes" in out and "0 inspected" in out
    inspected_history(cli, n=60)
    meta, _ = model_registry.train_from_platform(
        cli.platform, "test", "CN-KHORGOS", grid=SMALL_GRID
    )
    listed = json.loads(run("models", "--json"))
    assert [(m["model_id"], m["registered"], m["active_for"]) for m in listed] == [
        (meta.model_id, True, [])
    ]
    assert "is active at CN-KHORGOS" in run("activate", meta.model_id, "--office", "CN-KHORGOS")
    assert json.loads(run("models", "--json"))[0]["active_for"] == ["CN-KHORGOS"]
    assert "CN-KHORGOS" in run("models")
    assert "no longer active" in run("deactivate", "--office", "CN-KHORGOS")
    assert "not found" in run("activate", "nope", "--office", "CN-KHORGOS", code=1).lower()


def test_verify_finds_a_rewritten_assessment(cli: Env, tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(PROFILE)
    run("profile", "import", path, "--office", "CN-KHORGOS", "--direction", "export")
    decl = cli.lodge("V-1")
    run("worker", "--once")
    run(
        "inspection", "record", decl, "--as", cli.ids["cn-customs"], "--outcome",
        "no_discrepancy",
    )  # fmt: skip
    assert "1 assessments, 1 inspections, 1 profiles match" in run("verify")
    with cli.platform.db.session() as s:
        s.execute(update(RiskAssessment).values(lane="green"))
    out = run("verify", code=1)
    assert f"assessment of declaration {decl} version 1" in out
