"""Delivery under agreements over HTTP and the CLI: subscribe (422 naming the field), the pull
feed (bad cursor named), a subscription's status; `audit verify` still passes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from silkgate.app import create_app
from silkgate.audit.verify import verify_all
from silkgate.cli import app
from silkgate.core.platform import Platform
from silkgate.exchange.agreements.catalogue import Category
from tests.exchange.delivery_world import ALLOWED
from tests.exchange.enforce_world import grant
from tests.factories import tokens
from tests.queue.env import Env, make_env

API = "/api/v1/exchange"
runner = CliRunner()


@pytest.fixture
def env(platform: Platform) -> Env:
    return make_env(platform)


def test_subscribe_feed_and_status_over_http(env: Env) -> None:
    p = env.platform
    client = TestClient(create_app(platform=p))
    keys = tokens(p, env.ids)
    h = {"Authorization": f"Bearer {keys['kz-service']}"}
    aid = grant(p, env.ids["kz-service"], Category.PRE_ARRIVAL, ALLOWED[Category.PRE_ARRIVAL])
    body: dict[str, Any] = {"agreement_id": aid, "categories": ["booking"], "purpose": "statistics"}
    r = client.post(f"{API}/subscriptions", json=body, headers=h)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["/categories/0"]
    body["categories"] = ["pre_arrival"]
    r = client.post(f"{API}/subscriptions", json=body, headers=h)
    assert r.status_code == 201, r.text
    sub = r.json()
    assert (sub["kind"], sub["url"], sub["place"]) == ("pull", None, "KZ")
    env.declaration()
    page = client.get(f"{API}/feed?limit=10", headers=h).json()
    assert [m["topic"] for m in page["messages"]] == ["pre_arrival.accepted"]
    assert set(page["messages"][0]["data"]) <= {"id", "status", "data"}
    st = client.get(f"{API}/subscriptions/{sub['id']}", headers=h).json()
    assert st["undelivered"] == 1 and st["position"] == 0
    again = client.get(f"{API}/feed", params={"cursor": page["next_cursor"]}, headers=h).json()
    assert again["messages"] == []
    st = client.get(f"{API}/subscriptions/{sub['id']}", headers=h).json()
    assert (st["undelivered"], st["delivered"]) == (0, 1)
    r = client.get(f"{API}/feed", params={"cursor": "garbage"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "/query/cursor"
    # another organization neither sees the status nor reads this feed
    other = {"Authorization": f"Bearer {keys['kz-carrier']}"}
    assert client.get(f"{API}/subscriptions/{sub['id']}", headers=other).status_code == 404
    r = client.get(f"{API}/feed", params={"cursor": page["next_cursor"]}, headers=other)
    assert r.status_code == 422
    assert client.get(f"{API}/feed", headers=other).json()["messages"] == []
    # the subscription, its messages and deliveries agree with the log; the one problem is the
    # test's agreement, stored around the service (grant) and so rightly unknown to the log
    outcome = verify_all(p)
    assert outcome.chain.ok, outcome
    assert outcome.tables is not None
    problems = [(x.entity, x.what) for x in outcome.tables.problems]
    unlogged = "in exchange_agreements, but no audit entry records it"
    assert problems == [(f"agreement {aid} version 1", unlogged)], problems


def test_cli_subscribe_feed_status(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    p = env.platform
    monkeypatch.setenv("SILKGATE_DATABASE_URL", p.settings.database_url)
    monkeypatch.setenv("SILKGATE_DATA_DIR", str(p.settings.data_dir))
    monkeypatch.setenv("SILKGATE_DEMO_MODE", "true")
    monkeypatch.setenv("COLUMNS", "250")
    org = env.ids["kz-service"]
    aid = grant(p, org, Category.PRE_ARRIVAL, ALLOWED[Category.PRE_ARRIVAL])
    args = ["exchange", "subscribe", "--as", org, "--agreement", aid, "--category"]
    bad = runner.invoke(app, [*args, "pre_arrival", "--purpose", "risk_analysis", "--json"])
    assert bad.exit_code != 0 and "/purpose" in bad.output
    r = runner.invoke(app, [*args, "pre_arrival", "--purpose", "statistics", "--json"])
    assert r.exit_code == 0, r.output
    sub = json.loads(r.output)
    env.declaration()
    r = runner.invoke(app, ["exchange", "feed", "--as", org])
    assert r.exit_code == 0, r.output
    page = json.loads(r.output)
    assert len(page["messages"]) == 1
    r = runner.invoke(app, ["exchange", "status", str(sub["id"]), "--as", org, "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["undelivered"] == 1
