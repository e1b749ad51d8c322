"""`silkgate analytics jobs` and `run`: the catalogue, results on stdout and in files, exclusions
on stderr, and bad input named with exit 2 before anything is built, read or written."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner, Result

from silkgate.analytics.jobs import cli as jobs_cli
from silkgate.analytics.jobs.catalogue import JOBS
from silkgate.cli import app
from silkgate.core.platform import Platform
from tests.analytics.jobs.small_lake import COLUMNS, EXPECTED, X, picked, small_lake

PNG = b"\x89PNG\r\n\x1a\n"


def invoke(
    monkeypatch: pytest.MonkeyPatch, platform: Platform | None, lake: Path, *args: str
) -> Result:
    if platform is not None:
        s = platform.settings
        monkeypatch.setenv("SILKGATE_DATABASE_URL", s.database_url)
        monkeypatch.setenv("SILKGATE_DATA_DIR", str(s.data_dir))
    monkeypatch.setenv("SILKGATE_DEMO_MODE", "true")
    monkeypatch.setenv("SILKGATE_ANALYTICS_LAKE_DIR", str(lake))
    monkeypatch.setenv("SILKGATE_ANALYTICS_SPARK_MASTER", "local[2]")
    return CliRunner().invoke(app, ["analytics", *args])


def test_jobs_lists_every_job_with_its_parameters(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    r = invoke(monkeypatch, None, tmp_path, "jobs", "--json")
    assert r.exit_code == 0, r.output
    doc = {j["name"]: j for j in json.loads(r.stdout)}
    assert list(doc) == list(JOBS)
    flows = doc["trade_flows"]
    assert flows["title"] == JOBS["trade_flows"].title
    assert [p["name"] for p in flows["params"]] == [p.name for p in JOBS["trade_flows"].params]
    level = next(p for p in flows["params"] if p["name"] == "level")
    assert (level["default"], level["choices"]) == ("chapter", ["chapter", "heading", "hs6"])


def test_run_prints_the_result_and_names_what_was_left_out(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    lake = small_lake(tmp_path / "lake")
    r = invoke(monkeypatch, platform, lake, "run", "trade_flows", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert picked(doc["rows"]) == EXPECTED
    assert doc["compute_country"] == "CN" and doc["files"] == []
    assert "excluded goods_items KZ KHG-NZH: 1 partition(s), 1 row(s): KZ customs has no " in (
        r.stderr
    )
    table = invoke(monkeypatch, platform, lake, "run", "trade_flows", "-p", "hs=85")
    assert table.exit_code == 0, table.output
    assert "1 row(s) in" in table.stdout  # only chapter 85 (Rich wraps the cells by width)


def test_run_writes_csv_parquet_json_and_charts(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    lake = small_lake(tmp_path / "lake")
    out = tmp_path / "out"
    out.mkdir()
    r = invoke(
        monkeypatch,
        platform,
        lake,
        "run",
        "trade_flows",
        "-p",
        "since=2025-02-01",
        "--out",
        str(out / "flows.csv"),
        "--chart",
        str(out / "flows.png"),
        "--json",
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["files"] == [str(out / "flows.csv"), str(out / "flows.png")]
    with (out / "flows.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == COLUMNS
    assert [(d["hs"], d["month"], d["value"]) for d in rows] == [
        ("84", "2025-02", "200.0"),
        ("85", "2025-02", "30.0"),
    ]
    assert (out / "flows.png").read_bytes().startswith(PNG)
    r = invoke(
        monkeypatch,
        platform,
        lake,
        "run",
        "trade_flows",
        "-o",
        str(out / "f.parquet"),
        "--chart",
        str(out / "f.svg"),
    )
    assert r.exit_code == 0, r.output
    assert picked(pq.read_table(out / "f.parquet").to_pylist()) == EXPECTED
    assert (out / "f.svg").read_bytes().lstrip().startswith(b"<?xml")
    r = invoke(monkeypatch, platform, lake, "run", "trade_flows", "--format", "json")
    assert r.exit_code == 0, r.output
    assert picked(json.loads(r.stdout)["rows"]) == EXPECTED


@pytest.mark.xdist_group("spark")
def test_run_on_spark_gives_the_same_rows(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if platform.db.engine.dialect.name != "sqlite":
        pytest.skip("the engine reads the lake, not the database: one backend is enough")
    lake = small_lake(tmp_path / "lake")
    r = invoke(monkeypatch, platform, lake, "run", "trade_flows", "--engine", "spark", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["engine"] == "spark" and picked(doc["rows"]) == EXPECTED


def _no_platform(*_: Any, **__: Any) -> Any:
    raise AssertionError("the platform was built although the options were bad")


BAD = [
    (["run", "no_such_job"], "JOB", "unknown_job"),
    (["run", "trade_flows", "-p", "colour=red"], "--param colour", "unknown_param"),
    (["run", "trade_flows", "-p", "since=2025-02-30"], "--param since", "bad_date"),
    (
        ["run", "trade_flows", "-p", "since=2025-03-01", "-p", "until=2025-02-01"],
        "--param until",
        "inverted_range",
    ),
    (["run", "trade_flows", "-p", "reporter=XX"], "--param reporter", "unknown_country"),
    (["run", "trade_flows", "-p", "level"], "--param", "not_name_value"),
    (
        ["run", "trade_flows", "--compute-country", "Narnia"],
        "--compute-country",
        "unknown_country",
    ),
    (["run", "trade_flows", "--engine", "oracle"], "--engine", "unknown_engine"),
    (["run", "trade_flows", "--format", "xlsx"], "--format", "unknown_format"),
    (["run", "trade_flows", "--format", "parquet"], "--out", "required"),
    (["run", "trade_flows", "--out", "{d}/flows.txt"], "--out", "unknown_extension"),
    (
        ["run", "trade_flows", "--format", "csv", "--out", "{d}/f.json"],
        "--out",
        "extension_mismatch",
    ),
    (["run", "trade_flows", "--out", "{d}/missing/f.csv"], "--out", "no_directory"),
    (["run", "trade_flows", "--chart", "{d}/flows.jpg"], "--chart", "unknown_extension"),
]


@pytest.mark.parametrize(("args", "option", "code"), BAD)
def test_bad_input_is_named_and_nothing_is_built_or_written(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: list[str], option: str, code: str
) -> None:
    monkeypatch.setattr(jobs_cli, "platform_session", _no_platform)
    out = tmp_path / "out"
    out.mkdir()
    lake = tmp_path / "lake"
    r = invoke(monkeypatch, None, lake, *(a.replace("{d}", str(out)) for a in args), "--json")
    assert r.exit_code == 2, r.output
    (err,) = json.loads(r.stdout)["errors"]
    assert (err["option"], err["code"]) == (option, code)
    assert list(out.iterdir()) == [] and not lake.exists()


def test_every_problem_is_named_at_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(jobs_cli, "platform_session", _no_platform)
    r = invoke(
        monkeypatch,
        None,
        tmp_path,
        "run",
        "trade_flows",
        "-p",
        "hs=9",
        "-p",
        f"crossing={X}",
        "--engine",
        "db2",
        "--chart",
        "x.gif",
        "--json",
    )
    assert r.exit_code == 2
    named = {(e["option"], e["code"]) for e in json.loads(r.stdout)["errors"]}
    assert named == {
        ("--param hs", "unknown_hs"),
        ("--param crossing", "unknown_param"),
        ("--engine", "unknown_engine"),
        ("--chart", "unknown_extension"),
    }
    plain = invoke(monkeypatch, None, tmp_path, "run", "trade_flows", "-p", "level=year")
    assert plain.exit_code == 2 and "--param level" in plain.stderr and "chapter" in plain.stderr
