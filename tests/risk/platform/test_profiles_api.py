"""Selectivity profiles through the API: versions, JSON and TOML, refused rules, access."""

from __future__ import annotations

import tomllib

from sqlalchemy import select

from silkgate.audit.models import AuditEntry
from silkgate.risk.platform.records import DEFAULT_RANDOM_RATES
from silkgate.risk.platform.worker import assess_pending
from tests.risk.platform_env import Env

PATH = "/risk/profiles/CN-KHORGOS/export"
TOML = """
description = "Khorgos exports, week 48"
seed = 48
[lists]
watched = ["0000000000000000"]
[[criteria]]
name = "textiles"
description = "Textiles: documentary check"
when = 'hs2 in ["61", "62", "63"]'
lane = "yellow"
[random.rates]
red = 1.0
"""
GOOD_JSON = {
    "description": "everything to documentary check",
    "criteria": [
        {"name": "all", "description": "every consignment", "when": 'hs2 != ""', "lane": "yellow"}
    ],
}
TOML_HEADERS = {"Content-Type": "application/toml"}


def test_default_profile_applies_until_one_is_saved(env: Env) -> None:
    r = env.get(PATH, "cn-customs")
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["builtin"] is True and out["version"] is None
    assert out["profile"]["random"]["rates"] == {
        k.value: v for k, v in DEFAULT_RANDOM_RATES.items()
    }
    assert out["profile"]["criteria"] == [] and out["profile"]["model"]["enabled"] is False


def test_versions_are_stored_audited_and_used(env: Env) -> None:
    first = env.put(PATH, "cn-customs", json=GOOD_JSON)
    assert first.status_code == 200, first.text
    assert (first.json()["version"], first.json()["builtin"]) == (1, False)
    second = env.put(PATH, "cn-customs", content=TOML, headers=TOML_HEADERS)
    assert second.status_code == 200, second.text
    assert second.json()["version"] == 2
    assert second.json()["profile"]["criteria"][0]["name"] == "textiles"
    assert env.get(PATH, "cn-customs").json()["version"] == 2
    assert env.get(PATH + "?version=1", "cn-customs").json()["profile"]["criteria"][0]["name"] == (
        "all"
    )
    assert env.get(PATH + "?version=9", "cn-customs").status_code == 404
    as_toml = env.get(PATH, "cn-customs", headers={"Accept": "application/toml"})
    assert as_toml.headers["content-type"].startswith("application/toml")
    parsed = tomllib.loads(as_toml.text)
    assert parsed["version"] == 2 and parsed["seed"] == 48 and parsed["office"] == "CN-KHORGOS"
    listed = env.get("/risk/profiles/CN-KHORGOS", "cn-customs").json()
    assert [(p["direction"], p["version"]) for p in listed] == [("export", 1), ("export", 2)]
    with env.platform.db.session() as s:
        saved = list(
            s.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "risk.profile_saved")
                .order_by(AuditEntry.seq)
            )
        )
    assert [e.entity_id for e in saved] == ["CN-KHORGOS/export"] * 2
    assert saved[1].payload_digest == second.json()["digest"]
    assert saved[1].actor == env.ids["cn-customs"]
    decl = env.lodge("P-1")
    assess_pending(env.platform)
    assert env.get(f"/declarations/{decl}/risk", "cn-customs").json()["profile_version"] == 2


def _errors(r: object) -> set[tuple[str | None, str]]:
    assert r.status_code == 422, r.text  # type: ignore[attr-defined]
    return {(e.get("field"), e["code"]) for e in r.json()["errors"]}  # type: ignore[attr-defined]


def test_bad_profiles_are_refused_with_position_and_reason(env: Env) -> None:
    bad_rule = {
        "criteria": [
            GOOD_JSON["criteria"][0],
            {"name": "n", "description": "d", "when": "origin = 7", "lane": "red"},
            {"name": "m", "description": "d", "when": "net_mass >", "lane": "red"},
        ]
    }
    r = env.put(PATH, "cn-customs", json=bad_rule)
    assert _errors(r) == {("/criteria/1/when", "rule"), ("/criteria/2/when", "rule")}
    messages = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert messages["/criteria/1/when"] == "cannot compare text with a number at position 8"
    assert "at position" in messages["/criteria/2/when"]
    assert (None, "toml_syntax") in _errors(
        env.put(PATH, "cn-customs", content="criteria = [", headers=TOML_HEADERS)
    )
    assert (None, "malformed_json") in _errors(
        env.put(PATH, "cn-customs", content=b"{nope", headers={"Content-Type": "application/json"})
    )
    assert ("/office", "mismatch") in _errors(
        env.put(PATH, "cn-customs", json={**GOOD_JSON, "office": "KZ-NURZHOLY"})
    )
    assert ("/model/model_id", "not_allowed") in _errors(
        env.put(PATH, "cn-customs", json={"model": {"model_id": "risk-x"}})
    )
    assert ("/random/rates", "value_error") in _errors(
        env.put(PATH, "cn-customs", json={"random": {"rates": {"red": 80, "yellow": 30}}})
    )
    assert ("/criteria/0/lane", "enum") in _errors(
        env.put(
            PATH,
            "cn-customs",
            json={"criteria": [{**GOOD_JSON["criteria"][0], "lane": "purple"}]},
        )
    )
    assert env.get("/risk/profiles/CN-KHORGOS", "cn-customs").json() == []


def test_only_customs_of_the_office_manage_its_profiles(env: Env) -> None:
    for who in ("kz-customs", "cn-broker", "karamay"):
        assert env.get(PATH, who).status_code == 403, who
        assert env.put(PATH, who, json=GOOD_JSON).status_code == 403, who
    assert env.get("/risk/profiles/XX-NOWHERE/export", "cn-customs").status_code == 404
    assert env.get("/risk/profiles/CN-KHORGOS/sideways", "cn-customs").status_code == 422
    r = env.put("/risk/profiles/KZ-NURZHOLY/import", "kz-customs", json=GOOD_JSON)
    assert r.status_code == 200 and r.json()["office"] == "KZ-NURZHOLY"
