"""HTTP: 201 then 200 on replay, problem+json naming the field, 404 for timelines not entitled."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from silkgate.app import create_app
from silkgate.core.platform import Platform
from silkgate.registry import service as registry
from tests.gates.helpers import World, event


def test_gate_event_routes(platform: Platform) -> None:
    w = World(platform)
    platform.settings.risk_worker = False
    tok = {
        k: registry.issue_api_key(platform, w.ids[k], "t", "t")[1]
        for k in ("cn-customs", "kz-carrier")
    }
    with TestClient(create_app(platform=platform)) as client:
        h = {"Authorization": f"Bearer {tok['cn-customs']}", "Content-Type": "application/json"}
        body = w.signed("cn-customs", event("gate_in", 0, decl=w.decl))
        r1 = client.post("/api/v1/gate-events", content=json.dumps(body), headers=h)
        r2 = client.post("/api/v1/gate-events", content=json.dumps(body), headers=h)
        assert (r1.status_code, r2.status_code) == (201, 200)
        assert r1.json()["eventId"] == r2.json()["eventId"]
        body["signature"] = "AAAA"
        bad = client.post("/api/v1/gate-events", content=json.dumps(body), headers=h)
        assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
        assert bad.json()["errors"][0]["field"] == "/signature"
        nd = {**h, "Content-Type": "application/x-ndjson"}
        batch = client.post("/api/v1/gate-events/batch", content=b"{}\n", headers=nd)
        assert batch.json()["rejected"] == 1
        tl = client.get(f"/api/v1/declarations/{w.decl}/timeline", headers=h)
        assert tl.status_code == 200 and tl.json()["entries"]
        kz = {"Authorization": f"Bearer {tok['kz-carrier']}"}
        dup = b'{"event": {}, "event": {}, "signature": "x"}'
        r = client.post("/api/v1/gate-events", content=dup, headers=h)
        assert r.status_code == 422 and r.json()["errors"][0]["code"] == "duplicate_key"
        assert client.get(f"/api/v1/declarations/{w.decl}/timeline", headers=kz).status_code == 404
        assert client.get("/api/v1/trucks/KZ/123ABC02/timeline", headers=kz).status_code == 404
        assert client.get("/api/v1/kpi/trs?crossing=KHG-NZH", headers=h).status_code == 200
        noauth = {"Content-Type": "application/json"}
        assert (
            client.post("/api/v1/gate-events", content=json.dumps(body), headers=noauth).status_code
            == 401
        )
        form = {**h, "Content-Type": "text/plain"}
        assert client.post("/api/v1/gate-events", content=b"{}", headers=form).status_code == 415
