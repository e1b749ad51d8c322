"""`audit verify` proves every stored gate event by the batch entry that lists it (or, for
events stored before batch entries, by its own entry): each edit, deletion or insertion of a
gate event or its references fails verify naming the event and what differs."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from silkgate.audit.gate_event_checks import event_digest
from silkgate.audit.models import AuditEntry
from silkgate.audit.service import AuditEvent, append
from silkgate.core.db import table_of
from silkgate.core.platform import Platform
from silkgate.gates import service
from silkgate.gates.ingest import check, stored_columns
from silkgate.gates.models import GateEvent, GateEventRef
from silkgate.gates.service import LEGACY_ACTION, LEGACY_ENTITY, crossing_sides
from silkgate.registry.models import Organization
from tests.audit.world import run_verify
from tests.gates.helpers import World, event


@dataclass
class Events:
    """``plain``, ``referenced`` (names a declaration), ``corrected`` and its ``correction``
    in one batch; ``legacy``: stored the old way, one ``gate_event.reported`` entry."""

    plain: str
    referenced: str
    corrected: str
    correction: str
    legacy: str


def build(platform: Platform) -> Events:
    w = World(platform)
    cn = w.callers["cn-customs"]
    first = [
        w.signed("cn-customs", event("gate_in", 0, plate="A1")),
        w.signed("cn-customs", event("weighing", 5, decl=w.decl)),
        w.signed("cn-customs", event("scanning", 9, plate="C3")),
    ]
    rep = service.ingest_lines(platform, cn, [json.dumps(b) for b in first])
    plain, referenced, corrected = (x.eventId or "" for x in rep.lines)
    fix = w.signed("cn-customs", event("scanning", 11, plate="C3", corrects=corrected))
    correction, _ = service.report(platform, cn, fix)
    return Events(plain, referenced, corrected, correction, _legacy(platform, w))


def _legacy(platform: Platform, w: World) -> str:
    """An event as ingest stored it before batch entries: no audit_batch, its own entry."""
    cn = w.callers["cn-customs"]
    c = check(
        w.signed("cn-customs", event("exit_gate", 20, plate="L9")),
        cn,
        w.keys["cn-customs"].public_key(),
        crossing_sides(),
        datetime.now(UTC),
        timedelta(minutes=5),
    )
    with platform.db.session() as s:
        s.execute(
            insert(table_of(GateEvent)),
            [
                {
                    "event_id": c.event_id,
                    **stored_columns(c.event),
                    "record_time": datetime.now(UTC),
                    "reporter_org_id": cn.id,
                    "reporter": cn.member_id,
                    "content": c.content,
                    "signature": c.signature,
                    "key_id": "",
                    "audit_batch": None,
                }
            ],
        )
        append(
            s,
            platform.signer,
            [AuditEvent(cn.member_id, LEGACY_ACTION, LEGACY_ENTITY, c.event_id, None, c.digest)],
        )
    return c.event_id


Tamper = Callable[[Session, Events], None]


def _set(which: str, **values: object) -> Tamper:
    def tamper(s: Session, e: Events) -> None:
        s.execute(update(GateEvent).where(GateEvent.event_id == getattr(e, which)).values(values))

    return tamper


def _content(which: str, **changes: object) -> Tamper:
    def tamper(s: Session, e: Events) -> None:
        row = s.get(GateEvent, getattr(e, which))
        assert row is not None
        row.content = {**row.content, **changes}

    return tamper


def _delete(which: str) -> Tamper:
    def tamper(s: Session, e: Events) -> None:
        eid = getattr(e, which)
        s.execute(delete(GateEventRef).where(GateEventRef.event_id == eid))
        s.execute(delete(GateEvent).where(GateEvent.event_id == eid))

    return tamper


def _copy(batch: str | None) -> Tamper:
    """A row nobody reported: a copy of ``plain`` under a new id, naming ``batch``."""

    def tamper(s: Session, e: Events) -> None:
        row = s.execute(select(GateEvent.__table__).where(GateEvent.event_id == e.plain)).one()
        values = {**row._asdict(), "event_id": "f" * 64}
        values["audit_batch"] = row.audit_batch if batch == "same" else batch
        s.execute(insert(GateEvent.__table__), [values])

    return tamper


def _ref(s: Session, e: Events) -> None:
    s.execute(
        update(GateEventRef).where(GateEventRef.event_id == e.referenced).values(ref="OTHER-DECL")
    )


def _ref_added(s: Session, e: Events) -> None:
    s.execute(
        insert(GateEventRef),
        [{"event_id": e.plain, "ref_type": "declaration", "ref": "SMUGGLED"}],
    )


def _other_org(s: Session, e: Events) -> None:
    row = s.get(GateEvent, e.plain)
    assert row is not None
    row.reporter_org_id = s.scalar(
        select(Organization.id).where(Organization.id != row.reporter_org_id).limit(1)
    )


def _moved(s: Session, e: Events) -> None:
    other = s.scalar(select(GateEvent.audit_batch).where(GateEvent.event_id == e.correction))
    s.execute(update(GateEvent).where(GateEvent.event_id == e.plain).values(audit_batch=other))


CASES: dict[str, tuple[Tamper, str, tuple[str, ...]]] = {
    "content": (
        _content("plain", readPoint="release"),
        "plain",
        ("signed content or signature differ", "entry"),
    ),
    "signature": (_set("plain", signature="A" * 88), "plain", ("signature differ",)),
    "reporter": (_set("plain", reporter="CN/GOV/SOMEONE"), "plain", ("differ",)),
    "read point column": (
        _set("plain", read_point="release"),
        "plain",
        ("read_point is 'release'", "'gate_in'"),
    ),
    "event time column": (
        _set("referenced", event_time=datetime(2020, 1, 1, tzinfo=UTC)),
        "referenced",
        ("event_time is",),
    ),
    "truck column": (_set("plain", truck="KZ:OTHER1"), "plain", ("truck is 'KZ:OTHER1'",)),
    "correction dropped": (_set("correction", corrects=None), "correction", ("corrects is None",)),
    "reporter org": (_other_org, "plain", ("reporter_org_id", "is not the org of")),
    "reference changed": (_ref, "referenced", ("references are", "OTHER-DECL")),
    "reference added": (_ref_added, "plain", ("references are", "SMUGGLED")),
    "deleted": (_delete("corrected"), "corrected", ("missing from gate_events",)),
    "inserted in a batch": (_copy("same"), "", ("f" * 64, "no audit entry records it")),
    "inserted without a batch": (_copy(None), "", ("f" * 64, "no audit entry records it")),
    "inserted naming no entry": (_copy("0" * 64), "", ("f" * 64, "which the log lacks")),
    "moved to another batch": (_moved, "plain", ("names audit batch",)),
    "legacy content": (_content("legacy", side="KZ"), "legacy", ("differ",)),
    "legacy deleted": (_delete("legacy"), "legacy", ("recorded by entry", "missing")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_tampered_gate_event_fails_verify(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    events = build(platform)
    tamper, which, expected = CASES[case]
    with platform.db.session() as s:
        tamper(s, events)
    out = run_verify(platform, monkeypatch)
    assert out.exit_code == 1, out.output
    text = " ".join(out.output.split())
    assert "audit log intact" in text  # the chain is fine: the tables are what differs
    if which:
        assert f"gate event {getattr(events, which)}" in text, text
    for fragment in expected:
        assert fragment in text, text


def test_untampered_gate_events_verify(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    events = build(platform)
    out = run_verify(platform, monkeypatch)
    assert out.exit_code == 0, out.output
    assert "5 gate events" in " ".join(out.output.split()), out.output
    with platform.db.session() as s:  # the first batch lists its three events in order
        row = s.get(GateEvent, events.plain)
        assert row is not None
        state = s.scalar(select(AuditEntry.state).where(AuditEntry.entity_id == row.audit_batch))
        assert state is not None
        assert [e[0] for e in state["events"]] == [
            events.plain,
            events.referenced,
            events.corrected,
        ]
        assert state["events"][0][1] == event_digest(row.reporter, row.content, row.signature)
