"""`declarations import` applies the API's rules: control characters, repeated keys and text in
number columns are rows in the report naming the field; the good rows are stored."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from silkgate.cli import app
from silkgate.core.platform import Platform
from silkgate.declarations import flatfile
from tests.factories import export_cn_to_kz, seeded

runner = CliRunner()


@pytest.fixture
def cli_env(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> Platform:
    monkeypatch.setenv("SILKGATE_DATABASE_URL", platform.settings.database_url)
    monkeypatch.setenv("SILKGATE_DEMO_MODE", "true")
    monkeypatch.setenv("SILKGATE_DATA_DIR", str(platform.settings.data_dir))
    return platform


def _import(platform: Platform, path: Path, tmp_path: Path) -> list[dict[str, object]]:
    ids = seeded(platform)
    report = tmp_path / "report.jsonl"
    r = runner.invoke(
        app,
        ["declarations", "import", str(path), "--as", ids["cn-broker"], "--report", str(report)],
    )
    assert r.exit_code == 1, r.output
    return [json.loads(line) for line in report.read_text().splitlines()]


def _errors(row: dict[str, object]) -> set[tuple[object, object]]:
    return {(e.get("field"), e["code"]) for e in row["errors"]}  # type: ignore[attr-defined,union-attr]


def test_jsonl_rows_follow_the_api_rules(cli_env: Platform, tmp_path: Path) -> None:
    nul = export_cn_to_kz("J-2")
    nul["exporter"]["name"] = "Tianshan\x00Trading"
    text_number = export_cn_to_kz("J-3")
    text_number["totals"]["packages"] = str(text_number["totals"]["packages"])
    repeated = json.dumps(export_cn_to_kz("J-4")).replace(
        '"lrn": "J-4"', '"lrn": "J-4", "lrn": "J-5"'
    )
    lines = [
        json.dumps(export_cn_to_kz("J-1")),
        json.dumps(nul),
        json.dumps(text_number),
        repeated,
        json.dumps(export_cn_to_kz("J-6")),
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines))
    rows = _import(cli_env, path, tmp_path)
    assert [r["outcome"] for r in rows] == [
        "accepted",
        "rejected",
        "rejected",
        "rejected",
        "accepted",
    ]
    assert _errors(rows[1]) == {("/exporter/name", "control_character")}
    assert _errors(rows[2]) == {("/totals/packages", "int_type")}
    assert _errors(rows[3]) == {("/lrn", "duplicate_key")}


def test_csv_cells_follow_the_api_rules(cli_env: Platform, tmp_path: Path) -> None:
    bodies = [export_cn_to_kz(f"C-{i}") for i in range(4)]
    rows = list(flatfile.to_rows(bodies))
    columns: dict[str, None] = {}
    for r in rows:
        columns.update(dict.fromkeys(r))
    by_lrn = {lrn: [r for r in rows if r["lrn"] == lrn] for lrn in ("C-1", "C-2", "C-3")}
    by_lrn["C-1"][0]["importer.name"] = "Dala\x07Trade"
    by_lrn["C-2"][0]["item.gross_mass_kg"] = "heavy"
    by_lrn["C-3"][0]["item.description"] = "two\nlines"  # free text may break lines
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns))
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / "in.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    report = _import(cli_env, path, tmp_path)
    assert [r["lrn"] for r in report] == ["C-0", "C-1", "C-2", "C-3"]
    assert [r["outcome"] for r in report] == ["accepted", "rejected", "rejected", "accepted"]
    assert _errors(report[1]) == {("/importer/name", "control_character")}
    assert _errors(report[2]) == {("/goods_items/0/gross_mass_kg", "float_type")}


def test_csv_number_columns_become_numbers() -> None:
    fields = flatfile.number_fields()
    assert fields["item.gross_mass_kg"] == "number"
    assert fields["item.packages.count"] == "integer"
    assert fields["totals.packages"] == "integer"
    assert "item.hs_code" not in fields and "lrn" not in fields
