"""A small platform history touching every audited record, for the tampering tests."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from typer.testing import CliRunner, Result

from silkgate.core.platform import Platform
from silkgate.declarations import service as declarations
from silkgate.declarations.schemas import DeclarationStatus as S
from silkgate.registry import service as registry
from silkgate.risk.platform import profiles as profile_service
from silkgate.risk.platform import service as declaration_risk
from silkgate.risk.platform.schemas import InspectionIn, LaneOverrideIn
from silkgate.risk.platform.worker import assess_pending
from silkgate.risk.selectivity.schemas import Lane
from tests.factories import caller, export_cn_to_kz, seeded

PROFILE = {
    "criteria": [
        {"name": "fuel", "description": "fuel is checked", "when": 'hs2 == "27"', "lane": "red"}
    ]
}


@dataclass
class World:
    """``amended``: two versions, assessed, lane overridden; ``released``: inspected and
    released; ``assessed``: assessed only; ``accepted``: not assessed yet."""

    platform: Platform
    ids: dict[str, str]
    amended: str
    released: str
    assessed: str
    accepted: str
    api_key_prefix: str


def build(platform: Platform) -> World:
    ids = seeded(platform)
    key, _ = registry.issue_api_key(platform, ids["cn-broker"], "system", "test")
    broker = caller(platform, ids, "cn-broker")
    customs = caller(platform, ids, "cn-customs")
    profile_service.save(platform, "test", "CN-KHORGOS", "export", PROFILE)
    amended = declarations.create(platform, broker, export_cn_to_kz("W-1"))[0].id
    body = export_cn_to_kz("W-1")
    body["goods_items"][0]["description"] = "amended description of the goods"
    declarations.amend(platform, broker, amended, body)
    released = declarations.create(platform, broker, export_cn_to_kz("W-2"))[0].id
    assessed = declarations.create(platform, broker, export_cn_to_kz("W-3"))[0].id
    assess_pending(platform)
    declaration_risk.override_lane(
        platform, customs, amended, LaneOverrideIn(lane=Lane.RED, reason="intelligence")
    )
    declarations.transition(platform, customs, released, S.AT_BORDER, None)
    declaration_risk.record_inspection(
        platform, customs, released, InspectionIn(outcome="no_discrepancy", note="seen")
    )
    declarations.transition(platform, customs, released, S.RELEASED, None)
    accepted = declarations.create(platform, broker, export_cn_to_kz("W-4"))[0].id
    return World(platform, ids, amended, released, assessed, accepted, key.prefix)


def run_verify(platform: Platform, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    """`silkgate audit verify` against the test platform's database and data dir."""
    from silkgate.cli import app

    monkeypatch.setenv("SILKGATE_DATABASE_URL", platform.settings.database_url)
    monkeypatch.setenv("SILKGATE_DEMO_MODE", "true")
    monkeypatch.setenv("SILKGATE_DATA_DIR", str(platform.settings.data_dir))
    return CliRunner().invoke(app, ["audit", "verify", *args])
