"""Delivery test helpers: a CN→KZ crossing whose facts (lodging, booking, assessment,
inspection, gate event) happen after a consumer subscribed under agreements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from silkgate.core.platform import Platform
from silkgate.core.signing import public_key_b64
from silkgate.exchange import service
from silkgate.exchange.agreements.catalogue import Category
from silkgate.exchange.models import OutboxMessage
from silkgate.exchange.schemas import SubscriptionIn
from silkgate.gates import service as gates
from silkgate.gates.ingest import sign_event
from silkgate.registry import service as registry
from silkgate.registry.service import Caller
from silkgate.risk.platform import service as risk
from silkgate.risk.platform.schemas import InspectionIn
from silkgate.risk.platform.worker import assess_pending
from tests.exchange.enforce_world import grant
from tests.queue.env import Env

#: A small allow-list per delivered category (what the consumer's agreement names).
ALLOWED: dict[Category, list[str]] = {
    Category.DECLARATION: ["/id", "/status", "/crossing"],
    Category.PRE_ARRIVAL: ["/id", "/status", "/data/goods_items"],
    Category.RISK_LANE: ["/declaration_id", "/lane"],
    Category.RISK_SCORE: ["/declaration_id", "/score"],
    Category.INSPECTION_RESULT: ["/declaration_id", "/outcome"],
    Category.BOOKING: ["/id", "/status", "/day"],
    Category.GATE_EVENTS: ["/event_id", "/readPoint", "/side"],
}


@dataclass
class Happened:
    decl: str
    booking: str
    event_id: str


def subscribe(
    platform: Platform,
    who: Caller,
    agreement_id: str,
    categories: list[str],
    url: str | None = None,
    purpose: str = "statistics",
) -> int:
    body = SubscriptionIn(
        url=url,
        agreement_id=agreement_id,
        categories=categories,  # type: ignore[arg-type]
        purpose=purpose,  # type: ignore[arg-type]
    )
    return service.add_subscription(platform, who, body).id


def agree_and_subscribe(
    env: Env, consumer: str, category: Category, url: str | None = None, **kw: Any
) -> tuple[str, int]:
    who = env.who(consumer)
    aid = grant(env.platform, who.member_id, category, ALLOWED[category], **kw)
    return aid, subscribe(env.platform, who, aid, [category.value], url)


def happen(env: Env) -> Happened:
    """Every delivered kind of fact once: a lodged declaration and its booking, the risk
    assessment (and the declaration's new state), an inspection result, a gate event."""
    platform = env.platform
    b = env.book(hour=10)
    decl = b.declaration_ids[0]
    assess_pending(platform)
    risk.record_inspection(
        platform, env.who("cn-customs"), decl, InspectionIn(outcome="no_discrepancy")
    )
    key = Ed25519PrivateKey.generate()
    registry.register_signing_key(platform, env.ids["cn-eport"], public_key_b64(key), "test")
    event = {
        "eventTime": "2026-12-10T07:55:00+08:00",
        "bizStep": "arriving",
        "readPoint": "gate_in",
        "crossing": "KHG-NZH",
        "side": "CN",
        "truck": {"nationality": "CN", "plate": b.truck["tractor_plate"]},
    }
    report = gates.ingest(
        platform, env.who("cn-eport"), [{"event": event, "signature": sign_event(key, event)}]
    )
    assert report.lines[0].status == "stored", report
    return Happened(decl, b.id, report.lines[0].eventId or "")


def messages(platform: Platform, who: Caller) -> list[OutboxMessage]:
    with platform.db.session() as s:
        rows = list(
            s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.organization_id == who.id)
                .order_by(OutboxMessage.id)
            )
        )
        s.expunge_all()
        return rows
