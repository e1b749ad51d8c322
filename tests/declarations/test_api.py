"""Declarations through the HTTP API: lodging, visibility, errors, idempotency, versions."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from silkgate.app import create_app
from silkgate.core.platform import Platform
from tests.factories import export_cn_to_kz, seeded, tokens

API = "/api/v1"


@pytest.fixture
def env(platform: Platform) -> dict[str, Any]:
    ids = seeded(platform)
    keys = tokens(platform, ids)
    client = TestClient(create_app(platform=platform))
    return {"ids": ids, "keys": keys, "client": client}


def auth(env: dict[str, Any], who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {env['keys'][who]}"}


def lodge(env: dict[str, Any], body: dict[str, Any], who: str = "cn-broker", **headers: str) -> Any:
    return env["client"].post(
        f"{API}/declarations", json=body, headers={**auth(env, who), **headers}
    )


def test_lodged_export_is_accepted_and_readable_by_owner(env: dict[str, Any]) -> None:
    r = lodge(env, export_cn_to_kz("L-1"))
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["status"] == "accepted" and out["version"] == 1
    got = env["client"].get(f"{API}/declarations/{out['id']}", headers=auth(env, "cn-broker"))
    assert got.status_code == 200
    assert got.json()["data"]["driver"]["name"]


def test_other_side_customs_sees_pre_arrival_without_driver(env: dict[str, Any]) -> None:
    decl_id = lodge(env, export_cn_to_kz("L-2")).json()["id"]
    url = f"{API}/declarations/{decl_id}"
    # another organization's data: the purpose is required (the shipped default names it)
    bare = env["client"].get(url, headers=auth(env, "kz-customs"))
    assert bare.status_code == 400
    assert bare.json()["errors"][0]["field"] == "/headers/silkgate-purpose"
    assert "customs_control" in bare.json()["errors"][0]["message"]
    purpose = {"Silkgate-Purpose": "customs_control"}
    kz = env["client"].get(url, headers={**auth(env, "kz-customs"), **purpose})
    assert kz.status_code == 200
    assert kz.json()["pre_arrival"] is True
    assert "driver" not in kz.json()["data"] and "lane" not in kz.json()
    cn = env["client"].get(f"{API}/declarations/{decl_id}", headers=auth(env, "cn-customs"))
    assert cn.json()["pre_arrival"] is False and "driver" in cn.json()["data"]


def test_unrelated_organization_gets_404(env: dict[str, Any]) -> None:
    decl_id = lodge(env, export_cn_to_kz("L-3")).json()["id"]
    for who in ("kz-service", "cn-carrier", "karamay"):
        r = env["client"].get(f"{API}/declarations/{decl_id}", headers=auth(env, who))
        assert r.status_code == 404, who
        listed = env["client"].get(f"{API}/declarations", headers=auth(env, who)).json()["items"]
        assert decl_id not in {d["id"] for d in listed}


def test_missing_or_bad_token_is_401_problem(env: dict[str, Any]) -> None:
    r = env["client"].get(f"{API}/declarations")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    r = env["client"].get(
        f"{API}/declarations",
        headers={"Authorization": "Bearer sgk_000000000000_nope-nope-nope-nope-nope"},
    )
    assert r.status_code == 401


def test_health_needs_no_auth(env: dict[str, Any]) -> None:
    assert env["client"].get(f"{API}/health").json()["status"] == "ok"
    assert env["client"].get(f"{API}/health/ready").json()["status"] == "ready"


@pytest.mark.parametrize(
    ("mutate", "field", "code"),
    [
        (
            lambda b: b["goods_items"][0].update(hs_code="999999"),
            "/goods_items/0/hs_code",
            "unknown_hs_code",
        ),
        (lambda b: b["invoice"].update(currency="XXY"), "/invoice/currency", "unknown_currency"),
        (
            lambda b: b.update(country_of_destination="QQ"),
            "/country_of_destination",
            "unknown_country",
        ),
        (lambda b: b["crossing"].update(code="NOPE"), "/crossing/code", "unknown_crossing"),
        (
            lambda b: b["exporter"].update(identifier="91350100M000100Y44"),
            "/exporter/identifier",
            "invalid_identifier",
        ),
        (
            lambda b: b["goods_items"][0].update(
                net_mass_kg=b["goods_items"][0]["gross_mass_kg"] + 1
            ),
            "/goods_items/0/net_mass_kg",
            "impossible_mass",
        ),
        (
            lambda b: b["totals"].update(packages=b["totals"]["packages"] + 1),
            "/totals/packages",
            "totals_mismatch",
        ),
        (
            lambda b: b["goods_items"][0].update(gross_mass_kg="heavy"),
            "/goods_items/0/gross_mass_kg",
            "float_type",
        ),
        (lambda b: b.pop("invoice"), "/invoice", "required"),
        (
            lambda b: b.update(containers=[{"number": "CSQU3054384"}]),
            "/containers/0/number",
            "invalid_container",
        ),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(
    env: dict[str, Any], mutate: Any, field: str, code: str
) -> None:
    body = export_cn_to_kz("BAD-1")
    mutate(body)
    r = lodge(env, body)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert {"field": field, "code": code} in [
        {"field": e["field"], "code": e["code"]} for e in problem["errors"]
    ]
    listed = (
        env["client"].get(f"{API}/declarations", headers=auth(env, "cn-broker")).json()["items"]
    )
    assert listed == []


def test_malformed_json_is_422_not_500(env: dict[str, Any]) -> None:
    r = env["client"].post(
        f"{API}/declarations",
        content=b"{not json",
        headers={**auth(env, "cn-broker"), "Content-Type": "application/json"},
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["code"] == "malformed_json"


def test_oversized_body_is_413(env: dict[str, Any]) -> None:
    limit = env["client"].app.state.platform.settings.max_body_bytes
    r = env["client"].post(
        f"{API}/declarations", content=b" " * (limit + 1), headers=auth(env, "cn-broker")
    )
    assert r.status_code == 413


def test_duplicate_lrn_is_409(env: dict[str, Any]) -> None:
    assert lodge(env, export_cn_to_kz("DUP")).status_code == 201
    r = lodge(env, export_cn_to_kz("DUP"))
    assert r.status_code == 409
    assert r.json()["errors"][0]["field"] == "/lrn"


def test_idempotency_key_replays_and_refuses_other_body(env: dict[str, Any]) -> None:
    first = lodge(env, export_cn_to_kz("IDEM"), **{"Idempotency-Key": "k-1"})
    again = lodge(env, export_cn_to_kz("IDEM"), **{"Idempotency-Key": "k-1"})
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    other = lodge(env, export_cn_to_kz("IDEM-2"), **{"Idempotency-Key": "k-1"})
    assert other.status_code == 422


def test_concurrent_submissions_with_one_key_store_one_declaration(env: dict[str, Any]) -> None:
    results: list[Any] = []
    barrier = threading.Barrier(4)

    def submit() -> None:
        barrier.wait()
        results.append(lodge(env, export_cn_to_kz("RACE"), **{"Idempotency-Key": "race-key"}))

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in results)
    assert codes.count(201) == 1 and codes.count(200) == 3, codes
    assert len({r.json()["id"] for r in results}) == 1
    listed = (
        env["client"]
        .get(f"{API}/declarations?lrn=RACE", headers=auth(env, "cn-broker"))
        .json()["items"]
    )
    assert len(listed) == 1


def test_amend_creates_version_and_keeps_old(env: dict[str, Any]) -> None:
    body = export_cn_to_kz("AM-1")
    decl_id = lodge(env, body).json()["id"]
    body["invoice"]["number"] = "INV-AMENDED"
    r = env["client"].put(
        f"{API}/declarations/{decl_id}", json=body, headers=auth(env, "cn-broker")
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2
    versions = (
        env["client"]
        .get(f"{API}/declarations/{decl_id}/versions", headers=auth(env, "cn-broker"))
        .json()
    )
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[0]["data"]["invoice"]["number"] != "INV-AMENDED"
    assert versions[1]["data"]["invoice"]["number"] == "INV-AMENDED"
    body["lrn"] = "OTHER"
    r = env["client"].put(
        f"{API}/declarations/{decl_id}", json=body, headers=auth(env, "cn-broker")
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "/lrn"


def test_lifecycle_cancel_and_transitions(env: dict[str, Any]) -> None:
    a = lodge(env, export_cn_to_kz("LC-1")).json()["id"]
    b = lodge(env, export_cn_to_kz("LC-2")).json()["id"]
    c = env["client"]
    assert (
        c.post(
            f"{API}/declarations/{a}/cancel",
            json={"reason": "sale fell through"},
            headers=auth(env, "cn-broker"),
        ).json()["status"]
        == "cancelled"
    )
    assert (
        c.post(
            f"{API}/declarations/{b}/transitions",
            json={"to": "at_border"},
            headers=auth(env, "cn-broker"),
        ).status_code
        == 403
    )
    assert (
        c.post(
            f"{API}/declarations/{b}/transitions",
            json={"to": "at_border"},
            headers=auth(env, "cn-customs"),
        ).json()["status"]
        == "at_border"
    )
    late = c.post(
        f"{API}/declarations/{b}/cancel",
        json={"reason": "too late"},
        headers=auth(env, "cn-broker"),
    )
    assert late.status_code == 409
    wrong = c.post(
        f"{API}/declarations/{b}/transitions",
        json={"to": "accepted"},
        headers=auth(env, "cn-customs"),
    )
    assert wrong.status_code == 409
    # the other side's customs reads it (pre-arrival, customs_control by default) but the
    # export is lodged with CN customs: only they release it
    other_side = c.post(
        f"{API}/declarations/{b}/transitions",
        json={"to": "released"},
        headers=auth(env, "kz-customs"),
    )
    assert other_side.status_code == 403 and "lodged with (CN" in other_side.json()["detail"]
    assert (
        c.post(
            f"{API}/declarations/{b}/transitions",
            json={"to": "released"},
            headers=auth(env, "cn-customs"),
        ).json()["status"]
        == "released"
    )
    trail = c.get(f"{API}/declarations/{b}/audit", headers=auth(env, "cn-broker")).json()
    assert [e["action"] for e in trail] == [
        "declaration.submitted",
        "declaration.accepted",
        "declaration.at_border",
        "declaration.released",
    ]


def test_batch_accepts_and_rejects_lines_independently(env: dict[str, Any]) -> None:
    good = [export_cn_to_kz(f"B-{i}") for i in range(3)]
    bad = export_cn_to_kz("B-bad")
    bad["goods_items"][0]["hs_code"] = "000000"
    lines = [
        json.dumps(good[0]),
        "{broken",
        json.dumps(bad),
        json.dumps(good[1]),
        json.dumps(good[1]),
        json.dumps(good[2]),
    ]
    r = env["client"].post(
        f"{API}/declarations/batch",
        content="\n".join(lines).encode(),
        headers={**auth(env, "cn-broker"), "Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["accepted"] == 3 and report["rejected"] == 3
    outcomes = {line["line"]: line["outcome"] for line in report["lines"]}
    assert outcomes == {
        1: "accepted",
        2: "rejected",
        3: "rejected",
        4: "accepted",
        5: "rejected",
        6: "accepted",
    }
    assert report["lines"][2]["errors"][0]["field"] == "/goods_items/0/hs_code"


def test_cursor_pagination_walks_everything_once(env: dict[str, Any]) -> None:
    r = env["client"].post(
        f"{API}/declarations/batch",
        content="\n".join(json.dumps(export_cn_to_kz(f"P-{i}")) for i in range(7)).encode(),
        headers={**auth(env, "cn-broker"), "Content-Type": "application/x-ndjson"},
    )
    assert r.json()["accepted"] == 7
    seen: list[str] = []
    cursor = None
    while True:
        q = f"{API}/declarations?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = env["client"].get(q, headers=auth(env, "cn-broker")).json()
        seen += [d["id"] for d in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 7 == len(set(seen))
    assert seen == sorted(seen, reverse=True)
    bad = env["client"].get(f"{API}/declarations?cursor=!!!", headers=auth(env, "cn-broker"))
    assert bad.status_code == 422


def test_only_admin_registers_organizations(env: dict[str, Any]) -> None:
    body = {"member_id": "CN/COM/91350100M000100Y43", "name": "New Co", "roles": ["broker"]}
    assert (
        env["client"]
        .post(f"{API}/organizations", json=body, headers=auth(env, "cn-broker"))
        .status_code
        == 403
    )
    r = env["client"].post(f"{API}/organizations", json=body, headers=auth(env, "karamay"))
    assert r.status_code == 201, r.text
    bad = env["client"].post(
        f"{API}/organizations",
        json={**body, "member_id": "KZ/COM/123456789012"},
        headers=auth(env, "karamay"),
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "/member_id"


def test_openapi_documents_the_declaration_body(env: dict[str, Any]) -> None:
    spec = env["client"].get("/openapi.json").json()
    body = spec["paths"]["/api/v1/declarations"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    assert body == {"$ref": "#/components/schemas/DeclarationIn"}
    assert "goods_items" in spec["components"]["schemas"]["DeclarationIn"]["properties"]
    assert "GoodsItem" in spec["components"]["schemas"]
