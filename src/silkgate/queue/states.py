"""The e-queue records as their audit entries record them (``AuditEvent.state``).

One function per record gives both the state written with an event and the state
``audit verify`` reads back from the stored row, so the two cannot drift apart. The rules
here tie the rows that follow a booking (declaration links, the slot counter, the waiting
area) to its status.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import object_session

from silkgate.queue.models import DepositEntry

#: A booking's declaration links are inactive in these statuses (active in all others).
LINKS_INACTIVE = frozenset({"cancelled", "no_show", "expired"})
#: A booking gives its slot place back in these statuses (a no-show keeps it: the hour passed).
SLOT_RELEASED = frozenset({"cancelled", "expired"})
#: The waiting-area row a booking in each status has (arrived/late may have none: an arrival
#: recorded without a check-in).
WAITING_STATE = {
    "arrived": "waiting",
    "late": "waiting",
    "called": "called",
    "in_checkpoint": "in_stage",
    "exited": "left",
}


def iso(value: datetime | None) -> str | None:
    """A stored time as UTC ISO text (SQLite gives naive UTC, PostgreSQL the session zone)."""
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def booking_state(b: Any, deposits: Iterable[Any] | None = None) -> dict[str, Any]:
    """A booking with its deposit ledger (``deposits``: its entries in id order; read from
    the booking's session when not given). The driver is personal data and left out."""
    if deposits is None:
        s = object_session(b)
        if s is None:
            raise ValueError(f"booking {b.id} is in no session: pass its deposit entries")
        deposits = s.execute(
            select(DepositEntry.kind, DepositEntry.amount, DepositEntry.unit, DepositEntry.reason)
            .where(DepositEntry.booking_id == b.id)
            .order_by(DepositEntry.id)
        )
    return {
        "organization": b.organization,
        "organization_id": b.organization_id,
        "crossing": b.crossing_code,
        "exit_country": b.exit_country,
        "entry_country": b.entry_country,
        "slot_id": b.slot_id,
        "day": b.day.isoformat(),
        "hour": b.hour,
        "starts_at": iso(b.starts_at),
        "quota_class": b.quota_class,
        "evidence": b.evidence or {},
        "truck": {
            "tractor_plate": b.tractor_plate,
            "tractor_nationality": b.tractor_nationality,
            "trailer_plate": b.trailer_plate,
            "trailer_nationality": b.trailer_nationality,
            "vin": b.vin,
        },
        "declaration_ids": list(b.declaration_ids),
        "status": b.status,
        "reschedules": b.reschedules,
        "displaced": bool(b.displaced),
        "no_show_at": iso(b.no_show_at),
        "deposits": [
            {"kind": d.kind, "amount": d.amount, "unit": d.unit, "reason": d.reason}
            for d in deposits
        ],
    }


def cap_state(c: Any) -> dict[str, Any]:
    """A cap version; ``set_at`` is kept because it decides which slots the cap re-planned."""
    return {
        "crossing": c.crossing_code,
        "exit_country": c.exit_country,
        "entry_country": c.entry_country,
        "side": c.side,
        "version": c.version,
        "valid_from": c.valid_from.isoformat(),
        "daily_cap": c.daily_cap,
        "hourly_profile": c.hourly_profile,
        "quotas": c.quotas,
        "live_share": c.live_share,
        "set_by": c.set_by,
        "set_at": iso(c.set_at),
    }


def stage_key(crossing: str, exit_country: str, entry_country: str) -> str:
    """The audit entity id of a route's stage."""
    return f"{crossing}:{exit_country}-{entry_country}"


def stage_state(st: Any) -> dict[str, Any]:
    """A stage's capacity and who set it (the interleave ``cursor`` is bookkeeping: left out)."""
    return {
        "crossing": st.crossing_code,
        "exit_country": st.exit_country,
        "entry_country": st.entry_country,
        "side": st.side,
        "capacity": st.capacity,
        "set_by": st.set_by,
        "set_at": iso(st.set_at),
    }


def notification_state(n: Any) -> dict[str, Any]:
    """A notice to booking parties (which bookings a cap change displaced)."""
    return {
        "kind": n.kind,
        "crossing": n.crossing_code,
        "booking_ids": list(n.booking_ids),
        "detail": n.detail,
    }
