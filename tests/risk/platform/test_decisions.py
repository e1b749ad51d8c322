"""Inspection results and lane overrides: lodging customs only, validated, audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from silkgate.audit import service as audit
from silkgate.risk.platform.models import InspectionResult
from silkgate.risk.platform.service import inspection_payload
from silkgate.risk.platform.worker import assess_pending
from tests.factories import export_cn_to_kz
from tests.risk.platform_env import API, Env

FOUND = {
    "outcome": "discrepancy",
    "findings": [
        {"kind": "undervaluation", "text": "invoice shows half the market price", "item": 1},
        {"kind": "quantity", "text": "12 more cartons than declared"},
    ],
    "additional_duties": {"amount": 18250.5, "currency": "CNY"},
    "note": "scanned, then opened at bay 4",
}


def _inspections(env: Env) -> int:
    with env.platform.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(InspectionResult)) or 0)


def test_lodging_customs_record_and_read_an_inspection(env: Env) -> None:
    decl = env.lodge("I-1")
    assess_pending(env.platform)
    r = env.post(f"/declarations/{decl}/inspection", FOUND, "cn-customs")
    assert r.status_code == 201, r.text
    out = r.json()
    assert (out["office"], out["version"], out["outcome"]) == ("CN-KHORGOS", 1, "discrepancy")
    assert out["findings"][0] == FOUND["findings"][0]
    assert out["additional_duties"] == {"amount": 18250.5, "currency": "CNY"}
    assert env.get(f"/declarations/{decl}/inspection", "cn-customs").json() == out
    again = env.post(f"/declarations/{decl}/inspection", FOUND, "cn-customs")
    assert again.status_code == 409
    trail = env.get(f"/declarations/{decl}/audit", "cn-customs").json()
    assert trail[-1]["action"] == "inspection.recorded"
    with env.platform.db.session() as s:
        row = s.scalars(select(InspectionResult)).one()
        assert trail[-1]["payload_digest"] == audit.payload_digest(inspection_payload(row))
        assert trail[-1]["actor"] == env.ids["cn-customs"]


def test_inspection_is_not_disclosed_to_others(env: Env) -> None:
    decl = env.lodge("I-2")
    for who in ("cn-broker", "kz-customs", "karamay"):
        assert env.post(f"/declarations/{decl}/inspection", FOUND, who).status_code == 404, who
    env.post(f"/declarations/{decl}/inspection", FOUND, "cn-customs")
    for who in ("cn-broker", "kz-customs", "karamay"):
        assert env.get(f"/declarations/{decl}/inspection", who).status_code == 404, who
    assert _inspections(env) == 1


def _refused(env: Env, decl: str, body: dict[str, Any]) -> set[tuple[str, str]]:
    r = env.post(f"/declarations/{decl}/inspection", body, "cn-customs")
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return {(e["field"], e["code"]) for e in r.json()["errors"]}


def test_bad_inspection_results_name_the_field_and_store_nothing(env: Env) -> None:
    decl = env.lodge("I-3")
    n_items = len(export_cn_to_kz()["goods_items"])
    assert ("/findings", "required") in _refused(env, decl, {"outcome": "discrepancy"})
    assert ("/outcome", "literal_error") in _refused(env, decl, {"outcome": "maybe"})
    clean_with_duties = {
        "outcome": "no_discrepancy",
        "additional_duties": {"amount": 5, "currency": "CNY"},
    }
    assert ("/additional_duties/amount", "not_allowed") in _refused(env, decl, clean_with_duties)
    bad_item = {
        "outcome": "discrepancy",
        "findings": [{"kind": "origin", "text": "made elsewhere", "item": n_items + 1}],
        "additional_duties": {"amount": 5, "currency": "QQQ"},
    }
    assert _refused(env, decl, bad_item) == {
        ("/findings/0/item", "unknown_item"),
        ("/additional_duties/currency", "unknown_currency"),
    }
    assert ("/findings/0/kind", "enum") in _refused(
        env, decl, {"outcome": "discrepancy", "findings": [{"kind": "smell", "text": "x"}]}
    )
    assert _inspections(env) == 0


def test_cancelled_declaration_takes_no_inspection(env: Env) -> None:
    decl = env.lodge("I-4")
    env.post(f"/declarations/{decl}/cancel", {"reason": "order cancelled"}, "cn-broker")
    r = env.post(f"/declarations/{decl}/inspection", {"outcome": "no_discrepancy"}, "cn-customs")
    assert r.status_code == 409


def test_lane_override_by_lodging_customs_is_stored_and_audited(env: Env) -> None:
    decl = env.lodge("O-1")
    body = {"lane": "red", "reason": "intelligence from the K-9 unit"}
    assert env.post(f"/declarations/{decl}/lane", body, "cn-customs").status_code == 409
    assess_pending(env.platform)
    assessed = env.get(f"/declarations/{decl}/risk", "cn-customs").json()["assessed_lane"]
    for who in ("cn-broker", "kz-customs", "karamay"):
        assert env.post(f"/declarations/{decl}/lane", body, who).status_code == 404, who
    short = env.post(f"/declarations/{decl}/lane", {"lane": "red", "reason": "x"}, "cn-customs")
    assert short.status_code == 422 and short.json()["errors"][0]["field"] == "/reason"
    r = env.post(f"/declarations/{decl}/lane", body, "cn-customs")
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["lane"] == "red" and out["assessed_lane"] == assessed
    assert out["override"]["reason"] == body["reason"]
    assert out["override"]["by"] == env.ids["cn-customs"]
    assert env.get(f"/declarations/{decl}", "cn-broker").json()["lane"] == "red"
    purpose = {"Silkgate-Purpose": "customs_control"}  # pre-arrival: the lane is left out
    assert "lane" not in env.get(f"/declarations/{decl}", "kz-customs", headers=purpose).json()
    trail = env.get(f"/declarations/{decl}/audit", "cn-customs").json()
    assert trail[-1]["action"] == "declaration.lane_overridden"
    expected = {
        "version": 1,
        "from": assessed,
        "to": "red",
        "assessed_lane": assessed,
        "reason": body["reason"],
    }
    assert trail[-1]["payload_digest"] == audit.payload_digest(expected)
    # an amendment is a new version: it is assessed afresh and the override does not carry over
    amended = export_cn_to_kz("O-1")
    amended["goods_items"][0]["description"] = "amended"
    env.client.put(f"{API}/declarations/{decl}", json=amended, headers=env.auth("cn-broker"))
    assess_pending(env.platform)
    again = env.get(f"/declarations/{decl}/risk", "cn-customs").json()
    assert again["version"] == 2 and again["override"] is None


def test_released_declaration_keeps_its_lane(env: Env) -> None:
    decl = env.lodge("O-2")
    assess_pending(env.platform)
    for to in ("at_border", "released"):
        r = env.post(f"/declarations/{decl}/transitions", {"to": to}, "cn-customs")
        assert r.status_code == 200, r.text
    body = {"lane": "green", "reason": "too late for that"}
    assert env.post(f"/declarations/{decl}/lane", body, "cn-customs").status_code == 409
