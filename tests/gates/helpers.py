"""Gate-event test helpers: demo registry with signing keys, signed event bodies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from silkgate.core.platform import Platform
from silkgate.core.signing import public_key_b64
from silkgate.declarations import service as declarations
from silkgate.gates.ingest import sign_event
from silkgate.registry import service as registry
from silkgate.registry.service import Caller
from tests.factories import caller, export_cn_to_kz, seeded

T0 = datetime(2025, 11, 10, 8, 0, tzinfo=UTC)


class World:
    """Seeded organizations, keys for both customs and the CN e-port, one accepted declaration."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.ids = seeded(platform)
        self.keys: dict[str, Ed25519PrivateKey] = {}
        for org in ("cn-customs", "kz-customs", "cn-eport"):
            key = Ed25519PrivateKey.generate()
            registry.register_signing_key(platform, self.ids[org], public_key_b64(key), "test")
            self.keys[org] = key
        self.callers: dict[str, Caller] = {k: caller(platform, self.ids, k) for k in self.ids}
        out, _ = declarations.create(platform, self.callers["cn-broker"], export_cn_to_kz("G-1"))
        self.decl = out.id

    def signed(
        self, org: str, event: dict[str, Any], key: Ed25519PrivateKey | None = None
    ) -> dict[str, Any]:
        return {"event": event, "signature": sign_event(key or self.keys[org], event)}


def event(
    point: str,
    minutes: float,
    side: str = "CN",
    plate: str = "123ABC02",
    decl: str | None = None,
    offset_h: int = 8,
    **extra: Any,
) -> dict[str, Any]:
    """An event body at T0 + minutes, written with the side's local offset."""
    from datetime import timezone

    at = (T0 + timedelta(minutes=minutes)).astimezone(timezone(timedelta(hours=offset_h)))
    step = {
        "waiting_area": "arriving",
        "gate_in": "arriving",
        "release": "accepting",
        "exit_gate": "departing",
    }
    body: dict[str, Any] = {
        "eventTime": at.isoformat(),
        "bizStep": step.get(point, "inspecting"),
        "readPoint": point,
        "crossing": "KHG-NZH",
        "side": side,
        "truck": {"nationality": "KZ", "plate": plate},
    }
    if decl:
        body["bizTransactionList"] = [{"type": "declaration", "bizTransaction": decl}]
    body.update(extra)
    return body
