"""Gate-event operations: ingest (single or JSON Lines batch) and reading events back.

A batch is checked line by line; the lines that pass are stored in one transaction with one
audit entry listing each stored event's id and digest (``gate_events.reported``). If the
database refuses that transaction, each line is tried on its own so one bad line never costs
the others (nothing of a refused line is written).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from silkgate.audit.service import AuditEvent, append, payload_digest
from silkgate.core import collector
from silkgate.core.bulk import among, insert_rows
from silkgate.core.db import table_of
from silkgate.core.errors import FieldError, SilkgateError
from silkgate.core.platform import Platform
from silkgate.core.signing import key_id, load_public_key
from silkgate.declarations.models import Declaration
from silkgate.gates.ingest import (
    Checked,
    Rejected,
    check_many,
    parse_line,
    stored_columns,
    stored_refs,
    truck_key,
)
from silkgate.gates.models import GateEvent, GateEventRef
from silkgate.gates.schemas import IngestLine, IngestReport
from silkgate.queue.models import Booking
from silkgate.registry.models import Organization
from silkgate.registry.service import Caller

AUDIT_ACTION = "gate_events.reported"
BATCH_ENTITY = "gate_event_batch"
#: How events were audited before batch entries: one entry each, entity ``gate_event``.
LEGACY_ACTION, LEGACY_ENTITY = "gate_event.reported", "gate_event"


@lru_cache(maxsize=1)
def crossing_sides() -> dict[str, tuple[str, ...]]:
    """Crossing code → its two countries (from the shipped code list)."""
    from silkgate.codelists.crossings import load_crossings

    return {c.code: tuple(c.countries) for c in load_crossings()}


def report(platform: Platform, caller: Caller, obj: Any) -> tuple[str, bool]:
    """Store one signed event; returns (event id, created). Raises a problem naming the field."""
    rep = ingest(platform, caller, [obj])
    line = rep.lines[0]
    if line.status == "rejected":
        raise _problem(line)
    assert line.eventId is not None
    return line.eventId, line.status == "stored"


def ingest_lines(platform: Platform, caller: Caller, lines: Sequence[bytes | str]) -> IngestReport:
    """A JSON Lines batch: one signed event per line, blank lines skipped."""
    items = [(no, raw) for no, raw in enumerate(lines, start=1) if raw.strip()]
    return _ingest(platform, caller, items, parse_line)


def ingest(platform: Platform, caller: Caller, objs: Sequence[Any]) -> IngestReport:
    """Check every event, then store those that pass; the report has one entry per line."""
    return _ingest(platform, caller, list(enumerate(objs, start=1)), None)


def _ingest(
    platform: Platform,
    caller: Caller,
    items: Sequence[tuple[int, Any]],
    load: Callable[[Any], Any] | None,
) -> IngestReport:
    """``load`` (parsing a line) runs in the checking loop, so the first signatures are
    being verified while later lines are still read. The cyclic collector is paused for
    the batch (``core.collector``: the batch makes no cycles, and full collections while it
    accumulates cost a fifth of the work)."""
    with collector.paused():
        return _ingest_batch(platform, caller, items, load)


def _ingest_batch(
    platform: Platform,
    caller: Caller,
    items: Sequence[tuple[int, Any]],
    load: Callable[[Any], Any] | None,
) -> IngestReport:
    settings = platform.settings
    now = platform.clock()  # record time; the demo and tests run on their own clock
    skew = timedelta(seconds=settings.gate_max_clock_skew)
    lines: list[IngestLine] = []
    checked: list[tuple[int, Checked]] = []
    with platform.db.session() as s:
        pub = s.scalar(select(Organization.signing_public_key).where(Organization.id == caller.id))
    public_key = load_public_key(pub) if pub else None
    kid = key_id(pub) if pub else ""
    threads = settings.gate_verify_threads or _cores()
    outcomes = check_many(items, caller, public_key, crossing_sides(), now, skew, threads, load)
    for no, out in outcomes:
        if isinstance(out, Rejected):
            lines.append(_rejected(no, out))
        else:
            checked.append((no, out))
    try:
        with platform.db.session() as s:
            lines += _store(s, platform, caller, checked, now, kid)
    except DBAPIError:
        # Alone, each line meets only its own fault (or a clash with a concurrent writer).
        for no, c in checked:
            try:
                with platform.db.session() as s:
                    lines += _store(s, platform, caller, [(no, c)], now, kid)
            except IntegrityError:
                with platform.db.session() as s:
                    if s.get(GateEvent, c.event_id) is not None:
                        lines.append(IngestLine(line=no, status="replayed", eventId=c.event_id))
                        continue
                lines.append(_rejected(no, Rejected(409, [FieldError("", "conflict", "refused")])))
            except DBAPIError as exc:
                from silkgate.core.db import db_problem

                p = db_problem(exc)
                lines.append(
                    _rejected(
                        no, Rejected(p.status, p.errors or [FieldError("", p.type_slug, p.detail)])
                    )
                )
    lines.sort(key=lambda x: x.line)
    count = {k: sum(1 for x in lines if x.status == k) for k in ("stored", "replayed", "rejected")}
    return IngestReport(**count, lines=lines)


def _cores() -> int:
    """CPU cores this process may run on (its affinity, where the system tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _store(
    s: Session,
    platform: Platform,
    caller: Caller,
    checked: list[tuple[int, Checked]],
    now: datetime,
    kid: str,
) -> list[IngestLine]:
    """Refuse lines whose references do not hold, replay known ids, insert the rest with one
    audit entry listing them."""
    out: list[IngestLine] = []
    ids = {c.event_id for _, c in checked}
    known = (
        set(s.scalars(select(GateEvent.event_id).where(among(s, GateEvent.event_id, ids))))
        if ids
        else set()
    )
    decl_ids = {
        t.bizTransaction
        for _, c in checked
        for t in c.event.bizTransactionList
        if t.type.value == "declaration"
    }
    decls = (
        dict(
            s.execute(
                select(Declaration.id, Declaration.crossing_code).where(
                    among(s, Declaration.id, decl_ids)
                )
            ).all()
        )
        if decl_ids
        else {}
    )
    booking_ids = {
        t.bizTransaction
        for _, c in checked
        for t in c.event.bizTransactionList
        if t.type.value == "booking"
    }
    bookings = (
        {
            bid: (crossing, nat, plate)
            for bid, crossing, nat, plate in s.execute(
                select(
                    Booking.id,
                    Booking.crossing_code,
                    Booking.tractor_nationality,
                    Booking.tractor_plate,
                ).where(among(s, Booking.id, booking_ids))
            )
        }
        if booking_ids
        else {}
    )
    targets = {c.event.corrects for _, c in checked if c.event.corrects}
    corrected = (
        {
            e.event_id: e
            for e in s.scalars(select(GateEvent).where(among(s, GateEvent.event_id, targets)))
        }
        if targets
        else {}
    )
    rows: list[dict[str, Any]] = []
    refs: list[dict[str, Any]] = []
    listed: list[list[str]] = []  # [event id, digest] of each stored event, in order
    seen: set[str] = set()
    batch_trucks: dict[str, tuple[str, str]] = {}
    for no, c in checked:
        ev = c.event
        if c.event_id in known or c.event_id in seen:
            out.append(IngestLine(line=no, status="replayed", eventId=c.event_id))
            continue
        errors = []
        for i, t in enumerate(ev.bizTransactionList):
            if t.type.value == "declaration" and decls.get(t.bizTransaction) != ev.crossing:
                errors.append(
                    FieldError(
                        f"/event/bizTransactionList/{i}/bizTransaction",
                        "unknown_declaration",
                        f"no declaration {t.bizTransaction} on {ev.crossing}",
                    )
                )
            elif t.type.value == "booking":
                b = bookings.get(t.bizTransaction)
                if b is None or b[0] != ev.crossing:
                    errors.append(
                        FieldError(
                            f"/event/bizTransactionList/{i}/bizTransaction",
                            "unknown_booking",
                            f"no booking {t.bizTransaction} on {ev.crossing}",
                        )
                    )
                elif b[1:] != (ev.truck.nationality, ev.truck.plate):
                    errors.append(
                        FieldError(
                            f"/event/bizTransactionList/{i}/bizTransaction",
                            "other_truck",
                            f"booking {t.bizTransaction} is for another truck",
                        )
                    )
        truck = truck_key(ev.truck.nationality, ev.truck.plate)
        if ev.corrects:
            target = corrected.get(ev.corrects)
            tgt = (
                (target.reporter, target.truck)
                if target is not None
                else batch_trucks.get(ev.corrects)
            )
            if tgt is None:
                errors.append(FieldError("/event/corrects", "unknown_event", "no such event"))
            elif tgt != (caller.member_id, truck):
                errors.append(
                    FieldError(
                        "/event/corrects",
                        "not_yours",
                        "a correction keeps the reporter and the truck of the event it corrects",
                    )
                )
        if errors:
            out.append(_rejected(no, Rejected(422, errors)))
            continue
        seen.add(c.event_id)
        batch_trucks[c.event_id] = (caller.member_id, truck)
        rows.append(
            {
                "event_id": c.event_id,
                **stored_columns(ev),
                "record_time": now,
                "reporter_org_id": caller.id,
                "reporter": caller.member_id,
                "content": c.content,
                "signature": c.signature,
                "key_id": kid,
            }
        )
        refs += [
            {"event_id": c.event_id, "ref_type": kind, "ref": ref} for kind, ref in stored_refs(ev)
        ]
        listed.append([c.event_id, c.digest])
        out.append(IngestLine(line=no, status="stored", eventId=c.event_id))
    if rows:
        batch = batch_entry(caller.member_id, listed)
        for r in rows:
            r["audit_batch"] = batch.entity_id
        insert_rows(s, table_of(GateEvent), rows)
        insert_rows(s, table_of(GateEventRef), refs)
        append(s, platform.signer, [batch, *_published(s, platform, rows, now)])
        from silkgate.queue.waiting import on_gate_events  # gate events move queued trucks

        on_gate_events(s, platform, rows)
    return out


def _published(
    s: Session, platform: Platform, rows: list[dict[str, Any]], now: datetime
) -> list[AuditEvent]:
    """Outbox messages of stored gate events for their category subscribers: the event as
    signed, with its id, reporter and record time."""
    from silkgate.exchange import publish as pub
    from silkgate.exchange.agreements.catalogue import Category

    if not pub.wanted(s, Category.GATE_EVENTS):
        return []
    facts = [
        pub.gate_event_fact(
            r,
            {
                **r["content"],
                "event_id": r["event_id"],
                "reporter": r["reporter"],
                "recordTime": r["record_time"],
            },
        )
        for r in rows
    ]
    return pub.publish(s, platform, facts, "platform", now)


def batch_entry(reporter: str, listed: list[list[str]]) -> AuditEvent:
    """The one audit entry of a stored batch: its state lists [event id, digest] per event in
    order (``audit verify`` recomputes each digest from the stored row); the batch id, which
    each row keeps in ``audit_batch``, is the digest of that list."""
    state = {"events": listed}
    digest = payload_digest(state)
    return AuditEvent(reporter, AUDIT_ACTION, BATCH_ENTITY, digest, None, digest, state)


def _rejected(no: int, r: Rejected) -> IngestLine:
    return IngestLine(
        line=no,
        status="rejected",
        errors=[{**e.as_dict(), "status": str(r.status)} for e in r.errors],
    )


def _problem(line: IngestLine) -> SilkgateError:
    status = int(line.errors[0].get("status", "422")) if line.errors else 422
    errors = [FieldError(e.get("field"), e["code"], e["message"]) for e in line.errors]
    titles = {400: "Bad request", 403: "Forbidden", 409: "Conflict", 422: "Validation failed"}
    slugs = {400: "bad-request", 403: "forbidden", 409: "conflict", 422: "validation-failed"}
    return SilkgateError(
        titles.get(status, "Refused"),
        status,
        "; ".join(e.message for e in errors) or "refused",
        errors,
        slugs.get(status, "refused"),
    )
