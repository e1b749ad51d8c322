"""`silkgate declarations import` never dies with a traceback: every unreadable or refused row
is a row of the report, the good rows are stored, and the report is written even when the
import is interrupted."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from silkgate.cli import app
from silkgate.core.platform import Platform
from silkgate.declarations import cli as declarations_cli
from silkgate.declarations import flatfile, reading
from tests.declarations.faults import POISON, poison_lodging
from tests.factories import export_cn_to_kz, seeded

runner = CliRunner()


@pytest.fixture
def cli_env(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("SILKGATE_DATABASE_URL", platform.settings.database_url)
    monkeypatch.setenv("SILKGATE_DEMO_MODE", "true")
    monkeypatch.setenv("SILKGATE_DATA_DIR", str(platform.settings.data_dir))
    return seeded(platform)


def _import(ids: dict[str, str], path: Path, report: Path) -> Any:
    return runner.invoke(
        app,
        ["declarations", "import", str(path), "--as", ids["cn-broker"], "--report", str(report)],
    )


def _rows(report: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()]


def _stored_lrns(platform: Platform, ids: dict[str, str]) -> set[str]:
    return {d["lrn"] for d in reading.export_all(platform, ids["cn-broker"])}


def test_jsonl_bad_encoding_deep_nesting_and_db_error_are_rows_of_the_report(
    platform: Platform, cli_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    poison_lodging(monkeypatch)
    lines = [
        json.dumps(export_cn_to_kz("J-1")).encode(),
        b'{"lrn": "J-2", "exporter": {"name": "caf\xe9"}}',
        b"[" * 100_000 + b"]" * 100_000,
        json.dumps(export_cn_to_kz(f"{POISON}-4")).encode(),
        json.dumps(export_cn_to_kz("J-5")).encode(),
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = tmp_path / "report.jsonl"
    r = _import(cli_env, path, report)
    assert r.exit_code == 1, r.output
    assert not isinstance(r.exception, BaseException) or isinstance(r.exception, SystemExit)
    rows = sorted(_rows(report), key=lambda x: x["row"])
    assert [(x["row"], x["outcome"]) for x in rows] == [
        (1, "accepted"),
        (2, "rejected"),
        (3, "rejected"),
        (4, "rejected"),
        (5, "accepted"),
    ]
    encoding = rows[1]["errors"][0]
    assert encoding["code"] == "encoding" and "mixed.jsonl line 2" in encoding["message"]
    assert rows[2]["errors"][0]["code"] == "too_deep"
    assert rows[3]["errors"]  # the database's refusal, reported against the row
    assert "3 rejected" in r.output
    assert _stored_lrns(platform, cli_env) == {"J-1", "J-5"}


def test_csv_row_with_bad_encoding_rejects_its_declaration_only(
    platform: Platform, cli_env: dict[str, str], tmp_path: Path
) -> None:
    bodies = [export_cn_to_kz(f"C-{i}") for i in range(3)]
    rows = list(flatfile.to_rows(bodies))
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    text_lines = buf.getvalue().encode("utf-8").split(b"\n")
    first_of_c1 = 2 + len(bodies[0]["goods_items"])  # header is line 1
    bad_line = first_of_c1 + len(bodies[1]["goods_items"]) - 1  # the last item row of C-1
    described = bodies[1]["goods_items"][-1]["description"].encode()
    assert described in text_lines[bad_line - 1]
    text_lines[bad_line - 1] = text_lines[bad_line - 1].replace(described, described + b"\xff")
    path = tmp_path / "mixed.csv"
    path.write_bytes(b"\xef\xbb\xbf" + b"\n".join(text_lines))
    report = tmp_path / "report.jsonl"
    r = _import(cli_env, path, report)
    assert r.exit_code == 1, r.output
    out = _rows(report)
    rejected = [x for x in out if x["outcome"] == "rejected"]
    assert len(rejected) == 1 and rejected[0]["row"] == first_of_c1
    assert f"mixed.csv line {bad_line}" in rejected[0]["errors"][0]["message"]
    assert _stored_lrns(platform, cli_env) == {"C-0", "C-2"}


def test_interrupted_import_keeps_the_report_of_what_was_done(
    platform: Platform, cli_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(export_cn_to_kz(f"I-{i}")) for i in range(4)))
    real = declarations_cli.service.create_batch
    calls = 0

    def interrupted_on_third(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(declarations_cli, "CHUNK", 1)
    monkeypatch.setattr(declarations_cli.service, "create_batch", interrupted_on_third)
    report = tmp_path / "report.jsonl"
    r = _import(cli_env, path, report)
    assert r.exit_code == 130, r.output
    assert [(x["row"], x["outcome"]) for x in _rows(report)] == [(1, "accepted"), (2, "accepted")]
    assert "2 of 4 rows not attempted" in r.output


def test_unexpected_error_in_one_chunk_is_reported_and_the_import_goes_on(
    platform: Platform, cli_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(export_cn_to_kz(f"U-{i}")) for i in range(3)))
    real = declarations_cli.service.create_batch

    def fails_on_second(platform_: Platform, caller: Any, lines: list[Any]) -> Any:
        if lines[0]["lrn"] == "U-1":
            raise RuntimeError("injected failure")
        return real(platform_, caller, lines)

    monkeypatch.setattr(declarations_cli, "CHUNK", 1)
    monkeypatch.setattr(declarations_cli.service, "create_batch", fails_on_second)
    report = tmp_path / "report.jsonl"
    r = _import(cli_env, path, report)
    assert r.exit_code == 1, r.output
    rows = _rows(report)
    assert [(x["row"], x["outcome"]) for x in rows] == [
        (1, "accepted"),
        (2, "rejected"),
        (3, "accepted"),
    ]
    assert "injected failure" in rows[1]["errors"][0]["message"]
