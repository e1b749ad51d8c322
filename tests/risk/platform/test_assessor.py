"""The assessor on the platform: every accepted declaration gets a lane, stored and audited."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from silkgate.app import create_app
from silkgate.audit import service as audit
from silkgate.audit.keys import trusted_keys
from silkgate.audit.models import AuditEntry
from silkgate.core.platform import Platform
from silkgate.declarations import service as declarations
from silkgate.risk.platform import assessor as assessor_mod
from silkgate.risk.platform import profiles as profile_service
from silkgate.risk.platform.assessor import Assessor, assessment_payload
from silkgate.risk.platform.models import RiskAssessment
from silkgate.risk.platform.records import combine
from silkgate.risk.platform.worker import assess_pending
from silkgate.risk.selectivity.schemas import Assessment, Contribution, FiredCriterion, Lane
from tests.factories import export_cn_to_kz
from tests.risk.platform_env import API, Env

EVERYTHING_RED = {
    "criteria": [
        {
            "name": "all-goods",
            "description": "every consignment is inspected this week",
            "when": 'hs2 != ""',
            "lane": "red",
        }
    ]
}


def _rows(platform: Platform) -> list[RiskAssessment]:
    with platform.db.session() as s:
        return list(s.scalars(select(RiskAssessment).order_by(RiskAssessment.id)))


def test_lodged_declaration_is_assessed_stored_and_audited(env: Env) -> None:
    decl = env.lodge("A-1")
    assert env.get(f"/declarations/{decl}", "cn-broker").json()["lane"] is None
    assert assess_pending(env.platform) == 1
    assert assess_pending(env.platform) == 0
    out = env.get(f"/declarations/{decl}", "cn-broker").json()
    assert out["status"] == "risk_assessed"
    risk = env.get(f"/declarations/{decl}/risk", "cn-customs").json()
    assert risk["lane"] == out["lane"] == risk["assessed_lane"]
    assert (risk["office"], risk["direction"], risk["version"]) == ("CN-KHORGOS", "export", 1)
    assert risk["profile_version"] is None  # the built-in default: random selection only
    assert risk["source"] in ("default", "random") and risk["reasons"]
    assert risk["score"] is None and risk["model_id"] is None
    trail = env.get(f"/declarations/{decl}/audit", "cn-broker").json()
    assert trail[-1]["action"] == "declaration.risk_assessed" and trail[-1]["actor"] == "platform"
    # the audit entry's digest covers exactly what is stored (round trip through the database)
    (row,) = _rows(env.platform)
    assert trail[-1]["payload_digest"] == audit.payload_digest(assessment_payload(row))
    with env.platform.db.session() as s:
        assert audit.verify_chain(s, trusted_keys(env.platform.settings)).ok


def test_profile_criteria_decide_the_lane_and_explain_it(env: Env) -> None:
    profile_service.save(env.platform, "test", "CN-KHORGOS", "export", EVERYTHING_RED)
    decl = env.lodge("A-2")
    n_items = len(export_cn_to_kz()["goods_items"])
    assess_pending(env.platform)
    risk = env.get(f"/declarations/{decl}/risk", "cn-customs").json()
    assert risk["lane"] == "red" and risk["source"] == "criterion"
    assert risk["profile_version"] == 1
    assert risk["fired"] == [
        {
            "name": "all-goods",
            "lane": "red",
            "description": "every consignment is inspected this week",
            "selected": True,
            "items": list(range(1, n_items + 1)),
        }
    ]
    assert "criterion all-goods: every consignment is inspected this week" in risk["reasons"]


def test_only_lodging_customs_see_the_assessment(env: Env) -> None:
    profile_service.save(env.platform, "test", "CN-KHORGOS", "export", EVERYTHING_RED)
    decl = env.lodge("A-3")
    assess_pending(env.platform)
    assert env.get(f"/declarations/{decl}", "cn-broker").json()["lane"] == "red"
    assert env.get(f"/declarations/{decl}", "cn-customs").json()["lane"] == "red"
    # the other side reads pre-arrival data for customs control: the lane is left out
    purpose = {"Silkgate-Purpose": "customs_control"}
    pre_arrival = env.get(f"/declarations/{decl}", "kz-customs", headers=purpose).json()
    assert pre_arrival["pre_arrival"] is True and "lane" not in pre_arrival
    listed = env.get("/declarations", "kz-customs", headers=purpose).json()["items"]
    assert ["lane" in d for d in listed] == [False]
    for who in ("cn-broker", "kz-customs", "karamay", "cn-carrier"):
        r = env.get(f"/declarations/{decl}/risk", who, headers=purpose)
        assert r.status_code == 404, who
        assert r.headers["content-type"].startswith("application/problem+json")


def test_amended_declaration_is_assessed_again(env: Env) -> None:
    decl = env.lodge("A-4")
    assess_pending(env.platform)
    profile_service.save(env.platform, "test", "CN-KHORGOS", "export", EVERYTHING_RED)
    body = export_cn_to_kz("A-4")
    body["goods_items"][0]["description"] = "amended description"
    r = env.client.put(f"{API}/declarations/{decl}", json=body, headers=env.auth("cn-broker"))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "accepted" and r.json()["lane"] is None
    assert assess_pending(env.platform) == 1
    risk = env.get(f"/declarations/{decl}/risk", "cn-customs").json()
    assert risk["version"] == 2 and risk["lane"] == "red"
    assert [(a.version, a.profile_version) for a in _rows(env.platform)] == [(1, None), (2, 1)]


def test_a_failing_batch_leaves_nothing_half_written(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    decl = env.lodge("A-5")

    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(assessor_mod.audit, "append", broken)
    with pytest.raises(RuntimeError):
        assess_pending(env.platform)
    monkeypatch.undo()
    assert _rows(env.platform) == []
    assert env.get(f"/declarations/{decl}", "cn-broker").json()["status"] == "accepted"
    assert assess_pending(env.platform) == 1


def test_concurrent_assessors_never_assess_a_declaration_twice(env: Env) -> None:
    bodies = [export_cn_to_kz(f"C-{i}") for i in range(60)]
    report = declarations.create_batch(env.platform, env.caller("cn-broker"), bodies)
    assert report.accepted == 60
    other = Platform(env.platform.settings)  # a second process, as far as the database knows
    workers = [Assessor(env.platform), Assessor(other)]
    counts = [0, 0]
    start = threading.Barrier(2)

    def run(i: int) -> None:
        start.wait()
        while (n := workers[i].run_once(7)) > 0:
            counts[i] += n

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.close()
    rows = _rows(env.platform)
    assert sum(counts) == 60 and len(rows) == 60
    assert len({r.declaration_id for r in rows}) == 60
    with env.platform.db.session() as s:
        logged = s.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "declaration.risk_assessed")
        )
        assert logged == 60 and audit.verify_chain(s, trusted_keys(env.platform.settings)).ok


def test_worker_thread_assesses_without_being_asked(env: Env) -> None:
    """The API's worker thread gives a lodged declaration its lane on its own (the latency
    figure belongs to bench/assessor.py, not to a timed test on a shared machine)."""
    with TestClient(create_app(platform=env.platform)) as client:
        started = time.perf_counter()
        r = client.post(
            f"{API}/declarations", json=export_cn_to_kz("W-1"), headers=env.auth("cn-broker")
        )
        decl = r.json()["id"]
        lane = None
        while lane is None and time.perf_counter() - started < 30.0:
            time.sleep(0.02)
            lane = client.get(f"{API}/declarations/{decl}", headers=env.auth("cn-broker")).json()[
                "lane"
            ]
        assert lane in {lane.value for lane in Lane}
        assert client.app.state.risk_worker.running  # type: ignore[attr-defined]
    assert not client.app.state.risk_worker.running  # type: ignore[attr-defined]


def _item(
    lane: Lane, source: str, score: float | None, fired: list[str], reasons: list[str]
) -> Any:
    return Assessment(
        declaration_id="D",
        lane=lane,
        source=source,  # type: ignore[arg-type]
        score=score,
        model_id="m1" if score is not None else None,
        fired=[
            FiredCriterion(name=n, lane=Lane.YELLOW, description=n, selected=True) for n in fired
        ],
        explanation=[Contribution(feature="hs6", contribution=score or 0.0, text=f"s{score}")],
        reasons=reasons or ["no control: release"],
    )


def test_items_combine_into_the_strictest_lane_and_highest_score() -> None:
    items = [
        _item(Lane.GREEN, "default", 0.1, [], []),
        _item(Lane.RED, "model", 0.9, [], ["model score 0.900 ≥ 0.800 for red"]),
        _item(Lane.YELLOW, "criterion", 0.3, ["fruit"], ["criterion fruit: fruit"]),
        _item(Lane.YELLOW, "random", 0.2, [], ["random selection for yellow (5.0%)"]),
    ]
    c = combine(items)
    assert (c.lane, c.source, c.score) == (Lane.RED, "model", 0.9)
    assert c.explanation == [{"feature": "hs6", "contribution": 0.9, "text": "s0.9", "item": 2}]
    assert c.fired[0]["items"] == [3]
    assert c.reasons == [
        "item 2: model score 0.900 ≥ 0.800 for red",
        "item 3: criterion fruit: fruit",
        "item 4: random selection for yellow (5.0%)",
    ]
    green = combine([_item(Lane.GREEN, "default", None, [], [])] * 2, ["note"])
    assert green.lane is Lane.GREEN and green.reasons == ["note", "no control: release"]


def test_an_unreadable_stored_profile_falls_back_to_the_default_and_says_so(env: Env) -> None:
    from sqlalchemy import update

    from silkgate.risk.platform.models import RiskProfile

    profile_service.save(env.platform, "test", "CN-KHORGOS", "export", EVERYTHING_RED)
    with env.platform.db.session() as s:
        s.execute(update(RiskProfile).values(data={"office": "CN-KHORGOS", "criteria": [{}]}))
    decl = env.lodge("A-6")
    assert assess_pending(env.platform) == 1
    risk = env.get(f"/declarations/{decl}/risk", "cn-customs").json()
    assert risk["profile_version"] is None
    assert risk["reasons"][0] == "profile version 1 cannot be read: built-in default applied"


def test_openapi_documents_the_risk_routes(env: Env) -> None:
    paths = env.client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/declarations/{declaration_id}/risk",
        "/api/v1/declarations/{declaration_id}/lane",
        "/api/v1/declarations/{declaration_id}/inspection",
        "/api/v1/risk/profiles/{office}/{direction}",
    ):
        assert path in paths, path
    put = paths["/api/v1/risk/profiles/{office}/{direction}"]["put"]
    assert set(put["requestBody"]["content"]) == {"application/json", "application/toml"}
