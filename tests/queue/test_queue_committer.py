"""Group commit of bookings: shared transactions never oversell, across processes too; a
booking the database refuses fails alone; answers are those of a booking stored alone; the
committer thread is supervised and shown in readiness."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from silkgate.app import create_app
from silkgate.audit import service as audit
from silkgate.audit.keys import trusted_keys
from silkgate.audit.models import AuditEntry
from silkgate.core.errors import Conflict, InternalError, SilkgateError
from silkgate.core.platform import Platform
from silkgate.queue import committer, service
from silkgate.queue.committer import BookingCommitter
from silkgate.queue.models import Booking, DepositEntry, Slot
from silkgate.queue.schemas import BookingIn, BookingOut
from tests.declarations.faults import variant, within
from tests.factories import tokens
from tests.queue.env import DAY, Env, make_env

API = "/api/v1"
POISON_VIN = "LZZ1CCND0J9999999"


def _pending(env: Env, body: dict[str, Any], who: str = "cn-broker") -> service.PendingBooking:
    out = service.prepare_booking(env.platform, env.who(who), BookingIn.model_validate(body))
    assert isinstance(out, service.PendingBooking), "the day must be planned already"
    return out


def _slot(platform: Platform, hour: int) -> Slot:
    with platform.db.session() as s:
        slot = s.scalar(
            select(Slot).where(Slot.day == DAY, Slot.hour == hour, Slot.quota_class == "regular")
        )
        assert slot is not None
        return slot


def _rows(platform: Platform, slot_id: int) -> int:
    with platform.db.session() as s:
        return s.scalar(select(func.count()).where(Booking.slot_id == slot_id)) or 0


@pytest.fixture
def env(platform: Platform) -> Env:
    env = make_env(platform, cap=120)  # 5 places an hour
    env.book(hour=2)  # alone (no committer here): plans the day
    return env


def test_the_first_bookings_of_a_day_plan_it_in_their_group(env: Env) -> None:
    later = DAY + dt.timedelta(days=1)
    group = [_pending(env, env.booking_body(hour=h, day=later)) for h in (3, 3, 4)]
    outcomes = committer.store_isolated(env.platform, group)
    assert all(isinstance(o, BookingOut) for o in outcomes), outcomes
    with env.platform.db.session() as s:
        slots = s.scalars(select(Slot).where(Slot.day == later, Slot.exit_country == "CN")).all()
        assert len(slots) == 24 * 2  # regular and live rows for each hour, planned once
        assert {(x.hour, x.booked) for x in slots if x.quota_class == "regular" and x.booked} == {
            (3, 2),
            (4, 1),
        }


def test_two_committers_on_one_database_never_oversell(env: Env) -> None:
    """Two API processes' committers race 2 × 12 bookings for one hour of 5 places."""
    other = variant(env.platform)
    other.clock = env.platform.clock
    a, b = BookingCommitter(env.platform, max_group=5), BookingCommitter(other, max_group=5)
    pending = [_pending(env, env.booking_body(hour=13)) for _ in range(24)]
    start = threading.Barrier(24)
    results: list[Any] = [None] * 24

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = (a if i % 2 else b).submit(pending[i])
        except SilkgateError as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    a.close()
    b.close()
    other.close()
    won = [r for r in results if isinstance(r, BookingOut)]
    lost = [r for r in results if not isinstance(r, BookingOut)]
    assert len(won) == 5, lost
    assert all(isinstance(e, Conflict) and e.errors[0].code == "slot_full" for e in lost), lost
    slot = _slot(env.platform, 13)
    assert slot.booked == slot.capacity == 5 == _rows(env.platform, slot.id)
    with env.platform.db.session() as s:
        booked = s.scalars(
            select(AuditEntry.entity_id).where(AuditEntry.action == "queue.booked")
        ).all()
        assert {w.id for w in won} <= set(booked)
        assert s.scalar(select(func.count()).select_from(DepositEntry)) == 6
        assert audit.verify_chain(s, trusted_keys(env.platform.settings)).ok
    from silkgate.audit.verify import verify_all

    outcome = verify_all(env.platform)  # grouped bookings' states match their rows
    assert outcome.ok, outcome.tables and outcome.tables.problems


def test_a_group_decides_in_arrival_order_like_bookings_alone(env: Env) -> None:
    """One truck twice and more bookings than places in one group: the first of each wins."""
    first = env.booking_body(hour=9)
    twin = dict(first, slot={"day": DAY.isoformat(), "hour": 10})
    bodies = [first, twin] + [env.booking_body(hour=9) for _ in range(5)]
    group = [_pending(env, b) for b in bodies]
    calls = 0
    real = committer.store_group

    def counting(p: Platform, g: list[service.PendingBooking]) -> Any:
        nonlocal calls
        calls += 1
        return real(p, g)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(committer, "store_group", counting)
        outcomes = committer.store_isolated(env.platform, group)
    assert calls == 1  # decided in the transaction: no refusal by the database, no split
    assert isinstance(outcomes[0], BookingOut)
    twin_refusal = outcomes[1]
    assert isinstance(twin_refusal, Conflict)
    assert [(e.field, e.code) for e in twin_refusal.errors] == [
        ("/truck/tractor_plate", "already_booked"),
        ("/truck/vin", "already_booked"),
        ("/declaration_ids/0", "already_booked"),
    ]
    assert [type(o).__name__ for o in outcomes[2:]] == ["BookingOut"] * 4 + ["Conflict"]
    last = outcomes[-1]
    assert isinstance(last, Conflict) and last.errors[0].code == "slot_full"
    # the process now refuses that hour without a query, as after a refusal alone
    with pytest.raises(Conflict):
        service.refuse_if_known_full(env.platform, BookingIn.model_validate(bodies[-1]))
    slot = _slot(env.platform, 9)
    assert slot.booked == 5 == _rows(env.platform, slot.id)


def _poison(monkeypatch: pytest.MonkeyPatch) -> None:
    """The database refuses any transaction storing a booking of the POISON_VIN truck."""
    real = audit.append

    def append(session: Any, signer: Any, events: Any, ambient: bool = True) -> Any:
        events = list(events)
        for e in events:
            if e.action == "queue.booked" and e.payload["truck"]["vin"] == POISON_VIN:
                session.execute(text("INSERT INTO queue_slots (id) VALUES (-1)"))
        return real(session, signer, events, ambient)

    monkeypatch.setattr(audit, "append", append)


def test_a_booking_the_database_refuses_fails_alone(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    bodies = [env.booking_body(hour=h) for h in (5, 6, 7, 8, 5, 6, 7, 8)]
    bad = env.booking_body(hour=5)
    bad["truck"]["vin"] = POISON_VIN
    bodies.insert(3, bad)
    group = [_pending(env, b) for b in bodies]
    _poison(monkeypatch)
    outcomes = committer.store_isolated(env.platform, group)
    assert isinstance(outcomes[3], InternalError) and outcomes[3].status == 500
    good = [o for i, o in enumerate(outcomes) if i != 3]
    assert all(isinstance(o, BookingOut) for o in good), good
    with env.platform.db.session() as s:
        stored = set(s.scalars(select(Booking.id)))
        assert {o.id for o in good if isinstance(o, BookingOut)} <= stored
        assert POISON_VIN not in set(s.scalars(select(Booking.vin)))
    for hour in (5, 6, 7, 8):
        slot = _slot(env.platform, hour)
        assert slot.booked == 2 == _rows(env.platform, slot.id)  # no counter moved for nothing


def test_the_unique_index_refuses_what_the_check_missed(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A booking of the same truck committed elsewhere after the check: 409 for it alone."""
    body = env.booking_body(hour=11)
    again = dict(body, slot={"day": DAY.isoformat(), "hour": 12})
    assert isinstance(committer.store_group(env.platform, [_pending(env, body)])[0], BookingOut)
    late = _pending(env, again)  # checked as if the first booking were not there yet
    others = [_pending(env, env.booking_body(hour=12)) for _ in range(3)]
    monkeypatch.setattr(committer._Holders, "clash", lambda self, p: [])  # the check sees nothing
    outcomes = committer.store_isolated(env.platform, [others[0], late, *others[1:]])
    refused = outcomes[1]
    assert isinstance(refused, Conflict) and refused.errors[0].code == "already_booked"
    assert all(isinstance(o, BookingOut) for i, o in enumerate(outcomes) if i != 1)
    slot = _slot(env.platform, 12)
    assert slot.booked == 3 == _rows(env.platform, slot.id)


# ---------------------------------------------------------------- through the API


@pytest.fixture(params=[True, False], ids=["group-commit", "alone"])
def api(env: Env, request: pytest.FixtureRequest) -> Iterator[tuple[Env, TestClient, Any]]:
    p = variant(env.platform, queue_group_commit=request.param)
    p.clock = env.platform.clock
    client = TestClient(create_app(platform=p))
    yield Env(p, env.ids, env.now), client, tokens(p, env.ids)
    p.close()


def _answer(r: Any) -> tuple[int, list[tuple[str, str]]]:
    if r.status_code == 201:
        return 201, []
    return r.status_code, [(e["field"], e["code"]) for e in r.json()["errors"]]


def test_refusals_over_the_api_are_the_same_with_and_without_group_commit(api: Any) -> None:
    env, client, keys = api
    assert (env.platform.booking_committer is not None) == env.platform.settings.queue_group_commit

    def post(body: dict[str, Any], who: str = "cn-broker") -> tuple[int, list[tuple[str, str]]]:
        auth = {"Authorization": f"Bearer {keys[who]}"}
        return _answer(client.post(f"{API}/queue/bookings", json=body, headers=auth))

    body = env.booking_body(hour=15)
    assert post(body) == (201, [])
    # the same request again (a retry): refused, never a second booking of the truck
    assert post(body) == (
        409,
        [
            ("/truck/tractor_plate", "already_booked"),
            ("/truck/vin", "already_booked"),
            ("/declaration_ids/0", "already_booked"),
        ],
    )
    for _ in range(4):
        assert post(env.booking_body(hour=15)) == (201, [])
    assert post(env.booking_body(hour=15)) == (409, [("/slot/hour", "slot_full")])
    assert post(env.booking_body(hour=15, quota_class="live")) == (
        422,
        [("/quota_class", "not_bookable")],
    )
    foreign = env.booking_body(hour=16)
    foreign["declaration_ids"] = ["0" * 22]  # unknown: refused like another's declaration
    assert post(foreign) == (422, [("/declaration_ids/0", "not_entitled")])
    assert post(env.booking_body(hour=16), who="cn-customs")[0] == 403
    with env.platform.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Booking)) == 6
        assert audit.verify_chain(s, trusted_keys(env.platform.settings)).ok


def test_concurrent_requests_through_the_api_fill_the_hour_exactly(env: Env) -> None:
    p = variant(env.platform)
    p.clock = env.platform.clock
    client = TestClient(create_app(platform=p))
    auth = {"Authorization": f"Bearer {tokens(p, env.ids)['cn-broker']}"}
    bodies = [env.booking_body(hour=19) for _ in range(12)]
    answers = within(
        30,
        [lambda b=b: client.post(f"{API}/queue/bookings", json=b, headers=auth) for b in bodies],
    )
    assert (
        sorted(_answer(r) for r in answers)
        == [(201, [])] * 5 + [(409, [("/slot/hour", "slot_full")])] * 7
    )
    slot = _slot(p, 19)
    assert slot.booked == 5 == _rows(p, slot.id)
    p.close()


def test_committer_that_dies_is_restarted_and_shown_in_readiness(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = variant(env.platform)
    p.clock = env.platform.clock
    client = TestClient(create_app(platform=p))
    auth = {"Authorization": f"Bearer {tokens(p, env.ids)['cn-broker']}"}
    real = committer.store_group
    died = False

    def dies_once(platform: Platform, g: list[service.PendingBooking]) -> Any:
        nonlocal died
        if not died:
            died = True
            raise SystemExit("injected: the booking committer is told to exit")
        return real(platform, g)

    monkeypatch.setattr(committer, "store_group", dies_once)
    (first,) = within(15, [lambda: client.post(f"{API}/queue/bookings",
                                               json=env.booking_body(hour=17), headers=auth)])  # fmt: skip
    assert first.status_code == 500 and first.json()["status"] == 500
    (second,) = within(15, [lambda: client.post(f"{API}/queue/bookings",
                                                json=env.booking_body(hour=17), headers=auth)])  # fmt: skip
    assert second.status_code == 201, second.text
    ready = client.get(f"{API}/health/ready")
    assert ready.status_code == 200
    state = ready.json()["threads"]["booking_commit"]
    assert state["state"] == "running" and state["restarts"] >= 1
    assert "SystemExit" in state["last_error"]
    slot = _slot(p, 17)
    assert slot.booked == 1 == _rows(p, slot.id)  # nothing of the failed group was stored
    p.close()


@pytest.mark.parametrize(
    "settings", [{"queue_group_commit": False}, {"group_commit": False}], ids=["queue", "all"]
)
def test_group_commit_of_bookings_can_be_turned_off(
    platform: Platform, settings: dict[str, bool]
) -> None:
    p = variant(platform, **settings)
    create_app(platform=p)
    assert p.booking_committer is None
    p.close()
    q = variant(platform)
    with TestClient(create_app(platform=q)) as client:
        threads = client.get(f"{API}/health/ready").json()["threads"]
        assert threads["booking_commit"]["restarts"] == 0
    q.close()
