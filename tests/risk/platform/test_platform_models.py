"""Models on the platform: trained from recorded inspections, registered, one active per office."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from silkgate.audit.models import AuditEntry
from silkgate.core.errors import Conflict, NotFound, ValidationFailed
from silkgate.risk.platform import model_registry
from silkgate.risk.platform import profiles as profile_service
from silkgate.risk.platform.assessor import Assessor
from silkgate.risk.platform.models import RiskAssessment
from silkgate.risk.platform.training_data import item_labels, labelled_frame
from silkgate.risk.platform.worker import assess_pending
from tests.risk.platform_env import API, Env
from tests.risk.platform_history import SMALL_GRID, cn_exports, inspected_history, is_bad

MODEL_PROFILE = {"model": {"rates": {"red": 30.0, "yellow": 20.0}, "exploration": 0.0}}


def test_item_labels_follow_the_findings() -> None:
    assert item_labels("no_discrepancy", [], 3) == [0.0, 0.0, 0.0]
    assert item_labels("discrepancy", [{"kind": "other", "text": "x"}], 2) == [1.0, 1.0]
    named = [{"kind": "origin", "text": "x", "item": 2}, {"kind": "other", "text": "y"}]
    assert item_labels("discrepancy", named, 3) == [0.0, 1.0, 0.0]


def test_training_frame_comes_from_inspected_versions(env: Env) -> None:
    ids = inspected_history(env, n=40)
    frame = labelled_frame(env.platform, "CN-KHORGOS")
    bodies = cn_exports(40)
    assert len(frame) == sum(len(b["goods_items"]) for b in bodies)
    assert set(frame["declaration_id"]) == set(ids)
    assert frame["label"].sum() == sum(len(b["goods_items"]) for b in bodies if is_bad(b))
    assert frame["date"].is_monotonic_increasing and frame["date"].nunique() > 30
    assert set(frame["office"]) == {"CN-KHORGOS"} and set(frame["direction"]) == {"export"}
    assert frame["importer"].notna().all() and frame["currency"].notna().all()
    assert labelled_frame(env.platform, "KZ-NURZHOLY").empty


def test_train_activate_assess_and_switch_models(env: Env) -> None:
    with pytest.raises(ValidationFailed) as refused:
        model_registry.train_from_platform(env.platform, "test", "CN-KHORGOS", grid=SMALL_GRID)
    assert refused.value.errors[0].code == "not_enough_data"
    inspected_history(env)
    meta, folder = model_registry.train_from_platform(
        env.platform, "test", "CN-KHORGOS", grid=SMALL_GRID
    )
    assert folder.parent == env.platform.settings.risk_artifact_dir
    assert meta.office == "CN-KHORGOS" and meta.mapping == "platform"
    assert meta.training.positives > 0 and meta.validation_report is not None
    (entry,) = model_registry.entries(env.platform)
    assert (entry.model_id, entry.registered, entry.active_for) == (meta.model_id, True, [])

    with pytest.raises(Conflict):
        model_registry.activate(env.platform, "test", meta.model_id, "KZ-NURZHOLY")
    with pytest.raises(NotFound):
        model_registry.activate(env.platform, "test", "no-such-model", "CN-KHORGOS")
    model_registry.activate(env.platform, "test", meta.model_id, "CN-KHORGOS")
    assert model_registry.entries(env.platform)[0].active_for == ["CN-KHORGOS"]
    profile_service.save(env.platform, "test", "CN-KHORGOS", "export", MODEL_PROFILE)

    decl = env.lodge("M-1")
    assess_pending(env.platform)
    risk = env.get(f"/declarations/{decl}/risk", "cn-customs").json()
    assert risk["model_id"] == meta.model_id and 0.0 <= risk["score"] <= 1.0
    assert risk["explanation"] and all(c["text"] for c in risk["explanation"])
    assert all(c["item"] >= 1 for c in risk["explanation"])  # the body has several items

    model_registry.deactivate(env.platform, "test", "CN-KHORGOS")
    decl2 = env.lodge("M-2")
    assess_pending(env.platform)
    assert env.get(f"/declarations/{decl2}/risk", "cn-customs").json()["model_id"] is None
    with env.platform.db.session() as s:
        actions = [
            e.action
            for e in s.scalars(
                select(AuditEntry).where(AuditEntry.action.startswith("risk.model_"))
            )
        ]
    assert actions == ["risk.model_registered", "risk.model_activated", "risk.model_deactivated"]

    # a replaced artifact is not used: the assessment says so instead of silently using it
    model_registry.activate(env.platform, "test", meta.model_id, "CN-KHORGOS")
    (folder / "model.txt").write_text("tree\n", encoding="utf-8")
    decl3 = env.lodge("M-3")
    assert Assessor(env.platform).run_once(10) == 1  # a fresh process: nothing cached
    risk3 = env.get(f"/declarations/{decl3}/risk", "cn-customs").json()
    assert risk3["model_id"] is None and risk3["score"] is None
    assert "does not match the registered digest" in risk3["reasons"][0]

    # the day's capacity for model selections holds across batches (counted from stored rows)
    model_registry.deactivate(env.platform, "test", "CN-KHORGOS")
    retrained, _ = model_registry.train_from_platform(
        env.platform, "test", "CN-KHORGOS", activate_it=True, grid=SMALL_GRID
    )
    assert model_registry.entries(env.platform)[0].active_for == ["CN-KHORGOS"]
    assert retrained.training.rows == meta.training.rows

    def model_reds() -> int:
        with env.platform.db.session() as s:
            return len(
                [
                    a
                    for a in s.scalars(select(RiskAssessment))
                    if a.lane == "red" and a.source in ("model", "exploration")
                ]
            )

    before = model_reds()
    # on a day of its own (the platform's clock, which the assessor counts the day by), so a
    # real midnight passing during the test cannot open a second day's capacity
    day = (datetime.now(UTC) + timedelta(days=1)).replace(hour=1, minute=0, second=0)
    env.platform.clock = lambda: day
    capped = {"model": {"rates": {"red": 90.0}, "daily_capacity": {"red": 1}}}
    profile_service.save(env.platform, "test", "CN-KHORGOS", "export", capped)
    # bodies of a chapter the inspections always found misdeclared: the model scores them high
    # whatever the day's date features make of the one standard body
    misdeclared = [b for b in cn_exports(60, prefix="CAP") if is_bad(b)][:6]
    assert len(misdeclared) == 6
    for body in misdeclared:
        r = env.client.post(f"{API}/declarations", json=body, headers=env.auth("cn-broker"))
        assert r.status_code == 201, r.text
        assess_pending(env.platform)
    assert model_reds() == before + 1

    # a lane the model decided carries the model's reasons in words, stored and served; the
    # explanation is that of the item that decided the lane (here the day's capacity can give
    # the last red to an item that is not the highest-scored)
    wide = {"model": {"rates": {"red": 90.0}, "exploration": 0.0}}
    profile_service.save(env.platform, "test", "CN-KHORGOS", "export", wide)
    for i in range(4):
        env.lodge(f"WHY-{i}")
    assess_pending(env.platform)
    with env.platform.db.session() as s:
        by_model = [
            (a.declaration_id, a.reasons, a.explanation)
            for a in s.scalars(select(RiskAssessment))
            if a.source == "model"
        ]
    assert any(any("main reasons" in r for r in reasons) for _, reasons, _ in by_model)
    for decl_id, reasons, explanation in by_model:
        raising = [c["text"] for c in explanation if c["contribution"] > 0]
        why = "the model's main reasons: " + "; ".join(raising[:3])
        assert any(r.endswith(why) for r in reasons) or not raising, (reasons, explanation)
        served = env.get(f"/declarations/{decl_id}/risk", "cn-customs").json()
        assert served["reasons"] == reasons
