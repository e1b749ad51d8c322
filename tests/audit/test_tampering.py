"""Every edit of a stored fact that the log recorded fails `silkgate audit verify`, naming the
entity and what differs (each of these passed verify before the tables were checked)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from silkgate.core.platform import Platform
from silkgate.declarations.models import Declaration, DeclarationVersion, GoodsItem, IdempotencyKey
from silkgate.registry.models import ApiKey, Organization
from silkgate.risk.platform.models import (
    ActiveRiskModel,
    InspectionResult,
    RiskAssessment,
    RiskModelRecord,
    RiskProfile,
)
from tests.audit.world import World, build, run_verify

Tamper = Callable[[Session, World], None]


def _payload_edit(s: Session, w: World) -> None:
    d = s.get(Declaration, w.assessed)
    assert d is not None
    d.payload = {**d.payload, "invoice": {**d.payload["invoice"], "total_amount": 1.0}}


def _version_edit(s: Session, w: World) -> None:
    v = s.get(DeclarationVersion, (w.amended, 1))
    assert v is not None
    v.payload = {**v.payload, "lrn": "W-1"}  # unchanged value, re-serialised: still equal
    v.payload = {**v.payload, "seals": ["FORGED-1"]}


def _item_edit(s: Session, w: World) -> None:
    s.execute(
        update(GoodsItem)
        .where(GoodsItem.declaration_id == w.assessed, GoodsItem.item_no == 1)
        .values(gross_mass_kg=1.0)
    )


def _item_delete(s: Session, w: World) -> None:
    s.execute(
        delete(GoodsItem).where(
            GoodsItem.declaration_id == w.amended, GoodsItem.version == 2, GoodsItem.item_no == 1
        )
    )


def _status_edit(s: Session, w: World) -> None:
    s.execute(update(Declaration).where(Declaration.id == w.released).values(status="held"))


def _lane_edit(s: Session, w: World) -> None:
    s.execute(update(Declaration).where(Declaration.id == w.assessed).values(lane="blue"))


def _header_edit(s: Session, w: World) -> None:
    s.execute(
        update(Declaration).where(Declaration.id == w.assessed).values(total_invoice_value=1.0)
    )


def _trader_edit(s: Session, w: World) -> None:
    s.execute(
        update(DeclarationVersion)
        .where(DeclarationVersion.declaration_id == w.assessed)
        .values(trader="CN:SOMEONE-ELSE")
    )


def _version_crossing_edit(s: Session, w: World) -> None:
    s.execute(
        update(DeclarationVersion)
        .where(DeclarationVersion.declaration_id == w.amended, DeclarationVersion.version == 1)
        .values(crossing_code="ALA-DOS")
    )


def _delete_declaration(s: Session, w: World) -> None:
    for table, column in (
        (GoodsItem, GoodsItem.declaration_id),
        (DeclarationVersion, DeclarationVersion.declaration_id),
        (RiskAssessment, RiskAssessment.declaration_id),
        (InspectionResult, InspectionResult.declaration_id),
        (IdempotencyKey, IdempotencyKey.declaration_id),
        (Declaration, Declaration.id),
    ):
        s.execute(delete(table).where(column == w.released))


def _insert_declaration(s: Session, w: World) -> None:
    row = s.execute(select(Declaration.__table__).where(Declaration.id == w.accepted)).one()
    s.execute(
        insert(Declaration.__table__),
        [{**row._asdict(), "id": "ffffffffffff0000000000", "lrn": "GHOST"}],
    )


def _assessment_edit(s: Session, w: World) -> None:
    s.execute(
        update(RiskAssessment)
        .where(RiskAssessment.declaration_id == w.assessed)
        .values(reasons=["nothing to see"])
    )


def _override_removed(s: Session, w: World) -> None:
    s.execute(
        update(RiskAssessment)
        .where(RiskAssessment.declaration_id == w.amended)
        .values(override_lane=None, override_reason=None, overridden_by=None, overridden_at=None)
    )
    s.execute(update(Declaration).where(Declaration.id == w.amended).values(lane="green"))


def _override_reason_edit(s: Session, w: World) -> None:
    s.execute(
        update(RiskAssessment)
        .where(RiskAssessment.declaration_id == w.amended)
        .values(override_reason="nothing happened")
    )


def _inspection_edit(s: Session, w: World) -> None:
    s.execute(
        update(InspectionResult)
        .where(InspectionResult.declaration_id == w.released)
        .values(outcome="discrepancy")
    )


def _inspection_delete(s: Session, w: World) -> None:
    s.execute(delete(InspectionResult).where(InspectionResult.declaration_id == w.released))


def _profile_edit(s: Session, w: World) -> None:
    p = s.scalars(select(RiskProfile)).one()
    p.data = {**p.data, "criteria": []}


def _profile_delete(s: Session, w: World) -> None:
    s.execute(delete(RiskProfile))


def _org_edit(s: Session, w: World) -> None:
    s.execute(
        update(Organization)
        .where(Organization.member_id == w.ids["cn-broker"])
        .values(roles=["broker", "customs"])
    )


def _org_signing_key_edit(s: Session, w: World) -> None:
    s.execute(
        update(Organization)
        .where(Organization.member_id == w.ids["kz-customs"])
        .values(signing_public_key="A" * 43 + "=")
    )


def _org_delete(s: Session, w: World) -> None:
    org = s.scalars(select(Organization).where(Organization.member_id == w.ids["kz-carrier"])).one()
    s.execute(delete(ApiKey).where(ApiKey.organization_id == org.id))
    s.delete(org)


def _api_key_insert(s: Session, w: World) -> None:
    org_id = s.scalar(select(Organization.id).where(Organization.member_id == w.ids["cn-broker"]))
    s.add(
        ApiKey(
            organization_id=org_id,
            prefix="0123456789ab",
            key_hash="0" * 64,
            label="backdoor",
            created_at=datetime.now(UTC),
        )
    )


def _api_key_unrevoke(s: Session, w: World) -> None:
    # revoked through the service first (see the test), then quietly re-enabled
    s.execute(update(ApiKey).where(ApiKey.prefix == w.api_key_prefix).values(revoked_at=None))


def _active_model_insert(s: Session, w: World) -> None:
    now = datetime.now(UTC)
    s.add(
        RiskModelRecord(
            model_id="m-forged",
            office=None,
            path="/tmp/forged",
            model_sha256="0" * 64,
            summary={},
            registered_at=now,
            registered_by="x",
        )
    )
    s.flush()
    s.add(
        ActiveRiskModel(
            office="CN-KHORGOS", model_id="m-forged", activated_at=now, activated_by="x"
        )
    )


CASES: dict[str, tuple[Tamper, str, tuple[str, ...]]] = {
    "current payload": (
        _payload_edit,
        "assessed",
        ("current payload differs", "/invoice/total_amount"),
    ),
    "version payload": (_version_edit, "amended", ("version 1 payload differs",)),
    "goods item": (_item_edit, "assessed", ("goods item 1 of version 1: gross_mass_kg is 1.0",)),
    "goods item deleted": (_item_delete, "amended", ("goods item 1 of version 2 is missing",)),
    "status": (_status_edit, "released", ("status is 'held'", "'released'")),
    "lane": (_lane_edit, "assessed", ("lane is 'blue'",)),
    "header column": (_header_edit, "assessed", ("total_invoice_value is 1.0",)),
    "version trader": (_trader_edit, "assessed", ("version 1: trader is 'CN:SOMEONE-ELSE'",)),
    "version crossing": (
        _version_crossing_edit,
        "amended",
        ("version 1: crossing_code is 'ALA-DOS'", "'KHG-NZH'"),
    ),
    "deleted declaration": (
        _delete_declaration,
        "released",
        ("missing from the declarations table",),
    ),
    "inserted declaration": (_insert_declaration, "", ("ffffffffffff0000000000", "no audit entry")),
    "assessment": (_assessment_edit, "assessed", ("assessment of version 1", "differs")),
    "override removed": (_override_removed, "amended", ("lane override of version 2",)),
    "override reason": (
        _override_reason_edit,
        "amended",
        ("lane override of version 2", "differs"),
    ),
    "inspection": (_inspection_edit, "released", ("inspection result of version 1",)),
    "inspection deleted": (
        _inspection_delete,
        "released",
        ("inspection.recorded for version 1", "missing from risk_inspections"),
    ),
    "profile": (_profile_edit, "", ("risk profile CN-KHORGOS/export", "version 1 differs")),
    "profile deleted": (_profile_delete, "", ("risk profile CN-KHORGOS/export", "missing")),
    "organization": (_org_edit, "", ("/roles", "'customs'")),
    "organization signing key": (_org_signing_key_edit, "", ("/signing_public_key", "AAAA")),
    "organization deleted": (_org_delete, "", ("missing from the organizations table",)),
    "api key inserted": (_api_key_insert, "", ("/api_keys",)),
    "active model": (_active_model_insert, "", ("risk model m-forged", "office CN-KHORGOS")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_tampering_fails_verify_naming_entity_and_difference(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    w = build(platform)  # intact, it verifies: tests/audit/test_anchors.py and below
    tamper, which, expected = CASES[case]
    with platform.db.session() as s:
        tamper(s, w)
    out = run_verify(platform, monkeypatch)
    assert out.exit_code == 1, out.output
    text = " ".join(out.output.split())
    if which:
        assert f"declaration {getattr(w, which)}" in text, text
    for fragment in expected:
        assert fragment in text, text


def test_the_untampered_world_verifies(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    build(platform)
    out = run_verify(platform, monkeypatch)
    assert out.exit_code == 0, out.output
    assert "stored records match the log: 4 declarations" in " ".join(out.output.split())


def test_unrevoked_api_key_is_found(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    from silkgate.registry import service as registry

    w = build(platform)
    registry.revoke_api_key(platform, w.api_key_prefix, "test")
    assert run_verify(platform, monkeypatch).exit_code == 0
    with platform.db.session() as s:
        _api_key_unrevoke(s, w)
    out = run_verify(platform, monkeypatch)
    text = " ".join(out.output.split())
    assert out.exit_code == 1 and "/api_keys" in text and "revoked" in text, text
