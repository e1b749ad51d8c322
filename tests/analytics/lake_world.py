"""A small hand-checkable history for the lake: declarations (one amended), lanes (one
overridden), an inspection, a booking and gate events on both sides of Khorgos–Nur Zholy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from silkgate.analytics import lake, service
from silkgate.analytics.schemas import ExportReport
from silkgate.core.platform import Platform
from silkgate.core.signing import public_key_b64
from silkgate.declarations import service as declarations
from silkgate.declarations.models import Declaration
from silkgate.declarations.schemas import DeclarationStatus as S
from silkgate.gates import service as gates
from silkgate.gates.ingest import sign_event
from silkgate.registry import service as registry
from silkgate.risk.platform import profiles as profile_service
from silkgate.risk.platform import service as declaration_risk
from silkgate.risk.platform.schemas import InspectionIn, LaneOverrideIn
from silkgate.risk.platform.worker import assess_pending
from silkgate.risk.selectivity.schemas import Lane
from tests.factories import export_cn_to_kz
from tests.gates.helpers import event
from tests.queue.env import NOW, Env, make_env

PROFILE = {"criteria": [{"name": "all", "description": "x", "when": "true", "lane": "yellow"}]}


@dataclass
class World:
    """``amended``: 2 versions (v2 has 3 items); ``inspected``: lane overridden to red,
    inspected with a discrepancy; ``plain``: assessed only; one booking (its own declaration);
    gate events: 3 on the CN side, 1 on the KZ side."""

    env: Env
    amended: str
    inspected: str
    plain: str
    booking: str

    @property
    def platform(self) -> Platform:
        return self.env.platform

    def export(self, *names: str, **kw: Any) -> ExportReport:
        kw.setdefault("settle", 0)
        return service.export(self.platform, list(names) or None, **kw)

    def lake(self) -> Path:
        return self.platform.settings.lake_dir

    def duck(self) -> Any:
        return lake.connect(self.lake())

    def lrn(self, decl_id: str) -> str:
        with self.platform.db.session() as s:
            return str(s.scalar(select(Declaration.lrn).where(Declaration.id == decl_id)))

    def amend(self, decl_id: str, items: int, **changes: Any) -> None:
        """A new version with the first ``items`` goods items and ``changes`` to the body."""
        body = export_cn_to_kz(self.lrn(decl_id), **changes)
        body["goods_items"] = body["goods_items"][:items]
        body["totals"] = {"packages": sum(g["packages"]["count"] for g in body["goods_items"])}
        body["totals"]["gross_mass_kg"] = round(
            sum(g["gross_mass_kg"] for g in body["goods_items"]), 1
        )
        body["invoice"]["total_amount"] = round(
            sum(g["invoice_value"] for g in body["goods_items"]), 2
        )
        declarations.amend(self.platform, self.env.who("cn-broker"), decl_id, body)

    def second_look(self, decl_id: str, items: int = 2) -> None:
        """After an export: customs overrides the lane to red, then the broker amends to
        ``items`` goods items: one changed lane and one new version for the next export."""
        declaration_risk.override_lane(
            self.platform,
            self.env.who("cn-customs"),
            decl_id,
            LaneOverrideIn(lane=Lane.RED, reason="second look"),
        )
        self.amend(decl_id, items)

    def tick(self, minutes: int = 60) -> None:
        self.env.set_now(self.env.now[0] + timedelta(minutes=minutes))


def build(platform: Platform) -> World:
    env = make_env(platform)
    broker, customs = env.who("cn-broker"), env.who("cn-customs")
    profile_service.save(platform, "test", "CN-KHORGOS", "export", PROFILE)
    ids = [
        declarations.create(platform, broker, export_cn_to_kz(f"L-{n}"))[0].id for n in (1, 2, 3)
    ]
    w = World(env, ids[0], ids[1], ids[2], "")
    w.amend(w.amended, 3)
    w.booking = env.book().id
    assess_pending(platform)
    declaration_risk.override_lane(
        platform, customs, w.inspected, LaneOverrideIn(lane=Lane.RED, reason="intelligence")
    )
    declarations.transition(platform, customs, w.inspected, S.AT_BORDER, None)
    declaration_risk.record_inspection(
        platform,
        customs,
        w.inspected,
        InspectionIn.model_validate(
            {"outcome": "discrepancy", "findings": [{"kind": "misdescribed_goods", "text": "x"}]}
        ),
    )
    _gate_events(w)
    return w


def _gate_events(w: World) -> None:
    for org, side, points in (
        ("cn-customs", "CN", ("gate_in", "scanning", "exit_gate")),
        ("kz-customs", "KZ", ("entry_gate_in",)),
    ):
        key = Ed25519PrivateKey.generate()
        registry.register_signing_key(w.platform, w.env.ids[org], public_key_b64(key), "test")
        bodies = [event(p, 10 * i, side=side) for i, p in enumerate(points)]
        signed = [{"event": b, "signature": sign_event(key, b)} for b in bodies]
        rep = gates.ingest(w.platform, w.env.who(org), signed)
        assert rep.stored == len(points), rep


__all__ = ["NOW", "World", "build"]
