"""Call-forward routes: stage capacity, check-in, position, who may do what, the SSE message."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from silkgate.app import create_app
from silkgate.core.platform import Platform
from tests.factories import tokens
from tests.queue.env import Env, make_env

API = "/api/v1"
STAGE = {"crossing": "KHG-NZH", "exit_country": "CN", "entry_country": "KZ"}


@pytest.fixture
def api(platform: Platform) -> tuple[Env, TestClient, dict[str, str]]:
    env = make_env(platform)
    return env, TestClient(create_app(platform=platform)), tokens(platform, env.ids)


def h(keys: dict[str, str], who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {keys[who]}"}


def test_check_in_position_and_call(api: Any) -> None:
    env, client, keys = api
    r = client.put(
        f"{API}/queue/stages", json={**STAGE, "capacity": 0}, headers=h(keys, "cn-customs")
    )
    assert r.status_code == 200, r.text
    b = env.book(hour=10).id
    url = f"{API}/queue/bookings/{b}"
    assert client.post(f"{url}/check-in", json={}, headers=h(keys, "cn-broker")).status_code == 403
    bad = client.post(f"{url}/check-in", json={"at": "soon"}, headers=h(keys, "cn-customs"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "/at"
    r = client.post(f"{url}/check-in", json={}, headers=h(keys, "cn-customs"))
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "waiting" and r.json()["position"] == 1
    mine = client.get(f"{url}/position", headers=h(keys, "cn-broker")).json()
    assert mine["position"] == 1
    assert client.get(f"{url}/position", headers=h(keys, "kz-carrier")).status_code == 404
    r = client.put(
        f"{API}/queue/stages", json={**STAGE, "capacity": 1}, headers=h(keys, "cn-customs")
    )
    assert r.json()["called"] == [b]
    sse = client.get(f"{API}/exchange/events?wait=0", headers=h(keys, "cn-broker"))
    assert "event: queue.called_forward" in sse.text and b in sse.text
    assert client.get(f"{url}/position", headers=h(keys, "cn-broker")).json()["state"] == "called"
