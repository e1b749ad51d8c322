"""`silkgate declarations transition`: customs move a declaration as the API route does."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from silkgate.cli import app
from silkgate.core.platform import Platform
from silkgate.declarations import reading
from silkgate.declarations import service as declarations
from tests.factories import caller, export_cn_to_kz, seeded

runner = CliRunner()


def test_customs_move_a_declaration_and_bad_steps_are_refused(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SILKGATE_DATABASE_URL", platform.settings.database_url)
    monkeypatch.setenv("SILKGATE_DEMO_MODE", "true")
    monkeypatch.setenv("SILKGATE_DATA_DIR", str(platform.settings.data_dir))
    ids = seeded(platform)
    out, _ = declarations.create(platform, caller(platform, ids, "cn-broker"), export_cn_to_kz())
    cn = ids["cn-customs"]
    r = runner.invoke(app, ["declarations", "transition", out.id, "--as", cn, "--to", "at_border"])
    assert r.exit_code == 0, r.output
    assert f"{out.id}: at_border" in r.output
    r = runner.invoke(app, ["declarations", "transition", out.id, "--as", cn, "--to", "accepted"])
    assert r.exit_code == 1 and "/to [wrong_state]" in r.output
    r = runner.invoke(app, ["declarations", "transition", out.id, "--as", cn, "--to", "flying"])
    assert r.exit_code == 1 and "/to" in r.output
    broker = ids["cn-broker"]
    r = runner.invoke(
        app, ["declarations", "transition", out.id, "--as", broker, "--to", "released"]
    )
    assert r.exit_code == 1
    r = runner.invoke(
        app,
        ["declarations", "transition", out.id, "--as", cn, "--to", "released", "--reason", "ok"],
    )
    assert r.exit_code == 0, r.output
    assert reading.get(platform, caller(platform, ids, "cn-customs"), out.id).status == "released"
