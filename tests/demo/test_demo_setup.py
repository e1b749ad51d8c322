"""`silkgate demo` seeds a working platform: lanes, inspections, an intact audit log."""

from __future__ import annotations

from sqlalchemy import func, select

from silkgate.audit.verify import verify_all
from silkgate.core.platform import Platform
from silkgate.declarations.models import Declaration
from silkgate.demo.service import run_demo_setup
from silkgate.registry.service import authenticate
from silkgate.risk.platform.models import InspectionResult


def test_demo_setup_gives_lanes_inspections_and_keys(platform: Platform) -> None:
    tokens = run_demo_setup(platform, days=3, per_day=60, seed=1)
    with platform.db.session() as s:
        total = s.scalar(select(func.count()).select_from(Declaration))
        unassessed = s.scalar(
            select(func.count()).select_from(Declaration).where(Declaration.lane.is_(None))
        )
        inspections = s.scalar(select(func.count()).select_from(InspectionResult))
        released = s.scalar(
            select(func.count()).select_from(Declaration).where(Declaration.status == "released")
        )
    assert total == 180 and unassessed == 0
    assert released and released > 60
    assert inspections is not None and inspections >= 1
    assert all(authenticate(platform, t) is not None for t in tokens.values())
    outcome = verify_all(platform)
    assert outcome.chain.ok and outcome.tables is not None
    assert outcome.tables.problems == []
    assert outcome.tables.checked["declarations"] == 180
