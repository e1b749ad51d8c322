"""Exchange records against the log: webhook subscriptions and outbox messages.

Deliveries (attempts, next try, dead letters) are the worker's bookkeeping, not compared.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from silkgate.audit.consistency import Report
from silkgate.audit.models import AuditEntry
from silkgate.audit.record_state import compare_records, entries_by_entity
from silkgate.audit.service import payload_digest
from silkgate.exchange.models import OutboxMessage, Subscription
from silkgate.exchange.service import message_state, subscription_state


def check_exchange(s: Session, report: Report, progress: Any = None) -> None:
    """Each subscription and message against the state (and digest) of its latest entry."""
    compare_records(
        report,
        "webhook subscription",
        "exchange_subscriptions",
        entries_by_entity(s, "exchange_subscription"),
        {str(r.id): r for r in s.execute(select(Subscription.__table__))},
        subscription_state,
        "webhook subscriptions",
    )

    def payload(entity: str, row: Any, last: Any) -> None:
        if payload_digest(row.payload) != last.payload_digest:
            report.add(
                entity,
                f"payload differs from what entry {last.seq} recorded (topic {row.topic}, "
                f"message id {row.message_id})",
            )

    logged = entries_by_entity(s, "exchange_message")
    rows = {str(r.id): r for r in s.execute(select(OutboxMessage.__table__))}
    pruned = _pruned(s, logged, rows)
    for key in pruned:
        del logged[key]
    if pruned:
        report.checked["outbox messages pruned past retention (logged, gone)"] += len(pruned)
    compare_records(
        report,
        "outbox message",
        "exchange_outbox",
        logged,
        rows,
        message_state,
        "outbox messages",
        payload,
    )


def _pruned(s: Session, logged: dict[str, list[Any]], rows: dict[str, Any]) -> list[str]:
    """Logged messages that are gone because a later logged prune removed them: id at most
    the prune's highest sequence number, logged before it."""
    prunes = [
        (e.seq, (e.state or {}).get("through_seq"))
        for e in s.execute(
            select(AuditEntry.seq, AuditEntry.state).where(
                AuditEntry.action == "exchange.outbox_pruned"
            )
        )
    ]
    out = []
    for key in logged.keys() - rows.keys():
        last = logged[key][-1].seq
        if key.isdigit() and any(
            isinstance(through, int) and int(key) <= through and last < seq
            for seq, through in prunes
        ):
            out.append(key)
    return out
