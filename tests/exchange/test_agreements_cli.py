"""`silkgate agreements …`: propose from a file, sign with a key file, list, show, ODRL, revoke."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from silkgate.cli import app
from silkgate.core.platform import Platform
from tests.factories import seeded

runner = CliRunner()


@pytest.fixture
def ids(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("SILKGATE_DATABASE_URL", platform.settings.database_url)
    monkeypatch.setenv("SILKGATE_DEMO_MODE", "true")
    monkeypatch.setenv("SILKGATE_DATA_DIR", str(platform.settings.data_dir))
    monkeypatch.setenv("COLUMNS", "250")
    return seeded(platform)


def ok(*args: str) -> str:
    r = runner.invoke(app, list(args))
    assert r.exit_code == 0, r.output
    return r.output


def test_agreement_commands(ids: dict[str, str], tmp_path: Path) -> None:
    eport, service_co = ids["cn-eport"], ids["kz-service"]
    for org, name in ((eport, "e.key"), (service_co, "s.key")):
        ok("org", "keygen", org, "--private-key-file", str(tmp_path / name))
    terms = {
        "agreement_id": "queue-khg-2026",
        "provider": eport,
        "consumers": [service_co],
        "category": "booking",
        "fields": ["/id", "/status", "/nope"],
        "purposes": ["queue_management"],
        "places": ["KZ"],
        "valid_from": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
    }
    f = tmp_path / "a.json"
    f.write_text(json.dumps(terms))
    bad = runner.invoke(app, ["agreements", "propose", str(f), "--as", eport])
    assert bad.exit_code == 1 and "/fields/2 [unknown_field]" in bad.output
    terms["fields"] = ["/id", "/status"]
    f.write_text(json.dumps(terms))
    assert "v1 proposed" in ok("agreements", "propose", str(f), "--as", eport)
    ok("agreements", "sign", "queue-khg-2026", "--version", "1", "--as", eport,
       "--key-file", str(tmp_path / "e.key"))  # fmt: skip
    out = ok("agreements", "sign", "queue-khg-2026", "--version", "1", "--as", service_co,
             "--key-file", str(tmp_path / "s.key"))  # fmt: skip
    assert "v1 active (in force)" in out
    listed = json.loads(ok("agreements", "list", "--as", service_co, "--json"))
    assert "queue-khg-2026" in {a["agreement_id"] for a in listed}
    shown = json.loads(ok("agreements", "show", "queue-khg-2026", "--as", eport))
    assert shown["versions"][0]["status"] == "active"
    odrl_file = tmp_path / "a.jsonld"
    ok("agreements", "export-odrl", "queue-khg-2026", "--as", eport, "--out", str(odrl_file))
    assert json.loads(odrl_file.read_text())["@type"] == "Agreement"
    assert "v1 revoked" in ok(
        "agreements", "revoke", "queue-khg-2026", "--as", eport, "--reason", "season over"
    )
    assert "v2 proposed" in ok("agreements", "import-odrl", str(odrl_file), "--as", service_co)
    listed = json.loads(ok("agreements", "list", "--as", ids["kz-customs"], "--json"))
    assert "default-pre-arrival-KHG-NZH-CN-KZ" in {a["agreement_id"] for a in listed}
    assert "0 default agreement(s)" in ok("agreements", "defaults")
    assert "/driver/name  (personal)" in ok("agreements", "catalogue", "booking")
