"""`silkgate exchange …`: subscribe, deliver --once to a local receiver, dead letters listed."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from silkgate.cli import app
from silkgate.core.platform import Platform
from silkgate.exchange import service
from tests.exchange.receiver import receiver
from tests.factories import caller, seeded

runner = CliRunner()


@pytest.fixture
def ids(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("SILKGATE_DATABASE_URL", platform.settings.database_url)
    monkeypatch.setenv("SILKGATE_DEMO_MODE", "true")
    monkeypatch.setenv("SILKGATE_DATA_DIR", str(platform.settings.data_dir))
    monkeypatch.setenv("SILKGATE_EXCHANGE_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("SILKGATE_EXCHANGE_WEBHOOK_ALLOW", "127.0.0.1/32")
    monkeypatch.setenv("COLUMNS", "250")
    return seeded(platform)


def test_exchange_commands(platform: Platform, ids: dict[str, str]) -> None:
    org = ids["cn-carrier"]
    bad = runner.invoke(app, ["exchange", "subscribe", "--as", org, "--url", "ftp://x"])
    assert bad.exit_code != 0 and "url" in bad.output.lower()
    with receiver(codes=[200, 500]) as rec:
        r = runner.invoke(app, ["exchange", "subscribe", "--as", org, "--url", rec.url])
        assert r.exit_code == 0, r.output
        who = caller(platform, ids, "cn-carrier")
        with platform.db.session() as s:
            service.enqueue(s, who.id, "queue.called_forward", {"n": 1}, "c1", platform.clock())
            service.enqueue(s, who.id, "queue.called_forward", {"n": 2}, "c2", platform.clock())
        r = runner.invoke(app, ["exchange", "deliver", "--once"])
        assert r.exit_code == 0, r.output
        assert "delivered 1, retrying 0, dead 1" in r.output
    r = runner.invoke(app, ["exchange", "deliveries", "--status", "dead", "--json"])
    assert r.exit_code == 0, r.output
    dead = json.loads(r.output)
    assert len(dead) == 1 and dead[0]["last_error"] == "HTTP 500"
    r = runner.invoke(app, ["exchange", "subscriptions", "--as", org, "--json"])
    assert r.exit_code == 0, r.output
    assert [x["url"] for x in json.loads(r.output)] == [rec.url]
