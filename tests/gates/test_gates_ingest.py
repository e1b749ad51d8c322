"""Signed gate-event ingest: idempotency, signatures, sides, future times, corrections, batches."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from silkgate.audit.keys import trusted_keys
from silkgate.audit.service import payload_digest, trail, verify_chain
from silkgate.core.errors import SilkgateError
from silkgate.core.platform import Platform
from silkgate.gates import service
from silkgate.gates.ingest import Rejected, check
from silkgate.gates.models import GateEvent
from silkgate.registry.service import Caller
from tests.gates.helpers import World, event


@pytest.fixture
def world(platform: Platform) -> World:
    return World(platform)


def _count(platform: Platform) -> int:
    from sqlalchemy import func, select

    with platform.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(GateEvent)) or 0)


def test_retry_is_stored_once_and_audited(world: World) -> None:
    p, cn = world.platform, world.callers["cn-customs"]
    body = world.signed("cn-customs", event("gate_in", 0, decl=world.decl))
    eid, created = service.report(p, cn, body)
    again, created2 = service.report(p, cn, json.loads(json.dumps(body)))
    assert (created, created2) == (True, False) and again == eid
    assert _count(p) == 1
    with p.db.session() as s:
        row = s.get(GateEvent, eid)
        assert row is not None and row.audit_batch is not None
        entries = trail(s, "gate_event_batch", row.audit_batch)
        assert [a.action for a in entries] == ["gate_events.reported"]
        # the entry lists the event with a digest recomputable from the stored row
        expect = {"reporter": row.reporter, "event": row.content, "signature": row.signature}
        assert entries[0].state == {"events": [[eid, payload_digest(expect)]]}
        assert entries[0].payload_digest == payload_digest(entries[0].state)
        assert verify_chain(s, trusted_keys(p.settings)).ok


@pytest.mark.parametrize(
    ("mutate", "status", "field", "code"),
    [
        (
            lambda w, b: b.update(signature=b["signature"][:-4] + "AAA="),
            422,
            "/signature",
            "bad_signature",
        ),
        (lambda w, b: b["event"].update(readPoint="scanning"), 422, "/signature", "bad_signature"),
        (lambda w, b: b.pop("signature"), 422, "/signature", "required"),
        (lambda w, b: b.update(signature="not base64!"), 422, "/signature", "bad_signature"),
    ],
)
def test_bad_signatures_name_the_field(world: World, mutate, status, field, code) -> None:  # type: ignore[no-untyped-def]
    body = world.signed("cn-customs", event("gate_in", 0))
    mutate(world, body)
    with pytest.raises(SilkgateError) as exc:
        service.report(world.platform, world.callers["cn-customs"], body)
    assert exc.value.status == status
    assert (exc.value.errors[0].field, exc.value.errors[0].code) == (field, code)
    assert _count(world.platform) == 0


def test_signed_with_another_key_or_no_key_registered(world: World) -> None:
    p = world.platform
    forged = world.signed("cn-customs", event("gate_in", 0), key=Ed25519PrivateKey.generate())
    with pytest.raises(SilkgateError) as exc:
        service.report(p, world.callers["cn-customs"], forged)
    assert exc.value.errors[0].code == "bad_signature"
    # the KZ customs-service company has no signing key and is no reporter anyway
    with pytest.raises(SilkgateError) as exc:
        service.report(p, world.callers["kz-service"], forged)
    assert exc.value.status == 403


def test_unknown_org_key_is_named(world: World) -> None:
    c = world.callers["kz-customs"]
    nokey = Caller(c.id, c.member_id, c.country, c.roles, c.crossings)
    from silkgate.gates.service import crossing_sides

    with pytest.raises(Rejected) as exc:
        check(
            world.signed("kz-customs", event("entry_gate_in", 0, side="KZ")),
            nokey,
            None,
            crossing_sides(),
            datetime.now(UTC),
            timedelta(minutes=5),
        )
    assert exc.value.errors[0].code == "no_public_key"


def test_only_that_sides_customs_or_eport_reports(world: World) -> None:
    p = world.platform
    kz_side = world.signed("cn-customs", event("entry_gate_in", 0, side="KZ"))
    with pytest.raises(SilkgateError) as exc:
        service.report(p, world.callers["cn-customs"], kz_side)
    assert exc.value.status == 403 and exc.value.errors[0].field == "/event/side"
    # the CN e-port reports its own side
    service.report(p, world.callers["cn-eport"], world.signed("cn-eport", event("waiting_area", 0)))
    assert _count(p) == 1


def test_far_future_refused_late_accepted(world: World) -> None:
    p, cn = world.platform, world.callers["cn-customs"]
    future = datetime.now(UTC) + timedelta(hours=2)
    body = world.signed("cn-customs", event("gate_in", 0) | {"eventTime": future.isoformat()})
    with pytest.raises(SilkgateError) as exc:
        service.report(p, cn, body)
    assert (
        exc.value.errors[0].field == "/event/eventTime" and exc.value.errors[0].code == "in_future"
    )
    naive = world.signed("cn-customs", event("gate_in", 0) | {"eventTime": "2025-11-10T08:00:00"})
    with pytest.raises(SilkgateError) as exc:
        service.report(p, cn, naive)
    assert exc.value.errors[0].field == "/event/eventTime"
    service.report(
        p, cn, world.signed("cn-customs", event("gate_in", -60 * 24 * 30))
    )  # a month late


def test_correction_references_an_existing_event_of_the_same_truck(world: World) -> None:
    p, cn = world.platform, world.callers["cn-customs"]
    eid, _ = service.report(p, cn, world.signed("cn-customs", event("gate_in", 0)))
    fix = event("gate_in", 5, corrects=eid)
    fixed, _ = service.report(p, cn, world.signed("cn-customs", fix))
    with p.db.session() as s:
        assert s.get(GateEvent, eid) is not None  # never edited
        assert s.get(GateEvent, fixed).corrects == eid  # type: ignore[union-attr]
    with pytest.raises(SilkgateError) as exc:
        service.report(p, cn, world.signed("cn-customs", event("gate_in", 6, corrects="0" * 64)))
    assert exc.value.errors[0].field == "/event/corrects"
    other = event("gate_in", 7, plate="999XYZ01", corrects=eid)
    with pytest.raises(SilkgateError) as exc:
        service.report(p, cn, world.signed("cn-customs", other))
    assert exc.value.errors[0].code == "not_yours"


def test_unknown_declaration_refused(world: World) -> None:
    body = world.signed("cn-customs", event("gate_in", 0, decl="NOPE"))
    with pytest.raises(SilkgateError) as exc:
        service.report(world.platform, world.callers["cn-customs"], body)
    assert exc.value.errors[0].field == "/event/bizTransactionList/0/bizTransaction"


def test_batch_reports_each_line_and_stores_only_good_ones(world: World) -> None:
    p, cn = world.platform, world.callers["cn-customs"]
    good = [
        json.dumps(world.signed("cn-customs", event("gate_in", i, plate=f"P{i}X")))
        for i in range(3)
    ]
    bad_sig = world.signed("cn-customs", event("gate_in", 9))
    bad_sig["signature"] = world.signed("cn-customs", event("gate_in", 10))["signature"]
    lines = [good[0], "{not json", good[1], "", json.dumps(bad_sig), good[2], good[0]]
    rep = service.ingest_lines(p, cn, lines)
    assert (rep.stored, rep.replayed, rep.rejected) == (3, 1, 2)
    status = {x.line: x.status for x in rep.lines}
    assert status == {
        1: "stored",
        2: "rejected",
        3: "stored",
        5: "rejected",
        6: "stored",
        7: "replayed",
    }
    assert _count(p) == 3


_points = st.sampled_from(["gate_in", "release", "nowhere", 5, None])
_times = st.one_of(
    st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
    st.text(max_size=30),
    st.integers(),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    point=_points,
    at=_times,
    side=st.sampled_from(["CN", "KZ", "cn", "XX", ""]),
    plate=st.text(max_size=20),
    extra=st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
def test_parser_never_crashes_and_names_fields(point, at, side, plate, extra) -> None:  # type: ignore[no-untyped-def]
    """Any event body is accepted or refused with JSON-pointer fields; never an exception."""
    from silkgate.gates.service import crossing_sides

    key = Ed25519PrivateKey.generate()
    from silkgate.core.signing import load_public_key, public_key_b64
    from silkgate.gates.ingest import sign_event

    body = {
        "eventTime": at,
        "bizStep": "arriving",
        "readPoint": point,
        "crossing": "KHG-NZH",
        "side": side,
        "truck": {"nationality": "KZ", "plate": plate},
        **extra,
    }
    caller = Caller(1, "CN/GOV/X", "CN", frozenset({"customs"}), frozenset({"KHG-NZH"}))
    try:
        out = check(
            {"event": body, "signature": sign_event(key, body)},
            caller,
            load_public_key(public_key_b64(key)),
            crossing_sides(),
            datetime.now(UTC),
            timedelta(minutes=5),
        )
    except Rejected as r:
        assert r.status in (403, 422) and r.errors
        assert all(e.field is None or e.field.startswith("/") for e in r.errors)
    else:
        assert len(out.event_id) == 64 and out.event.side == "CN"


def test_threaded_batch_refuses_exactly_the_bad_signatures_and_audits_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Signatures verified on worker threads, chunk by chunk: each bad line is refused alone
    (also when it is the event a later line corrects), the rest stored under one entry."""
    from sqlalchemy import select

    from silkgate.audit.models import AuditEntry
    from silkgate.audit.service import count_entries
    from silkgate.gates import ingest
    from silkgate.gates.ingest import event_id

    monkeypatch.setattr(ingest, "VERIFY_CHUNK", 3)
    threads: set[str] = set()
    verify = ingest.Pending.verify

    def spy(self: ingest.Pending) -> ingest.Checked:
        threads.add(threading.current_thread().name)
        return verify(self)

    monkeypatch.setattr(ingest.Pending, "verify", spy)
    p, cn = world.platform, world.callers["cn-customs"]
    p.settings.gate_verify_threads = 2
    bodies = [world.signed("cn-customs", event("gate_in", i, plate=f"T{i}X")) for i in range(20)]
    for i in (0, 7, 8, 19):
        bodies[i]["signature"] = bodies[(i + 1) % 20]["signature"]
    fix = event("gate_in", 30, plate="T7X", corrects=event_id(cn.member_id, bodies[7]["event"]))
    lines = [json.dumps(b) for b in bodies] + [json.dumps(world.signed("cn-customs", fix))]
    with p.db.session() as s:
        before = count_entries(s)
    rep = service.ingest_lines(p, cn, lines)
    refused = {x.line: x.errors[0]["code"] for x in rep.lines if x.status == "rejected"}
    assert refused == {
        1: "bad_signature",
        8: "bad_signature",
        9: "bad_signature",
        20: "bad_signature",
        21: "unknown_event",
    }
    assert rep.stored == 16 and _count(p) == 16
    assert threads and all(t.startswith("gate-verify") for t in threads)
    with p.db.session() as s:
        assert count_entries(s) == before + 1
        entry = s.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).one()
        stored = [x.eventId for x in rep.lines if x.status == "stored"]
        assert [e[0] for e in entry.state["events"]] == stored


def test_clash_with_a_concurrent_writer_costs_no_other_line(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An event stored by another writer after the batch looked for known ids makes the bulk
    insert fail (COPY on PostgreSQL): each line is then tried alone, that one replayed."""
    from sqlalchemy import false

    p, cn = world.platform, world.callers["cn-customs"]
    first = world.signed("cn-customs", event("gate_in", 0))
    eid, _ = service.report(p, cn, first)
    real, blinded = service.among, []

    def among_missing_the_first_lookup(s, column, values):  # type: ignore[no-untyped-def]
        if column is GateEvent.event_id and not blinded:
            blinded.append(True)
            return false()
        return real(s, column, values)

    monkeypatch.setattr(service, "among", among_missing_the_first_lookup)
    second = world.signed("cn-customs", event("weighing", 5))
    rep = service.ingest_lines(p, cn, [json.dumps(first), json.dumps(second)])
    assert blinded and [(x.line, x.status) for x in rep.lines] == [(1, "replayed"), (2, "stored")]
    assert rep.lines[0].eventId == eid and _count(p) == 2
