"""A labelled history on the platform: lodged, assessed and inspected declarations over 60 days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from silkgate.declarations import service as declarations
from silkgate.declarations.models import DeclarationVersion
from silkgate.demo.traffic import TrafficGenerator
from silkgate.risk.platform import service as declaration_risk
from silkgate.risk.platform.schemas import InspectionIn
from silkgate.risk.platform.worker import assess_pending
from tests.risk.platform_env import Env

SMALL_GRID = [{"num_leaves": 7, "min_data_in_leaf": 5}]


def cn_exports(n: int, seed: int = 5, prefix: str = "H") -> list[dict[str, Any]]:
    """``n`` China→Kazakhstan export bodies (lodged with Khorgos customs)."""
    gen = TrafficGenerator(seed=seed)
    out: list[dict[str, Any]] = []
    while len(out) < n:
        body = gen.declaration(lrn_prefix=prefix)
        if body["type"] == "export" and body["crossing"]["exit_country"] == "CN":
            out.append(body)
    return out


def is_bad(body: dict[str, Any]) -> bool:
    """The hidden rule the inspections follow: some chapters are always misdeclared."""
    return int(body["goods_items"][0]["hs_code"][:2]) % 2 == 1


def inspected_history(env: Env, n: int = 160, days: int = 60) -> list[str]:
    """Lodge, assess and inspect ``n`` declarations, their versions spread over ``days``."""
    bodies = cn_exports(n)
    report = declarations.create_batch(env.platform, env.caller("cn-broker"), bodies)
    ids = [line.id for line in report.lines if line.id]
    assert len(ids) == n
    assess_pending(env.platform)
    start = datetime.now(UTC) - timedelta(days=days)
    with env.platform.db.session() as s:
        for i, decl_id in enumerate(ids):
            s.execute(
                update(DeclarationVersion)
                .where(DeclarationVersion.declaration_id == decl_id)
                .values(created_at=start + timedelta(days=i * days // n))
            )
    customs = env.caller("cn-customs")
    for decl_id, body in zip(ids, bodies, strict=True):
        outcome: dict[str, Any] = {"outcome": "no_discrepancy"}
        if is_bad(body):
            outcome = {
                "outcome": "discrepancy",
                "findings": [{"kind": "misdescribed_goods", "text": "not as declared"}],
            }
        declaration_risk.record_inspection(
            env.platform, customs, decl_id, InspectionIn.model_validate(outcome)
        )
    return ids
