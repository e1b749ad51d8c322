"""Gate events against the log: each stored event is proved by the entry that lists it.

A batch of events is audited by one ``gate_events.reported`` entry whose state lists
``[event id, digest]`` per stored event (the digest covers reporter, signed content and
signature); each row names that entry's batch id in ``audit_batch``. Events stored before batch
entries have one ``gate_event.reported`` entry each (``audit_batch`` empty). For every event
the digest is recomputed from the row, the columns the views read are derived again from the
signed content, and its references are compared; rows no entry lists are named too.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from silkgate.audit.consistency import Report
from silkgate.audit.models import AuditEntry
from silkgate.audit.service import payload_digest
from silkgate.core.bulk import among
from silkgate.gates.ingest import stored_columns, stored_refs
from silkgate.gates.models import GateEvent, GateEventRef
from silkgate.gates.schemas import GateEventIn
from silkgate.gates.service import AUDIT_ACTION, BATCH_ENTITY, LEGACY_ENTITY
from silkgate.registry.models import Organization

#: Rows read per query (ids in one IN list).
CHUNK = 1000

_ROW = (
    GateEvent.event_id,
    GateEvent.crossing_code,
    GateEvent.side,
    GateEvent.read_point,
    GateEvent.biz_step,
    GateEvent.disposition,
    GateEvent.truck,
    GateEvent.event_time,
    GateEvent.event_offset,
    GateEvent.corrects,
    GateEvent.reporter_org_id,
    GateEvent.reporter,
    GateEvent.content,
    GateEvent.signature,
    GateEvent.audit_batch,
)


def event_digest(reporter: str, content: Any, signature: str) -> str:
    """What an audit entry records of one event: SHA-256 of the canonical reporter, signed
    content and signature (``gates.ingest`` computes the same bytes while checking)."""
    return payload_digest({"event": content, "reporter": reporter, "signature": signature})


def check_gate_events(s: Session, report: Report, progress: Any = None) -> None:
    """Every gate event the log lists or the table holds (see the module docstring)."""
    orgs = dict(s.execute(select(Organization.member_id, Organization.id)).all())
    listed: dict[str, int] = {}  # batch id → events its entry lists
    for entry in _batch_entries(s):
        events = _listed_events(report, entry)
        listed[entry.entity_id] = len(events)
        for i in range(0, len(events), CHUNK):
            chunk = events[i : i + CHUNK]
            rows, refs = _load(s, [eid for eid, _ in chunk])
            for eid, digest in chunk:
                row = rows.get(eid)
                if row is None:
                    report.add(
                        f"gate event {eid}",
                        f"listed by entry {entry.seq} but missing from gate_events",
                    )
                    continue
                if row.audit_batch != entry.entity_id:
                    report.add(
                        f"gate event {eid}",
                        f"its row names audit batch {row.audit_batch!r}, but entry "
                        f"{entry.seq} (batch {entry.entity_id}) lists it",
                    )
                _compare(report, row, digest, entry, refs.get(eid, []), orgs)
        if progress is not None:
            progress(len(events))
    _unlisted(s, report, listed)
    _legacy(s, report, orgs)


def _batch_entries(s: Session) -> Iterator[Any]:
    stmt = (
        select(
            AuditEntry.seq,
            AuditEntry.action,
            AuditEntry.actor,
            AuditEntry.entity_id,
            AuditEntry.payload_digest,
            AuditEntry.state,
        )
        .where(AuditEntry.entity_type == BATCH_ENTITY)
        .order_by(AuditEntry.seq)
        .execution_options(yield_per=20)  # each state lists up to a batch of events
    )
    yield from s.execute(stmt)


def _listed_events(report: Report, entry: Any) -> list[tuple[str, str]]:
    """The entry's [event id, digest] pairs; the chain check already proved the state is what
    the platform signed, so a malformed one means the entry was written wrongly."""
    state = entry.state
    events = state.get("events") if isinstance(state, dict) else None
    ok = (
        entry.action == AUDIT_ACTION
        and isinstance(events, list)
        and all(isinstance(e, list) and len(e) == 2 for e in events)
        and payload_digest(state) == entry.payload_digest == entry.entity_id
    )
    if not ok:
        report.add(
            f"audit entry {entry.seq}",
            "a gate-event batch entry whose state is not the list its digest and id cover",
        )
        return []
    return [(str(eid), str(digest)) for eid, digest in events or []]


def _load(s: Session, ids: list[str]) -> tuple[dict[str, Any], dict[str, list[tuple[str, str]]]]:
    found = s.execute(select(*_ROW).where(among(s, GateEvent.event_id, ids)))
    rows = {r.event_id: r for r in found}
    refs: dict[str, list[tuple[str, str]]] = {}
    stmt = select(GateEventRef.event_id, GateEventRef.ref_type, GateEventRef.ref).where(
        among(s, GateEventRef.event_id, ids)
    )
    for eid, kind, ref in s.execute(stmt):
        refs.setdefault(eid, []).append((kind, ref))
    return rows, refs


def _compare(
    report: Report,
    row: Any,
    digest: str,
    entry: Any,
    refs: list[tuple[str, str]],
    orgs: dict[str, int],
) -> None:
    """The row's reporter, content and signature against the digest the entry recorded, and
    every column the views read against the content."""
    entity = f"gate event {row.event_id}"
    report.checked["gate events"] += 1
    if event_digest(row.reporter, row.content, row.signature) != digest:
        report.add(
            entity,
            f"reporter, signed content or signature differ from what entry {entry.seq} recorded",
        )
        return
    if entry.actor != row.reporter:
        report.add(entity, f"reporter is {row.reporter!r}; entry {entry.seq} names {entry.actor!r}")
    if orgs.get(row.reporter) != row.reporter_org_id:
        report.add(
            entity, f"reporter_org_id {row.reporter_org_id} is not the org of {row.reporter}"
        )
    try:
        ev = GateEventIn.model_validate(row.content)
    except ValidationError:
        report.add(entity, f"the content entry {entry.seq} recorded is not a valid event")
        return
    for column, want in stored_columns(ev).items():
        have = getattr(row, column)
        if isinstance(have, datetime) and have.tzinfo is None:
            have = have.replace(tzinfo=UTC)  # SQLite hands back naive UTC
        if have != want:
            report.add(entity, f"{column} is {have!r}; the signed content says {want!r}")
    if sorted(refs) != sorted(stored_refs(ev)):
        report.add(
            entity,
            f"references are {sorted(refs)}; the signed content names {sorted(stored_refs(ev))}",
        )


def _unlisted(s: Session, report: Report, listed: dict[str, int]) -> None:
    """Rows naming a batch that no entry records, or more rows naming a batch than it lists."""
    counts = s.execute(
        select(GateEvent.audit_batch, func.count())
        .where(GateEvent.audit_batch.is_not(None))
        .group_by(GateEvent.audit_batch)
    )
    for batch, n in counts.all():
        if batch is None or listed.get(batch) == n:
            continue  # every listed event was found naming this batch above: no others do
        known = batch in listed
        lacks = "" if known else ", which the log lacks"
        entry_ids: set[str] = set()
        if known:
            state = s.scalar(
                select(AuditEntry.state)
                .where(AuditEntry.entity_type == BATCH_ENTITY, AuditEntry.entity_id == batch)
                .limit(1)
            )
            entry_ids = {e[0] for e in (state or {}).get("events", [])}
        stmt = select(GateEvent.event_id).where(GateEvent.audit_batch == batch)
        for (eid,) in s.execute(stmt):
            if eid not in entry_ids:
                report.add(
                    f"gate event {eid}",
                    "in gate_events, but no audit entry records it "
                    f"(its row names audit batch {batch}{lacks})",
                )


def _legacy(s: Session, report: Report, orgs: dict[str, int]) -> None:
    """Events audited one entry each (before batch entries), and rows naming no batch."""
    entries = {
        e.entity_id: e
        for e in s.execute(
            select(
                AuditEntry.seq, AuditEntry.actor, AuditEntry.entity_id, AuditEntry.payload_digest
            ).where(AuditEntry.entity_type == LEGACY_ENTITY)
        )
    }
    stmt = select(GateEvent.event_id).where(GateEvent.audit_batch.is_(None))
    unbatched = [eid for (eid,) in s.execute(stmt)]
    for i in range(0, len(unbatched), CHUNK):
        rows, refs = _load(s, unbatched[i : i + CHUNK])
        for eid, row in rows.items():
            entry = entries.pop(eid, None)
            if entry is None:
                report.add(f"gate event {eid}", "in gate_events, but no audit entry records it")
            else:
                _compare(report, row, entry.payload_digest, entry, refs.get(eid, []), orgs)
    for eid, entry in entries.items():
        found = s.scalar(select(GateEvent.audit_batch).where(GateEvent.event_id == eid))
        where = "missing from gate_events" if found is None else f"its row names batch {found}"
        report.add(f"gate event {eid}", f"recorded by entry {entry.seq}, but {where}")
