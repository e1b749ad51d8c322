"""A crossing with agreed caps, signing keys and KZ-plated trucks, its clock frozen in 2025
(gate events must not lie ahead of the real clock), for KPI tests that join gate events and
e-queue bookings."""

from __future__ import annotations

import datetime as dt
import itertools
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from silkgate.core.platform import Platform
from silkgate.core.signing import public_key_b64
from silkgate.declarations import service as declarations
from silkgate.declarations.models import Declaration
from silkgate.gates import service as gates
from silkgate.gates.ingest import sign_event
from silkgate.queue import service as queue
from silkgate.queue.models import Booking
from silkgate.queue.schemas import BookingIn, CapIn
from silkgate.registry import service as registry
from silkgate.registry.service import Caller
from tests.factories import caller, export_cn_to_kz, seeded

C0 = datetime(2025, 11, 9, 0, 0, tzinfo=UTC)  # bookings are made then
T0 = datetime(2025, 11, 10, 8, 0, tzinfo=UTC)  # 16:00 on 10 Nov at the crossing (UTC+8)
DAY0 = dt.date(2025, 11, 10)
_N = itertools.count(1)


class KpiWorld:
    """Caps CN 240 / KZ 200 a day (KZ binds) with perishables 10 %, aeo_tir 5 %, live 10 %."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.ids = seeded(platform)
        self.now = [C0]
        platform.clock = lambda: self.now[0]
        self.keys: dict[str, Ed25519PrivateKey] = {}
        for org in ("cn-customs", "kz-customs"):
            key = Ed25519PrivateKey.generate()
            registry.register_signing_key(platform, self.ids[org], public_key_b64(key), "test")
            self.keys[org] = key
        for org, cap in (("cn-customs", 240), ("kz-customs", 200)):
            queue.set_cap(
                platform,
                self.who(org),
                CapIn(
                    crossing="KHG-NZH",
                    exit_country="CN",
                    entry_country="KZ",
                    valid_from=dt.date(2025, 11, 1),
                    daily_cap=cap,
                    quotas={"perishables": 0.1, "aeo_tir": 0.05},  # type: ignore[dict-item]
                    live_share=0.1,
                ),
            )

    def who(self, key: str) -> Caller:
        return caller(self.platform, self.ids, key)

    def set_now(self, when: datetime) -> None:
        self.now[0] = when

    def declaration(
        self, plate: str, lane: str | None = None, lodged: datetime | None = None
    ) -> str:
        """An accepted CN→KZ export for a KZ tractor; lane and lodging time set as given."""
        body = export_cn_to_kz(
            f"K-{next(_N)}", transport={"tractor_plate": plate, "tractor_nationality": "KZ"}
        )
        out, _ = declarations.create(self.platform, self.who("cn-broker"), body)
        with self.platform.db.session() as s:
            d = s.get(Declaration, out.id)
            assert d is not None
            d.lane = lane
            if lodged is not None:
                d.submitted_at = lodged
        return out.id

    def book(
        self,
        plate: str,
        decl: str,
        hour: int = 16,
        day: dt.date = DAY0,
        quota: str = "regular",
        evidence: dict[str, Any] | None = None,
    ) -> str:
        """A booking; its class and evidence then set in the table (their rules are tested
        with the queue)."""
        n = next(_N)
        body = BookingIn.model_validate(
            {
                "crossing": "KHG-NZH",
                "exit_country": "CN",
                "entry_country": "KZ",
                "slot": {"day": day.isoformat(), "hour": hour},
                "truck": {
                    "tractor_plate": plate,
                    "tractor_nationality": "KZ",
                    "vin": f"LZZ1CCND0K{n:07d}"[:17],
                },
                "driver": {"name": "Serik Abenov", "document_number": f"N{n:08d}"},
                "declaration_ids": [decl],
            }
        )
        out = queue.book(self.platform, self.who("cn-broker"), body)
        with self.platform.db.session() as s:
            b = s.get(Booking, out.id)
            assert b is not None
            b.quota_class, b.evidence = quota, evidence or {}
        return out.id

    def report(
        self,
        point: str,
        minutes: float,
        plate: str,
        side: str = "CN",
        refs: list[tuple[str, str]] | None = None,
    ) -> str:
        """Store one signed event at T0 + minutes, written at the side's local offset."""
        org = "cn-customs" if side == "CN" else "kz-customs"
        tz = timezone(timedelta(hours=8 if side == "CN" else 5))
        event: dict[str, Any] = {
            "eventTime": (T0 + timedelta(minutes=minutes)).astimezone(tz).isoformat(),
            "bizStep": "accepting" if point == "release" else "arriving",
            "readPoint": point,
            "crossing": "KHG-NZH",
            "side": side,
            "truck": {"nationality": "KZ", "plate": plate},
        }
        if refs:
            event["bizTransactionList"] = [{"type": t, "bizTransaction": r} for t, r in refs]
        body = {"event": event, "signature": sign_event(self.keys[org], event)}
        frozen = self.now[0]  # the checkpoint reports once the event has happened
        self.now[0] = max(frozen, T0 + timedelta(minutes=minutes))
        try:
            return gates.report(self.platform, self.who(org), body)[0]
        finally:
            self.now[0] = frozen

    def passage(
        self, plate: str, start: float, hours: float, refs: list[tuple[str, str]] | None = None
    ) -> None:
        """waiting area → gate-in → exit gate (CN) → entry gate-in → release (KZ) in ``hours``."""
        total = hours * 60
        self.report("waiting_area", start, plate, refs=refs)
        self.report("gate_in", start + total * 0.2, plate, refs=refs)
        self.report("exit_gate", start + total * 0.5, plate, refs=refs)
        self.report("entry_gate_in", start + total * 0.7, plate, side="KZ", refs=refs)
        self.report("release", start + total, plate, side="KZ", refs=refs)

    def booking_status(self, booking_id: str) -> str:
        with self.platform.db.session() as s:
            return str(s.scalar(select(Booking.status).where(Booking.id == booking_id)))
