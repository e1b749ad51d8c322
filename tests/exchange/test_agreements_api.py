"""/api/v1/exchange/agreements: authenticated, parties only, problems naming fields, ODRL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from silkgate.app import create_app
from silkgate.core.platform import Platform
from silkgate.core.signing import b64, public_key_b64
from silkgate.exchange.agreements import odrl
from silkgate.registry import service as registry
from tests.factories import seeded, tokens

URL = "/api/v1/exchange/agreements"


@pytest.fixture
def api(platform: Platform) -> tuple[TestClient, dict[str, str], dict[str, str], Any]:
    ids = seeded(platform)
    keys = {k: Ed25519PrivateKey.generate() for k in ("cn-eport", "kz-service")}
    for k, key in keys.items():
        registry.register_signing_key(platform, ids[k], public_key_b64(key), "test")
    return TestClient(create_app(platform=platform)), tokens(platform, ids), ids, keys


def h(tok: dict[str, str], who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tok[who]}"}


def body(ids: dict[str, str], **kw: Any) -> dict[str, Any]:
    return {
        "provider": ids["cn-eport"],
        "consumers": [ids["kz-service"]],
        "category": "booking",
        "fields": ["/id", "/status"],
        "purposes": ["queue_management"],
        "places": ["KZ"],
        "valid_from": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        **kw,
    }


def test_propose_sign_read_revoke(api: Any) -> None:
    client, tok, ids, keys = api
    assert client.post(URL, json=body(ids)).status_code == 401
    r = client.post(URL, json=body(ids), headers=h(tok, "cn-eport"))
    assert r.status_code == 201, r.text
    a = r.json()
    aid, sign_input = a["agreement_id"], a["signing_input"].encode()
    for who in ("cn-eport", "kz-service"):
        sig = b64(keys[who].sign(sign_input))
        r = client.post(
            f"{URL}/{aid}/versions/1/signatures", json={"signature": sig}, headers=h(tok, who)
        )
        assert r.status_code == 200, r.text
    assert r.json()["status"] == "active" and r.json()["in_force"] is True
    listed = client.get(URL, params={"status": "active"}, headers=h(tok, "kz-service")).json()
    assert [x["agreement_id"] for x in listed] == [aid]
    assert client.get(URL, headers=h(tok, "kz-carrier")).json() == []
    assert client.get(f"{URL}/{aid}", headers=h(tok, "kz-carrier")).status_code == 404
    shown = client.get(f"{URL}/{aid}", headers=h(tok, "kz-service")).json()
    assert [v["version"] for v in shown["versions"]] == [1]
    r = client.get(f"{URL}/{aid}/versions/1/odrl", headers=h(tok, "kz-service"))
    assert r.status_code == 200 and r.headers["content-type"].startswith(odrl.MEDIA_TYPE)
    assert r.json()["@type"] == "Agreement"
    r = client.post(f"{URL}/{aid}/revoke", json={"reason": "ended"}, headers=h(tok, "kz-service"))
    assert r.status_code == 200 and r.json()["versions"][0]["status"] == "revoked"
    again = client.post(
        f"{URL}/odrl",
        content=client.get(f"{URL}/{aid}/versions/1/odrl", headers=h(tok, "cn-eport")).content,
        headers={**h(tok, "cn-eport"), "Content-Type": odrl.MEDIA_TYPE},
    )
    assert again.status_code == 201 and again.json()["version"] == 2


def test_problems_name_the_field(api: Any) -> None:
    client, tok, ids, _ = api
    r = client.post(URL, json=body(ids, fields=["/id", "/nope"]), headers=h(tok, "cn-eport"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "/fields/1"
    r = client.post(URL, json=body(ids, condition="crossing =="), headers=h(tok, "cn-eport"))
    err = r.json()["errors"][0]
    assert r.status_code == 422 and err["field"] == "/condition"
    assert err["message"].startswith("line 1, column 12: ")
    r = client.post(URL, json=body(ids, purposes=["marketing"]), headers=h(tok, "cn-eport"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "/purposes/0"
    a = client.post(URL, json=body(ids), headers=h(tok, "cn-eport")).json()
    forged = b64(Ed25519PrivateKey.generate().sign(a["signing_input"].encode()))
    r = client.post(
        f"{URL}/{a['agreement_id']}/versions/1/signatures",
        json={"signature": forged},
        headers=h(tok, "cn-eport"),
    )
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "bad_signature"
    r = client.post(URL, json=body(ids, fields=["/id"]), headers=h(tok, "cn-eport"))
    assert r.status_code == 409 and a["agreement_id"] in r.json()["detail"]
    r = client.post(f"{URL}/odrl", json={"@type": "Set"}, headers=h(tok, "cn-eport"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "/@type"


def test_catalogue_lists_fields_with_personal_data_marked(api: Any) -> None:
    client, tok, _, _ = api
    cats = {
        c["category"]: c
        for c in client.get(f"{URL}/catalogue", headers=h(tok, "kz-carrier")).json()
    }
    assert len(cats) == 9 and "/data/driver/name" in cats["declaration"]["personal_fields"]
