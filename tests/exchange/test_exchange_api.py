"""Exchange routes: the SSE stream per organization with Last-Event-ID resume, subscriptions
(audited, bad URLs named), dead letters, the signing key, readiness of the worker."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from silkgate.app import create_app
from silkgate.audit.models import AuditEntry
from silkgate.core.platform import Platform
from silkgate.exchange import service
from tests.factories import caller, seeded, tokens

API = "/api/v1"


@pytest.fixture
def api(platform: Platform) -> tuple[Platform, TestClient, dict[str, str], dict[str, str]]:
    ids = seeded(platform)
    return platform, TestClient(create_app(platform=platform)), tokens(platform, ids), ids


def h(keys: dict[str, str], who: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {keys[who]}", **extra}


def _events(text: str) -> list[tuple[int, str]]:
    out = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "id" in fields:
            out.append((int(fields["id"]), fields["event"]))
    return out


def test_sse_stream_is_per_organization_and_resumes(api: Any) -> None:
    platform, client, keys, ids = api
    org, other = caller(platform, ids, "cn-carrier"), caller(platform, ids, "kz-carrier")
    with platform.db.session() as s:
        for n in range(3):
            service.enqueue(s, org.id, "queue.called_forward", {"n": n}, f"a{n}", platform.clock())
        service.enqueue(s, other.id, "queue.called_forward", {"n": 9}, "b9", platform.clock())
    r = client.get(f"{API}/exchange/events?wait=0", headers=h(keys, "cn-carrier"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    got = _events(r.text)
    assert [e for _, e in got] == ["queue.called_forward"] * 3
    assert '"n": 9' not in r.text and '"organization": "' + org.member_id in r.text
    first = got[0][0]
    r = client.get(
        f"{API}/exchange/events?wait=0",
        headers=h(keys, "cn-carrier", **{"Last-Event-ID": str(first)}),
    )
    assert [i for i, _ in _events(r.text)] == [i for i, _ in got[1:]]
    mine = _events(client.get(f"{API}/exchange/events?wait=0", headers=h(keys, "kz-carrier")).text)
    assert len(mine) == 1
    assert client.get(f"{API}/exchange/events?wait=0").status_code == 401
    bad = client.get(
        f"{API}/exchange/events?wait=0", headers=h(keys, "cn-carrier", **{"Last-Event-ID": "x"})
    )
    assert bad.status_code == 422 and "last-event-id" in bad.text.lower()


def test_a_resume_point_beyond_any_sequence_is_refused_before_the_stream(api: Any) -> None:
    """PostgreSQL's ids are 32-bit: a larger resume point broke the stream once it had begun (a
    200, then an error mid-body); it, and a larger subscription or delivery id (which the
    database refused as an unstorable value), are refused up front, naming where they were."""
    _, client, keys, _ = api
    for where, header, query in (
        ("last-event-id", {"Last-Event-ID": str(2**31)}, ""),
        ("after", {}, f"&after={2**36}"),
    ):
        r = client.get(
            f"{API}/exchange/events?wait=0{query}", headers=h(keys, "cn-carrier", **header)
        )
        assert r.status_code == 422 and where in r.text.lower(), r.text
    for method, path in (
        ("GET", f"subscriptions/{2**31}"),
        ("DELETE", f"subscriptions/{2**31}"),
        ("POST", f"deliveries/{2**31}/retry"),
    ):
        r = client.request(method, f"{API}/exchange/{path}", headers=h(keys, "cn-carrier"))
        assert r.status_code == 422 and "_id" in r.text and "2147483647" in r.text, r.text
    top = client.get(
        f"{API}/exchange/events?wait=0",
        headers=h(keys, "cn-carrier", **{"Last-Event-ID": str(2**31 - 1)}),
    )
    assert top.status_code == 200 and _events(top.text) == []


def test_subscriptions_are_audited_owned_and_validated(api: Any) -> None:
    platform, client, keys, _ = api
    r = client.post(
        f"{API}/exchange/subscriptions",
        json={"url": "https://carrier.example/hooks", "topics": ["queue.called_forward"]},
        headers=h(keys, "cn-carrier"),
    )
    assert r.status_code == 201, r.text
    sub = r.json()
    with platform.db.session() as s:
        actions = list(s.scalars(select(AuditEntry.action)))
    assert "exchange.subscribed" in actions
    assert client.get(f"{API}/exchange/subscriptions", headers=h(keys, "kz-carrier")).json() == []
    assert (
        client.delete(
            f"{API}/exchange/subscriptions/{sub['id']}", headers=h(keys, "kz-carrier")
        ).status_code
        == 404
    )
    bad = client.post(
        f"{API}/exchange/subscriptions",
        json={"url": "ftp://x.example/a", "topics": ["Bad Topic"]},
        headers=h(keys, "cn-carrier"),
    )
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.json()["errors"]}
    assert fields == {"/url", "/topics/0"}
    r = client.delete(f"{API}/exchange/subscriptions/{sub['id']}", headers=h(keys, "cn-carrier"))
    assert r.status_code == 200 and r.json()["active"] is False
    dead = client.get(f"{API}/exchange/deliveries?status=dead", headers=h(keys, "cn-carrier"))
    assert dead.status_code == 200 and dead.json() == []
    key = client.get(f"{API}/exchange/signing-key", headers=h(keys, "cn-carrier")).json()
    assert key["key_id"] == platform.signer.key_id


def test_readiness_shows_the_delivery_worker(api: Any) -> None:
    _, client, _, _ = api
    with client:  # runs the lifespan: the worker starts
        r = client.get(f"{API}/health/ready")
        assert r.status_code == 200, r.text
        assert r.json()["threads"]["exchange_worker"]["state"] == "running"
