"""The `silkgate` command: organizations, keys, bulk import/export with per-row reports."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from silkgate.cli import app
from silkgate.core.platform import Platform
from silkgate.declarations import flatfile
from silkgate.registry import service as registry
from tests.factories import export_cn_to_kz, seeded

runner = CliRunner()


@pytest.fixture
def cli_env(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> Platform:
    monkeypatch.setenv("SILKGATE_DATABASE_URL", platform.settings.database_url)
    monkeypatch.setenv("SILKGATE_DEMO_MODE", "true")
    monkeypatch.setenv("SILKGATE_DATA_DIR", str(platform.settings.data_dir))
    return platform


def test_org_and_key_lifecycle(cli_env: Platform) -> None:
    r = runner.invoke(
        app,
        [
            "org",
            "create",
            "KZ/COM/123456789013",
            "--name",
            "Steppe Brokers LLP",
            "--role",
            "broker",
        ],
    )
    assert r.exit_code == 0, r.output
    bad = runner.invoke(
        app, ["org", "create", "KZ/COM/123456789014", "--name", "X", "--role", "broker"]
    )
    assert bad.exit_code == 1 and "/member_id" in bad.output
    created = runner.invoke(app, ["key", "create", "KZ/COM/123456789013", "--label", "erp"])
    assert created.exit_code == 0
    token = created.output.strip().splitlines()[-1]
    assert registry.authenticate(cli_env, token) is not None
    prefix = token.split("_")[1]
    assert prefix in runner.invoke(app, ["key", "list", "KZ/COM/123456789013"]).output
    assert runner.invoke(app, ["key", "revoke", prefix]).exit_code == 0
    registry._AUTH_CACHE.clear()
    assert registry.authenticate(cli_env, token) is None


def test_import_jsonl_reports_each_row(cli_env: Platform, tmp_path: Path) -> None:
    ids = seeded(cli_env)
    bad = export_cn_to_kz("IMP-2")
    bad["invoice"]["currency"] = "ZZZ"
    path = tmp_path / "in.jsonl"
    path.write_text(
        "\n".join(json.dumps(d) for d in (export_cn_to_kz("IMP-1"), bad, export_cn_to_kz("IMP-3")))
    )
    report = tmp_path / "report.jsonl"
    r = runner.invoke(
        app,
        ["declarations", "import", str(path), "--as", ids["cn-broker"], "--report", str(report)],
    )
    assert r.exit_code == 1, r.output  # some rows were rejected
    assert "2 accepted, 1 rejected" in r.output
    rows = [json.loads(line) for line in report.read_text().splitlines()]
    assert [(x["row"], x["outcome"]) for x in rows] == [
        (1, "accepted"),
        (2, "rejected"),
        (3, "accepted"),
    ]
    assert rows[1]["errors"][0]["field"] == "/invoice/currency"


def test_csv_export_then_import_round_trip(cli_env: Platform, tmp_path: Path) -> None:
    ids = seeded(cli_env)
    src = tmp_path / "src.jsonl"
    src.write_text("\n".join(json.dumps(export_cn_to_kz(f"CSV-{i}")) for i in range(3)))
    assert (
        runner.invoke(app, ["declarations", "import", str(src), "--as", ids["cn-broker"]]).exit_code
        == 0
    )
    out = tmp_path / "out.csv"
    r = runner.invoke(
        app,
        [
            "declarations",
            "export",
            "--format",
            "csv",
            "-o",
            str(out),
            "--declarant",
            ids["cn-broker"],
        ],
    )
    assert r.exit_code == 0, r.output
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:  # lodge the same goods again under new LRNs, as another declarant
        row["lrn"] = "RE-" + row["lrn"]
    with out.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    r = runner.invoke(app, ["declarations", "import", str(out), "--as", ids["kz-service"]])
    assert r.exit_code == 0, r.output
    assert "3 accepted, 0 rejected" in r.output


def test_csv_reader_groups_items_by_lrn() -> None:
    body = export_cn_to_kz("G-1")
    rows = list(flatfile.to_rows([body]))
    assert len(rows) == len(body["goods_items"])
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    buf.seek(0)
    (first_row, parsed), *_ = list(flatfile.read_csv(buf))
    assert first_row == 2
    assert [i["hs_code"] for i in parsed["goods_items"]] == [
        i["hs_code"] for i in body["goods_items"]
    ]
    assert parsed["crossing"] == {k: str(v) for k, v in body["crossing"].items()}


def test_settings_errors_are_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SILKGATE_DEMO_MODE", "false")
    monkeypatch.delenv("SILKGATE_API_KEY_PEPPER", raising=False)
    r = runner.invoke(app, ["org", "list"])
    assert r.exit_code == 2 and "demo" in r.output


def test_org_keygen_registers_public_key_only(cli_env: Platform, tmp_path: Path) -> None:
    from silkgate.core.signing import load_private_key, public_key_b64

    ids = seeded(cli_env)
    target = tmp_path / "broker.key"
    r = runner.invoke(app, ["org", "keygen", ids["cn-broker"], "--private-key-file", str(target)])
    assert r.exit_code == 0, r.output
    assert target.stat().st_mode & 0o077 == 0
    public = public_key_b64(load_private_key(target.read_text().strip()))
    (org, _), *_ = [
        (o, c) for o, c in registry.list_organizations(cli_env) if o.member_id == ids["cn-broker"]
    ]
    assert org.signing_public_key == public
    again = runner.invoke(
        app, ["org", "keygen", ids["cn-broker"], "--private-key-file", str(target)]
    )
    assert again.exit_code == 1


def test_malformed_csv_file_is_refused_naming_the_line(cli_env: Platform, tmp_path: Path) -> None:
    ids = seeded(cli_env)
    path = tmp_path / "bad.csv"
    path.write_text('lrn,type\nA-1,export\nA-2,"exp"ort\n')
    r = runner.invoke(app, ["declarations", "import", str(path), "--as", ids["cn-broker"]])
    assert r.exit_code == 1
    assert "/lines/3" in r.output and "malformed_csv" in r.output
