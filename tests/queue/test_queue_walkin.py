"""Walk-in trucks: registered by an exit-side official into the live share, refused with
reasons, audited, interleaved at call-forward by the configured ratios and the cap's live
share; the public figures count who waits and estimate the wait."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from silkgate.audit.models import AuditEntry
from silkgate.core.errors import Conflict, Forbidden, SilkgateError, ValidationFailed
from silkgate.core.platform import Platform
from silkgate.queue import public, reading, waiting, walkin
from silkgate.queue.callforward import round_for
from silkgate.queue.models import Booking, Slot, WaitingTruck
from silkgate.queue.schemas import StageIn, WalkInIn
from tests.queue.env import DAY, NOW, Env, make_env

QUOTAS: Any = {"perishables": 0.1, "aeo_tir": 0.05}


@pytest.fixture
def env(platform: Platform) -> Env:
    """Caps of 240 a day on both sides: perishables 24, aeo_tir 12, live 24, regular 180."""
    e = make_env(platform)
    for side in ("cn-customs", "kz-customs"):
        e.cap(side, 240, quotas=QUOTAS, live_share=0.1)
    return e


def walk_in_body(plate: str, vin: str | None = None, **kw: Any) -> WalkInIn:
    data: dict[str, Any] = {
        "crossing": "KHG-NZH",
        "exit_country": "CN",
        "entry_country": "KZ",
        "truck": {"tractor_nationality": "KZ", "tractor_plate": plate, "vin": vin},
    }
    data.update(kw)
    return WalkInIn.model_validate(data)


def walk_in(env: Env, plate: str, who: str = "cn-eport", **kw: Any) -> Any:
    return walkin.register(env.platform, env.who(who), walk_in_body(plate, **kw))


def stage(env: Env, capacity: int) -> Any:
    body = StageIn(crossing="KHG-NZH", exit_country="CN", entry_country="KZ", capacity=capacity)
    return waiting.set_stage(env.platform, env.who("cn-customs"), body)


def errors(exc: SilkgateError) -> set[tuple[str | None, str]]:
    return {(e.field, e.code) for e in exc.errors}


def test_round_shares_regular_positions_with_the_live_queue() -> None:
    echerha = {"priority_aeo_tir": 1, "priority": 1, "aeo": 1, "regular": 5}
    head = ["priority_aeo_tir", "priority", "aeo"]
    # 5 regular positions split 180 : 24 → 4.41 : 0.59 → 4 and 1
    assert round_for(echerha, 180, 24) == [*head, *["regular"] * 4, "live"]
    # half the day live: 2.5 : 2.5 → largest remainder gives regular the tie
    assert round_for(echerha, 100, 100) == [*head, *["regular"] * 3, *["live"] * 2]
    # a small live share still gets one position
    assert round_for(echerha, 235, 5) == [*head, *["regular"] * 4, "live"]
    # no live share: the configured round, the live queue only when nobody else waits
    assert round_for(echerha, 240, 0) == [*head, *["regular"] * 5]
    # one regular position: the round grows by one live position
    assert round_for({"aeo": 1, "regular": 1}, 180, 24) == ["aeo", "regular", "live"]


def test_walk_in_joins_the_live_share_audited(env: Env) -> None:
    stage(env, 0)
    out = walk_in(env, "123ABC02", vin="LZZ1CCND0J1234567")
    b = out.booking
    assert (b.quota_class, b.status, b.organization) == ("live", "arrived", env.ids["cn-eport"])
    assert (b.day.isoformat(), b.hour) == ("2026-12-10", 8)  # 08:00 local, its arrival hour
    assert b.truck["tractor_plate"] == "123ABC02" and b.driver == {}
    assert (out.position.state, out.position.position) == ("waiting", 1)
    p = env.platform
    with p.db.session() as s:
        w = s.get(WaitingTruck, b.id)
        assert w is not None and (w.cf_class, w.booked, w.state) == ("live", False, "waiting")
        live = s.scalar(
            select(Slot).where(Slot.day == NOW.date(), Slot.hour == 8, Slot.quota_class == "live")
        )
        assert live is not None and (live.capacity, live.booked) == (1, 1)
        audit = s.scalars(select(AuditEntry).where(AuditEntry.entity_id == b.id)).all()
        assert [a.action for a in audit] == ["queue.walk_in"]
    # the hour's one live place is taken: the next walk-in takes the nearest hour's
    later = [(NOW + timedelta(minutes=m)).isoformat() for m in (1, 2)]
    assert walk_in(env, "124ABC02", at=later[0]).booking.hour == 7
    assert walk_in(env, "125ABC02", at=later[1]).booking.hour == 9
    # it moves like any checked-in truck
    assert stage(env, 1).called == [b.id]
    waiting.move(p, env.who("cn-customs"), b.id, "gate_in", NOW)
    assert waiting.move(p, env.who("cn-customs"), b.id, "exit", NOW).state == "left"
    with p.db.session() as s:
        assert s.get(Booking, b.id).status == "exited"  # type: ignore[union-attr]


def test_walk_in_refusals_name_the_reason(env: Env) -> None:
    booked = env.book(hour=10)
    plate = booked.truck["tractor_plate"]
    with pytest.raises(Conflict) as e:  # booked: check the booking in instead
        walkin.register(
            env.platform,
            env.who("cn-customs"),
            WalkInIn.model_validate(
                {
                    "crossing": "KHG-NZH",
                    "exit_country": "CN",
                    "entry_country": "KZ",
                    "truck": {"tractor_nationality": "CN", "tractor_plate": plate},
                }
            ),
        )
    assert errors(e.value) == {("/truck/tractor_plate", "already_booked")}
    walk_in(env, "123ABC02")
    with pytest.raises(Conflict) as e:
        walk_in(env, "123ABC02", who="cn-customs")
    assert errors(e.value) == {("/truck/tractor_plate", "in_queue")}
    with pytest.raises(Conflict) as e:  # the VIN of a booked truck
        walk_in(env, "126ABC02", vin=booked.truck["vin"])
    assert errors(e.value) == {("/truck/vin", "already_booked")}
    with pytest.raises(ValidationFailed) as e:
        walk_in(env, "127ABC02", crossing="XXX-YYY")
    assert errors(e.value) == {("/crossing", "unknown_crossing")}
    with pytest.raises(ValidationFailed) as e:
        walk_in(env, "127ABC02", exit_country="CN", entry_country="RU")
    assert errors(e.value) == {("/exit_country", "direction_mismatch")}
    for who in ("kz-customs", "cn-broker", "kz-carrier"):  # not the exit side's official
        with pytest.raises(Forbidden):
            walk_in(env, "127ABC02", who=who)
    decl, _ = env.declaration()  # a CN tractor's declaration
    with pytest.raises(ValidationFailed) as e:
        walk_in(env, "127ABC02", declaration_ids=[decl, "0" * 22])
    assert errors(e.value) == {
        ("/declaration_ids/0", "vehicle_mismatch"),
        ("/declaration_ids/1", "unknown"),
    }
    with pytest.raises(ValidationFailed) as e:
        walk_in(env, "127ABC02", at=(NOW + timedelta(hours=1)).isoformat())
    assert errors(e.value) == {("/at", "in_future")}
    with pytest.raises(ValidationFailed) as e:
        walk_in(env, "127ABC02", at=(NOW - timedelta(hours=25)).isoformat())
    assert errors(e.value) == {("/at", "too_old")}
    with pytest.raises(Conflict) as e:  # KZ→CN has no caps
        walk_in(env, "127ABC02", who="kz-customs", exit_country="KZ", entry_country="CN")
    assert errors(e.value) == {(None, "no_capacity")}
    # nothing of the refused attempts was written
    with env.platform.db.session() as s:
        plates = set(s.scalars(select(Booking.tractor_plate).where(Booking.quota_class == "live")))
    assert plates == {"123ABC02"}


def test_walk_in_with_its_declaration_and_the_live_share_running_out(env: Env) -> None:
    for side in ("cn-customs", "kz-customs"):
        env.cap(side, 20, live_share=0.1)  # 2 live places a day
    decl, truck = env.declaration()
    out = walkin.register(
        env.platform,
        env.who("cn-customs"),
        WalkInIn.model_validate(
            {
                "crossing": "KHG-NZH",
                "exit_country": "CN",
                "entry_country": "KZ",
                "truck": {"tractor_nationality": "CN", "tractor_plate": truck["tractor_plate"]},
                "declaration_ids": [decl],
            }
        ),
    )
    assert out.booking.declaration_ids == [decl]
    with pytest.raises(Conflict) as e:  # the truck and its declaration are in the queue now
        env.book(declaration_ids=[decl], truck={**truck, "vin": "LZZ1CCND0J7654321"})
    assert errors(e.value) == {
        ("/truck/tractor_plate", "already_booked"),
        ("/declaration_ids/0", "already_booked"),
    }
    walk_in(env, "130ABC02")
    with pytest.raises(Conflict) as e:
        walk_in(env, "131ABC02")
    assert errors(e.value) == {(None, "live_share_full")}


def test_call_forward_interleaves_walk_ins_by_ratio_and_live_share(env: Env) -> None:
    """Round [P, p, a, r, r, r, r, L]: hand-computed order over one aeo truck, six regular
    trucks on time, two walk-ins and one late truck (the live queue in arrival order)."""
    from tests.queue.test_queue_callforward import booking, check_in

    stage(env, 0)
    aeo = booking(env, 12, "aeo_tir")
    regular = [booking(env, h, "regular") for h in (10, 11, 12, 13, 14, 15)]
    late = env.book(hour=9, day=NOW.date()).id  # 09:00 today: due by 11:00 local
    for b in [aeo, *reversed(regular)]:
        check_in(env, b)
    env.set_now(NOW + timedelta(hours=4, minutes=10))  # 12:10 local
    w1 = walk_in(env, "141ABC02", at=(NOW + timedelta(hours=3, minutes=50)).isoformat())
    waiting.move(env.platform, env.who("cn-customs"), late, "check_in", NOW + timedelta(hours=4))
    w2 = walk_in(env, "142ABC02")
    live = [w1.booking.id, late, w2.booking.id]
    expected = [aeo, *regular[:4], live[0], *regular[4:], live[1], live[2]]
    positions = {
        b: reading.position(env.platform, env.who("cn-customs"), b).position for b in expected
    }
    assert [positions[b] for b in expected] == list(range(1, 11))
    assert stage(env, 10).called == expected
    with env.platform.db.session() as s:
        assert s.get(WaitingTruck, late).cf_class == "live"  # type: ignore[union-attr]
    from silkgate.audit.verify import verify_all

    outcome = verify_all(env.platform)  # walk-ins, the late truck and the calls are all logged
    assert outcome.ok, outcome.tables and outcome.tables.problems


def test_public_figures_count_who_waits_and_estimate_the_wait(env: Env) -> None:
    stage(env, 0)
    today = NOW.date()
    ids = [env.book(hour=h, day=today).id for h in (9, 10, 11)]
    for b in ids:
        waiting.move(env.platform, env.who("cn-customs"), b, "check_in", NOW)
    walk_in(env, "150ABC02")
    fig = public.public_queue(env.platform, "KHG-NZH")
    cn = next(d for d in fig.directions if d.exit_country == "CN")
    # no call yet: this hour's places give the rate: at 08:00 perishables 1, aeo_tir 1 (12
    # over 24 h: hours 0-11), live 1, regular 8 (180 over 24 h: 8 in hours 0-11) = 11
    assert (cn.booked, cn.walk_ins, cn.waiting) == (3, 1, 4)
    assert (cn.estimated_wait_minutes, cn.estimate_basis) == (
        round(4 / 11 * 60, 1),
        "slot_capacity",
    )
    stage(env, 2)  # two calls in the last hour: 2 an hour
    env.set_now(NOW + timedelta(minutes=30))
    cn = next(d for d in public.public_queue(env.platform, "KHG-NZH").directions if d.exit_country == "CN")  # fmt: skip
    assert (cn.waiting, cn.estimated_wait_minutes, cn.estimate_basis) == (2, 60.0, "call_rate")
    kz = next(d for d in public.public_queue(env.platform, "KHG-NZH").directions if d.exit_country == "KZ")  # fmt: skip
    assert (kz.waiting, kz.estimated_wait_minutes, kz.estimate_basis) == (0, None, None)
    # another day: live figures are for today only
    other = public.public_queue(env.platform, "KHG-NZH", DAY)
    assert all(d.waiting is None and d.estimated_wait_minutes is None for d in other.directions)


def test_walk_in_over_the_api(env: Env) -> None:
    from fastapi.testclient import TestClient

    from silkgate.app import create_app
    from tests.factories import tokens

    client = TestClient(create_app(platform=env.platform))
    keys = tokens(env.platform, env.ids)
    url = "/api/v1/queue/walk-ins"
    body = walk_in_body("123ABC02").model_dump(mode="json", exclude_none=True)

    def post(who: str, data: dict[str, Any]) -> Any:
        return client.post(url, json=data, headers={"Authorization": f"Bearer {keys[who]}"})

    r = post("cn-eport", body)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["booking"]["quota_class"] == "live" and out["position"]["state"] in (
        "waiting",
        "called",
    )
    r = post("cn-customs", body)
    assert r.status_code == 409
    assert r.json()["errors"] == [
        {
            "field": "/truck/tractor_plate",
            "code": "in_queue",
            "message": "this truck is already in the waiting-area queue",
        }
    ]
    assert post("kz-customs", {**body, "truck": {**body["truck"], "tractor_plate": "124ABC02"}}).status_code == 403  # fmt: skip
    r = post("cn-eport", {**body, "truck": {"tractor_nationality": "KZ", "tractor_plate": "@"}})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "/truck/tractor_plate"
    assert client.post(url, json=body).status_code == 401
    # the officials see it; the walk-in's position is readable like any booking's (the other
    # side's customs under the shipped booking agreement, for a declared purpose)
    url = f"/api/v1/queue/bookings/{out['booking']['id']}/position"
    kz = {"Authorization": f"Bearer {keys['kz-customs']}"}
    assert client.get(url, headers=kz).status_code == 400
    pos = client.get(url, headers={**kz, "Silkgate-Purpose": "queue_management"})
    assert pos.status_code == 200


def test_walk_in_command(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime

    from typer.testing import CliRunner

    from silkgate.cli import app
    from silkgate.queue import service as queue
    from silkgate.queue.schemas import CapIn
    from tests.factories import caller, seeded

    monkeypatch.setenv("SILKGATE_DATABASE_URL", platform.settings.database_url)
    monkeypatch.setenv("SILKGATE_DEMO_MODE", "true")
    monkeypatch.setenv("SILKGATE_DATA_DIR", str(platform.settings.data_dir))
    ids = seeded(platform)
    today = (datetime.now(UTC) + timedelta(hours=8)).date()
    for side in ("cn-customs", "kz-customs"):
        cap = CapIn(
            crossing="KHG-NZH",
            exit_country="CN",
            entry_country="KZ",
            valid_from=today,
            daily_cap=240,
            live_share=0.1,
        )
        queue.set_cap(platform, caller(platform, ids, side), cap)
    args = ["queue", "walk-in", "--as", ids["cn-eport"], "--crossing", "KHG-NZH"]
    args += ["--direction", "CN-KZ", "--truck", "KZ:123ABC02", "--trailer", "KZ:124ABC02"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "walk-in " in r.output and "called" in r.output  # the stage had room
    again = CliRunner().invoke(app, args)
    assert again.exit_code != 0 and "[in_queue]" in again.output
