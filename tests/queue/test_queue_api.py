"""Queue routes: who sees what, driver data per side, public figures, 401/422/429 problems."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from silkgate.app import create_app
from silkgate.core.platform import Platform
from tests.factories import tokens
from tests.queue.env import DAY, Env, make_env

API = "/api/v1"


@pytest.fixture
def api(platform: Platform) -> tuple[Env, TestClient, dict[str, str]]:
    env = make_env(platform)
    return env, TestClient(create_app(platform=platform)), tokens(platform, env.ids)


def h(keys: dict[str, str], who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {keys[who]}"}


def test_booking_party_and_officials_see_what_they_may(api: Any) -> None:
    env, client, keys = api
    r = client.post(
        f"{API}/queue/bookings", json=env.booking_body(hour=10), headers=h(keys, "cn-broker")
    )
    assert r.status_code == 201, r.text
    b = r.json()
    assert b["driver"]["name"] == "Wang Lei"
    cn = client.get(f"{API}/queue/bookings/{b['id']}", headers=h(keys, "cn-customs")).json()
    assert cn["driver"]["name"] == "Wang Lei"  # the exit side, where the truck queues
    # the other side's customs: under the shipped booking agreement, for a declared purpose
    url = f"{API}/queue/bookings/{b['id']}"
    assert client.get(url, headers=h(keys, "kz-customs")).status_code == 400
    kz_purpose = {**h(keys, "kz-customs"), "Silkgate-Purpose": "customs_control"}
    kz = client.get(url, headers=kz_purpose).json()
    assert kz["driver"] is None and kz["driver_withheld"] is True
    assert "Wang Lei" not in json.dumps(
        client.get(f"{API}/queue/bookings", headers=kz_purpose).json()
    )
    # the e-port operator assigned to the crossing sees the bookings on it
    assert (
        client.get(f"{API}/queue/bookings/{b['id']}", headers=h(keys, "cn-eport")).status_code
        == 200
    )
    for who in ("kz-carrier", "cn-carrier"):
        assert (
            client.get(f"{API}/queue/bookings/{b['id']}", headers=h(keys, who)).status_code == 404
        )
        assert client.get(f"{API}/queue/bookings", headers=h(keys, who)).json()["items"] == []
    r = client.post(
        f"{API}/queue/bookings/{b['id']}/cancel",
        json={"reason": "x"},
        headers=h(keys, "kz-customs"),
    )
    assert r.status_code == 403
    deps = client.get(
        f"{API}/queue/bookings/{b['id']}/deposits", headers=h(keys, "cn-broker")
    ).json()
    assert [d["kind"] for d in deps] == ["held"]


def test_public_queue_has_counts_but_no_personal_data(api: Any) -> None:
    env, client, keys = api
    body = env.booking_body(hour=10)
    assert (
        client.post(f"{API}/queue/bookings", json=body, headers=h(keys, "cn-broker")).status_code
        == 201
    )
    r = client.get(f"{API}/public/crossings/KHG-NZH/queue?day={DAY.isoformat()}")
    assert r.status_code == 200
    text = r.text
    for secret in (
        body["truck"]["tractor_plate"],
        body["truck"]["vin"],
        "Wang Lei",
        body["driver"]["document_number"],
        env.ids["cn-broker"],
    ):
        assert secret not in text
    cn_kz = next(d for d in r.json()["directions"] if d["exit_country"] == "CN")
    assert cn_kz["booked"] == 1 and cn_kz["daily_cap"] == 240 and cn_kz["bookable"] == 240
    assert next(h for h in cn_kz["by_hour"] if h["hour"] == 10)["booked"] == 1
    assert cn_kz["waiting"] is None
    assert client.get(f"{API}/public/crossings/XXX-YYY/queue").status_code == 404


def test_problems_401_422_409(api: Any) -> None:
    env, client, keys = api
    assert client.get(f"{API}/queue/bookings").status_code == 401
    body = env.booking_body()
    body["truck"]["vin"] = "IOQ"
    r = client.post(f"{API}/queue/bookings", json=body, headers=h(keys, "cn-broker"))
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert "/truck/vin" in {e["field"] for e in r.json()["errors"]}
    body = env.booking_body(day=DAY.replace(day=1))
    r = client.post(f"{API}/queue/bookings", json=body, headers=h(keys, "cn-broker"))
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "in_past"


def test_rate_limits_answer_429_with_retry_after(platform: Platform) -> None:
    platform.settings.queue_rate_vehicle_burst = 1
    platform.settings.queue_rate_org_burst = 3
    platform.settings.queue_rate_org_per_second = 0.01
    env = make_env(platform)
    client = TestClient(create_app(platform=platform))
    keys = tokens(platform, env.ids)
    body = env.booking_body(hour=10)
    first = client.post(f"{API}/queue/bookings", json=body, headers=h(keys, "cn-broker"))
    assert first.status_code == 201
    again = client.post(f"{API}/queue/bookings", json=body, headers=h(keys, "cn-broker"))
    assert again.status_code == 429 and int(again.headers["Retry-After"]) >= 1
    assert again.json()["detail"].startswith("rate limit of the vehicle")
    client.get(f"{API}/queue/caps", headers=h(keys, "cn-broker"))
    r = client.get(f"{API}/queue/caps", headers=h(keys, "cn-broker"))
    assert r.status_code == 429 and "organization" in r.json()["detail"]
    assert client.get(f"{API}/queue/caps", headers=h(keys, "kz-service")).status_code == 200


def test_caps_over_the_api(api: Any) -> None:
    _, client, keys = api
    cap = {
        "crossing": "KHG-NZH",
        "exit_country": "KZ",
        "entry_country": "CN",
        "valid_from": "2026-12-01",
        "daily_cap": 650,
        "quotas": {"perishables": 0.1},
        "live_share": 0.1,
    }
    r = client.post(f"{API}/queue/caps", json=cap, headers=h(keys, "kz-customs"))
    assert r.status_code == 201 and r.json()["cap"]["side"] == "KZ"
    assert (
        client.post(f"{API}/queue/caps", json=cap, headers=h(keys, "cn-broker")).status_code == 403
    )
    bad = dict(cap, quotas={"perishables": 0.95}, live_share=0.1)
    assert (
        client.post(f"{API}/queue/caps", json=bad, headers=h(keys, "kz-customs")).status_code == 422
    )
    listed = client.get(f"{API}/queue/caps?crossing=KHG-NZH", headers=h(keys, "cn-carrier")).json()
    assert {(c["side"], c["exit_country"]) for c in listed} >= {
        ("KZ", "KZ"),
        ("CN", "CN"),
        ("KZ", "CN"),
    }
