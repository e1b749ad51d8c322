"""Recent gate events an organization reported at one crossing (its own checkpoint's record),
newest first: what the e-port operator's console lists beside its form."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from silkgate.core.errors import NotFound
from silkgate.core.platform import Platform
from silkgate.gates.ingest import REPORTER_ROLES
from silkgate.gates.models import GateEvent
from silkgate.registry.service import Caller

MAX_ROWS = 200


@dataclass(frozen=True)
class RecentEvent:
    event_id: str
    event_time: datetime
    record_time: datetime
    read_point: str
    biz_step: str
    disposition: str | None
    truck: str  # "KZ:123ABC02"
    corrects: str | None


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def recent(platform: Platform, caller: Caller, crossing: str, limit: int = 50) -> list[RecentEvent]:
    """The caller's own events at ``crossing`` (a reporter serving it), newest record first;
    NotFound for any other caller or crossing, so nothing is learnt about either."""
    if not caller.has(*REPORTER_ROLES) or crossing not in caller.crossings:
        raise NotFound(f"crossing {crossing}")
    with platform.db.session() as s:
        rows = s.scalars(
            select(GateEvent)
            .where(GateEvent.reporter_org_id == caller.id, GateEvent.crossing_code == crossing)
            .order_by(GateEvent.record_time.desc(), GateEvent.event_time.desc())
            .limit(max(1, min(limit, MAX_ROWS)))
        )
        return [
            RecentEvent(
                e.event_id,
                _utc(e.event_time),
                _utc(e.record_time),
                e.read_point,
                e.biz_step,
                e.disposition,
                e.truck,
                e.corrects,
            )
            for e in rows
        ]
