"""`silkgate analytics generate`: the JSON report, the default lake, bad options named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from silkgate.analytics import lake
from silkgate.analytics.generator import generate
from silkgate.analytics.generator_lake import targets
from silkgate.cli import app


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    monkeypatch.setenv("SILKGATE_DEMO_MODE", "true")
    monkeypatch.setenv("SILKGATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SILKGATE_ANALYTICS_LAKE_DIR", raising=False)
    return CliRunner().invoke(app, ["analytics", "generate", *args])


def _manifests(folder: Path) -> dict[str, bytes]:
    return {n: (folder / n / lake.MANIFEST).read_bytes() for n in targets()}


def test_generates_into_the_settings_lake_and_reports_as_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = _run(tmp_path, monkeypatch, "--goods-items", "400", "--year", "2026", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    folder = tmp_path / "data" / "lake"  # <data_dir>/lake, the settings' default
    assert doc["lake"] == str(folder) and doc["year"] == 2026 and doc["seed"] == 7
    by_name = {d["dataset"]: d for d in doc["datasets"]}
    assert set(by_name) == set(targets())
    assert by_name["goods_items"]["rows"] == 400
    for name, d in by_name.items():
        assert lake.load_manifest(folder, name).runs[0]["rows"] == d["rows"]
        assert d["files"] == len(lake.load_manifest(folder, name).files()) > 0
    assert doc["rows"] == sum(d["rows"] for d in doc["datasets"])
    assert doc["seconds"] > 0 and doc["peak_rss_mb"] > 0


@pytest.mark.parametrize(
    ("args", "option", "code"),
    [
        (["--goods-items", "0"], "--goods-items", "not_positive"),
        (["--goods-items", "-5"], "--goods-items", "not_positive"),
        (["--goods-items", "2000000000"], "--goods-items", "too_large"),
        (["--year", "2017"], "--year", "out_of_range"),
        (["--year", "2036"], "--year", "out_of_range"),
        (["--seed", "-1"], "--seed", "out_of_range"),
    ],
)
def test_bad_options_are_named_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], option: str, code: str
) -> None:
    r = _run(tmp_path, monkeypatch, "--lake", str(tmp_path / "lake"), "--json", *args)
    assert r.exit_code == 2, r.output
    (err,) = json.loads(r.stdout)["errors"]
    assert (err["option"], err["code"]) == (option, code)
    assert args[1] in err["message"]
    assert not (tmp_path / "lake").exists()


def test_every_bad_option_is_named_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    r = _run(tmp_path, monkeypatch, "--json", "--goods-items", "0", "--year", "1999")
    assert r.exit_code == 2
    assert [e["option"] for e in json.loads(r.stdout)["errors"]] == ["--goods-items", "--year"]
    assert not (tmp_path / "data").exists()


def test_a_lake_with_manifests_needs_replace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "lake"
    generate(folder, 300, 2025, seed=1)
    before = _manifests(folder)
    r = _run(tmp_path, monkeypatch, "--lake", str(folder), "--goods-items", "500", "--json")
    assert r.exit_code == 2
    (err,) = json.loads(r.stdout)["errors"]
    assert (err["option"], err["code"]) == ("--lake", "lake_not_empty")
    assert "--replace" in err["message"] and "declarations" in err["message"]
    assert _manifests(folder) == before  # untouched

    r = _run(tmp_path, monkeypatch, "--lake", str(folder), "--goods-items", "500", "--replace",
             "--quiet")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "goods_items" in r.stdout  # the table
    manifest = lake.load_manifest(folder, "goods_items")
    assert sum(p["rows"] for p in manifest.partitions.values()) == 500
    assert [run["run"] for run in manifest.runs] == ["gen2025-seed7-500"]
    on_disk = {p.relative_to(folder / "goods_items").as_posix()
               for p in (folder / "goods_items").rglob("*.parquet")}  # fmt: skip
    assert on_disk == manifest.files()  # the old run's files are gone


def test_a_lake_path_that_is_a_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "lake").write_text("not a lake")
    r = _run(tmp_path, monkeypatch, "--lake", str(tmp_path / "lake"), "--json")
    assert r.exit_code == 2
    assert json.loads(r.stdout)["errors"][0]["code"] == "not_a_directory"
