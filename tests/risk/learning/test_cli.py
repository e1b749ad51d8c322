"""The ``silkgate risk`` commands end to end on small files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from silkgate.risk.cli import app
from silkgate.risk.learning.synthetic import synthetic_declarations, to_source_csv

# the module's files and models are made once, on one worker
pytestmark = pytest.mark.xdist_group("risk_cli")
runner = CliRunner()

MAPPING = """
name = "renamed"
date_format = "%d.%m.%Y"
[columns]
declaration_id = "ID"
date = "Day"
importer = "Consignee"
hs_code = "Commodity"
origin = "Origin"
net_mass = "Net kg"
value = "Invoice"
[label]
column = "Outcome"
positive = ["discrepancy"]
negative = ["none"]
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    frame = synthetic_declarations(3000, days=100, seed=3)
    cut = frame["date"].min() + pd.Timedelta(days=75)
    to_source_csv(frame[frame["date"] < cut], str(folder / "train.csv"))
    to_source_csv(frame[frame["date"] >= cut], str(folder / "valid.csv"))
    renamed = frame.rename(
        columns={
            "declaration_id": "ID",
            "importer": "Consignee",
            "hs_code": "Commodity",
            "origin": "Origin",
            "net_mass": "Net kg",
            "value": "Invoice",
        }
    )
    renamed["Day"] = renamed["date"].dt.strftime("%d.%m.%Y")
    renamed["Outcome"] = renamed["label"].map({1.0: "discrepancy", 0.0: "none"})
    renamed.drop(columns=["date", "label"]).to_parquet(folder / "renamed.parquet")
    (folder / "renamed.toml").write_text(MAPPING)
    return folder


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def test_train_models_evaluate_backtest(files, tmp_path):
    arts = tmp_path / "models"
    out = invoke(
        "train",
        "--data",
        files / "train.csv",
        "--valid",
        files / "valid.csv",
        "--artifacts",
        arts,
        "--json",
    )
    meta = json.loads(out)
    assert meta["validation_report"]["rows"] > 0 and len(meta["search"]) == 8
    listed = json.loads(invoke("models", "--artifacts", arts, "--json"))
    assert listed[0]["model_id"] == meta["model_id"]
    assert meta["model_id"] in invoke("models", "--artifacts", arts)
    report = json.loads(
        invoke(
            "evaluate",
            "--model",
            meta["model_id"],
            "--data",
            files / "valid.csv",
            "--artifacts",
            arts,
            "--json",
        )
    )
    assert [a["n"] for a in report["at"]] == [1, 2, 5, 10]
    assert report["auc"] == pytest.approx(meta["validation_report"]["auc"])
    assert "precision" in invoke(
        "evaluate",
        "--model",
        "latest",
        "--data",
        files / "valid.csv",
        "--artifacts",
        arts,
        "--history",
        "online",
    )
    weeks = json.loads(
        invoke(
            "backtest",
            "--data",
            files / "train.csv",
            "--max-weeks",
            "3",
            "--exploration",
            "0.1",
            "--json",
        )
    )
    assert len(weeks) == 1 and len(weeks[0]["weeks"]) == 3


def test_train_through_a_mapping_on_parquet(files, tmp_path):
    out = invoke(
        "train",
        "--data",
        files / "renamed.parquet",
        "--mapping",
        files / "renamed.toml",
        "--artifacts",
        tmp_path,
        "--json",
    )
    meta = json.loads(out)
    assert meta["mapping"] == "renamed"
    assert meta["training"]["positives"] > 0
    assert any("refitted" in n for n in meta["notes"])


def test_profile_commands(tmp_path, files):
    example = resources.files("silkgate.risk").joinpath("examples").joinpath("kcs-import.toml")
    path = tmp_path / "profile.toml"
    path.write_text(example.read_text(encoding="utf-8"))
    assert "3 criteria" in invoke("profile", "validate", path)
    exported = invoke("profile", "export", path)
    assert exported.startswith("# Silkgate selectivity profile")
    bad = tmp_path / "bad.toml"
    bad.write_text(path.read_text().replace('origin = "US"', "origin = 7"))
    result = runner.invoke(app, ["profile", "validate", str(bad)])
    assert result.exit_code == 1
    assert "criterion 'apples-us': cannot compare text with a number at position" in result.output
    banded = tmp_path / "banded.toml"
    simple = tmp_path / "simple.toml"
    simple.write_text('office = "X"\n[value_controls]\nmin_count = 10\n')
    invoke("profile", "bands", simple, "--data", files / "train.csv", "--out", banded)
    assert "[[value_controls.bands]]" in banded.read_text()
    lanes = tmp_path / "lanes.csv"
    out = invoke("assess", "--profile", banded, "--data", files / "valid.csv", "--out", lanes)
    assert "yellow" in out and lanes.read_text().startswith("declaration_id,lane")


def test_errors_are_reported_not_raised(tmp_path):
    result = runner.invoke(
        app,
        [
            "evaluate",
            "--model",
            "nope",
            "--data",
            str(tmp_path / "x.csv"),
            "--artifacts",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 1 and "no model" in result.output
    result = runner.invoke(
        app, ["train", "--data", str(tmp_path / "missing.csv"), "--mapping", "kcs"]
    )
    assert result.exit_code == 1 and "no data file" in result.output


def test_importing_the_package_and_cli_stays_light():
    code = (
        "import sys, silkgate.risk, silkgate.risk.cli; "
        "print(sorted(m for m in ('lightgbm', 'pandas', 'sklearn') if m in sys.modules))"
    )
    src = str(Path(__file__).resolve().parents[3] / "src")
    env = {**os.environ, "PYTHONPATH": src}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
