"""TRS splits joined to the e-queue (AEO, priority class, pre-arrival, lane), throughput against
the binding cap, the no-show rate: hand-computed, pure and from stored rows on both databases.
A passage that cannot be classified is counted in an ``unknown`` group, never dropped."""

from __future__ import annotations

import datetime as dt
from datetime import UTC, datetime, timedelta, timezone

import pytest

from silkgate.core.errors import Forbidden
from silkgate.core.platform import Platform
from silkgate.gates import kpi, reports
from silkgate.queue import noshow, walkin
from silkgate.queue import service as queue
from silkgate.queue.schemas import WalkInIn
from tests.gates.kpi_world import C0, DAY0, T0, KpiWorld

# ---------------------------------------------------------------- pure arithmetic


def test_no_show_rate_by_hand() -> None:
    d1, d2 = dt.date(2025, 11, 10), dt.date(2025, 11, 11)
    as_of = datetime(2025, 11, 10, 12, 0, tzinfo=UTC)
    past, future = as_of - timedelta(hours=1), as_of + timedelta(hours=1)
    cn, kz = "CN->KZ", "KZ->CN"
    rows = kpi.no_show_rate(
        [
            kpi.Bk(d1, cn, "exited", past, False),  # showed
            kpi.Bk(d1, cn, "arrived", future, False),  # arrived early: due and showed
            kpi.Bk(d1, cn, "no_show", past, True),
            kpi.Bk(d1, cn, "late", past, True),  # arrived after the deadline
            kpi.Bk(d1, cn, "exited", past, True),  # late, then crossed: still a no-show
            kpi.Bk(d1, cn, "confirmed", past, False),  # overdue, sweep not run yet
            kpi.Bk(d1, cn, "confirmed", future, False),  # not due yet
            kpi.Bk(d1, cn, "cancelled", past, False),
            kpi.Bk(d1, cn, "expired", past, False),
            kpi.Bk(d1, kz, "cancelled", past, False),  # nothing due: no rate
            kpi.Bk(d2, cn, "confirmed", future, False),
        ],
        as_of,
    )
    assert rows == [
        {
            "day": "2025-11-10",
            "direction": "CN->KZ",
            "booked": 9,
            "cancelled": 1,
            "expired": 1,
            "pending": 1,
            "due": 6,
            "showed": 2,
            "no_shows": 4,
            "late": 2,
            "unswept": 1,
            "rate": round(4 / 6, 4),
        },
        {
            "day": "2025-11-10",
            "direction": "KZ->CN",
            "booked": 1,
            "cancelled": 1,
            "expired": 0,
            "pending": 0,
            "due": 0,
            "showed": 0,
            "no_shows": 0,
            "late": 0,
            "unswept": 0,
            "rate": None,
        },
        {
            "day": "2025-11-11",
            "direction": "CN->KZ",
            "booked": 1,
            "cancelled": 0,
            "expired": 0,
            "pending": 1,
            "due": 0,
            "showed": 0,
            "no_shows": 0,
            "late": 0,
            "unswept": 0,
            "rate": None,
        },
    ]
    for r in rows:  # every booking in exactly one column
        assert r["booked"] == r["cancelled"] + r["expired"] + r["pending"] + r["due"]
        assert r["due"] == r["showed"] + r["no_shows"]


def test_throughput_day_is_the_crossing_day_and_the_cap_beside_it() -> None:
    sides = {"KHG-NZH": ("CN", "KZ")}
    plus5, plus8 = timezone(timedelta(hours=5)), timezone(timedelta(hours=8))
    t = datetime(2025, 11, 10, 15, 30, tzinfo=UTC)  # 23:30 at +8
    evs = [
        kpi.Ev("A", "KHG-NZH", "CN", "exit_gate", t.astimezone(plus8)),
        kpi.Ev("A", "KHG-NZH", "KZ", "release", (t + timedelta(hours=1)).astimezone(plus5)),
        kpi.Ev("B", "KHG-NZH", "CN", "exit_gate", (t - timedelta(hours=2)).astimezone(plus8)),
    ]
    caps = {dt.date(2025, 11, 10): (200, "KZ")}  # no cap agreed for the 11th
    rows = kpi.throughput(
        kpi.passages(evs, sides), plus8, lambda day, exit_c, entry_c: caps.get(day)
    )
    # A's release is 21:30 at the KZ checkpoint (+5) but 00:30 on the 11th at the crossing
    assert rows == [
        {
            "day": "2025-11-10",
            "side": "CN",
            "direction": "CN->KZ",
            "what": "exited",
            "trucks": 2,
            "cap": 200,
            "cap_side": "KZ",
            "share_of_cap": 0.01,
        },
        {
            "day": "2025-11-11",
            "side": "KZ",
            "direction": "CN->KZ",
            "what": "released",
            "trucks": 1,
            "cap": None,
            "cap_side": None,
            "share_of_cap": None,
        },
    ]


# ---------------------------------------------------------------- stored rows, both databases


@pytest.fixture
def world(platform: Platform) -> KpiWorld:
    return KpiWorld(platform)


def _stored_passages(w: KpiWorld) -> dict[str, str]:
    """Seven trucks, arrival-to-release A 2 h, B 4 h, C 1 h, D 5 h, E 3 h, F 6 h, G 7 h."""
    p = {k: f"10{i}KPA02" for i, k in enumerate("ABCDEFG", 1)}
    a = w.declaration(p["A"], lane="green", lodged=C0)
    b = w.declaration(p["B"], lane="red", lodged=T0 + timedelta(hours=1))  # after arrival
    c = w.declaration(p["C"], lane=None, lodged=C0)  # not risk-assessed yet
    f = w.declaration(p["F"], lane="green", lodged=C0)
    g = w.declaration(p["G"], lane="green", lodged=C0)
    w.book(p["A"], a)
    bb = w.book(p["B"], b, quota="aeo_tir", evidence={"aeo_certificate": "KZAEO42"})
    w.book(p["C"], c, quota="perishables", evidence={"aeo_certificate": "KZAEO7"})
    queue.cancel(w.platform, w.who("cn-broker"), w.book(p["F"], f), "load not ready")
    w.book(p["G"], g, day=DAY0 + timedelta(days=2))  # slot 48 h after arrival: not its passage
    w.set_now(T0 + timedelta(minutes=20))
    walkin.register(
        w.platform,
        w.who("cn-eport"),
        WalkInIn.model_validate(
            {
                "crossing": "KHG-NZH",
                "exit_country": "CN",
                "entry_country": "KZ",
                "truck": {"tractor_nationality": "KZ", "tractor_plate": p["D"]},
                "at": (T0 + timedelta(minutes=20)).isoformat(),
            }
        ),
    )
    w.passage(p["A"], 0, 2, refs=[("declaration", a)])
    w.passage(p["B"], 10, 4, refs=[("booking", bb)])  # lane, pre-arrival via the booking
    w.passage(p["C"], 20, 1)  # matched by plate
    w.passage(p["D"], 30, 5)  # the walk-in
    w.passage(p["E"], 40, 3)  # no booking at all
    w.passage(p["F"], 50, 6)  # its booking was cancelled
    w.passage(p["G"], 60, 7, refs=[("declaration", g)])
    return p


def _a2r(rep: kpi.TrsReport, split: str, key: str) -> tuple[int, float | None, float | None]:
    s = rep.splits[split][key]["arrival_to_release"]
    return s.n, s.mean_h, s.median_h


def test_splits_from_bookings_with_unknown_groups(world: KpiWorld) -> None:
    _stored_passages(world)
    rep = reports.trs_report(
        world.platform, world.who("kz-customs"), "KHG-NZH", as_of=T0 + timedelta(days=1)
    )
    assert (rep.passages, rep.released) == (7, 7)
    assert rep.groups["priority"] == {
        "aeo_tir": 1,
        "live": 1,
        "perishables": 1,
        "regular": 1,
        "unknown": 3,
    }
    assert _a2r(rep, "priority", "regular") == (1, 2.0, 2.0)
    assert _a2r(rep, "priority", "aeo_tir") == (1, 4.0, 4.0)
    assert _a2r(rep, "priority", "perishables") == (1, 1.0, 1.0)
    assert _a2r(rep, "priority", "live") == (1, 5.0, 5.0)
    assert _a2r(rep, "priority", "unknown") == (3, round(16 / 3, 4), 6.0)  # E, F, G

    assert rep.groups["aeo"] == {"yes": 2, "no": 2, "unknown": 3}
    assert _a2r(rep, "aeo", "yes") == (2, 2.5, 2.5)  # B 4 h, C 1 h
    assert _a2r(rep, "aeo", "no") == (2, 3.5, 3.5)  # A 2 h, the walk-in D 5 h
    unknown = rep.splits["aeo"]["unknown"]["arrival_to_release"]
    assert unknown.p90_h == pytest.approx(6.8)  # 3, 6, 7 h: 6 + 0.8 × 1
    assert unknown.within_target_share == 0.0  # target 2 h

    # lane and pre-arrival from the declarations the events name, else the booking's (B);
    # G's events name its declaration although its booking is not this passage's
    assert rep.groups["lane"] == {"green": 2, "red": 1, "none": 1, "unknown": 3}
    assert _a2r(rep, "lane", "green") == (2, 4.5, 4.5)  # A 2 h, G 7 h
    assert _a2r(rep, "lane", "red") == (1, 4.0, 4.0)  # B, through its booking
    assert _a2r(rep, "lane", "unknown") == (3, round(14 / 3, 4), 5.0)  # D 5, E 3, F 6
    assert rep.groups["pre_arrival"] == {"yes": 3, "no": 1, "unknown": 3}
    assert _a2r(rep, "pre_arrival", "yes") == (3, round(10 / 3, 4), 2.0)  # A, C, G
    assert _a2r(rep, "pre_arrival", "no") == (1, 4.0, 4.0)  # B: lodged after arrival
    assert rep.groups["hour"] == {"16": 6, "17": 1}
    for split in kpi.SPLITS:  # nothing dropped
        assert sum(rep.groups[split].values()) == 7, split
    rows = rep.rows()
    assert {
        (r["group"], r["key"], r["passages"])
        for r in rows
        if r["interval"] == "arrival_to_release" and r["group"] == "aeo"
    } == {("aeo", "yes", 2), ("aeo", "no", 2), ("aeo", "unknown", 3)}


def test_throughput_against_the_binding_cap_and_no_show_rate(world: KpiWorld) -> None:
    _stored_passages(world)
    thr = reports.throughput_report(world.platform, world.who("cn-customs"), "KHG-NZH")
    got = {(r["day"], r["side"], r["what"]): r for r in thr}
    assert set(got) == {
        ("2025-11-10", "CN", "exited"),
        ("2025-11-10", "KZ", "released"),
        ("2025-11-11", "KZ", "released"),  # G released at 00:00 crossing time
    }
    assert (got[("2025-11-10", "CN", "exited")]["trucks"], got[("2025-11-10", "CN", "exited")]["share_of_cap"]) == (7, 0.035)  # fmt: skip
    assert got[("2025-11-10", "KZ", "released")]["trucks"] == 6
    assert got[("2025-11-11", "KZ", "released")]["trucks"] == 1
    for r in thr:
        assert (r["cap"], r["cap_side"], r["direction"]) == (200, "KZ", "CN->KZ")  # lower side
    with pytest.raises(Forbidden):
        reports.no_show_report(world.platform, world.who("kz-carrier"), "KHG-NZH")


def test_no_show_rate_from_stored_bookings(world: KpiWorld) -> None:
    from silkgate.queue import waiting

    w = world
    p = {k: f"2{i:02d}KPB02" for i, k in enumerate(["on", "gone", "late", "cancel", "open", "due", "next"])}  # fmt: skip
    ids = {
        "on": w.book(p["on"], w.declaration(p["on"]), hour=9),
        "gone": w.book(p["gone"], w.declaration(p["gone"]), hour=9),
        "late": w.book(p["late"], w.declaration(p["late"]), hour=10),
        "cancel": w.book(p["cancel"], w.declaration(p["cancel"]), hour=11),
        "due": w.book(p["due"], w.declaration(p["due"]), hour=14),
        "open": w.book(p["open"], w.declaration(p["open"]), hour=22),
        "next": w.book(p["next"], w.declaration(p["next"]), hour=9, day=DAY0 + timedelta(days=1)),
    }
    queue.cancel(w.platform, w.who("cn-broker"), ids["cancel"], "no load")
    local0 = datetime(2025, 11, 9, 16, 0, tzinfo=UTC)  # 00:00 on 10 Nov at the crossing
    officer = w.who("cn-customs")
    w.set_now(local0 + timedelta(hours=9, minutes=30))
    waiting.move(w.platform, officer, ids["on"], "check_in", w.now[0])
    w.set_now(local0 + timedelta(hours=12, minutes=30))  # 9:00 and 10:00 slots past due (+2 h)
    swept = noshow.sweep(w.platform).no_shows
    assert sorted(swept) == sorted([ids["gone"], ids["late"]])
    waiting.move(w.platform, officer, ids["late"], "check_in", w.now[0])
    assert w.booking_status(ids["late"]) in ("late", "called")
    w.set_now(local0 + timedelta(hours=16, minutes=30))  # 14:00 slot past due, not swept
    walkin.register(  # a walk-in is not a booking: not in these figures
        w.platform,
        officer,
        WalkInIn.model_validate(
            {
                "crossing": "KHG-NZH",
                "exit_country": "CN",
                "entry_country": "KZ",
                "truck": {"tractor_nationality": "KZ", "tractor_plate": "299KPB02"},
            }
        ),
    )
    rows = reports.no_show_report(w.platform, w.who("karamay"), "KHG-NZH")
    assert rows == [
        {
            "crossing": "KHG-NZH",
            "day": "2025-11-10",
            "direction": "CN->KZ",
            "booked": 6,
            "cancelled": 1,
            "expired": 0,
            "pending": 1,  # the 22:00 slot
            "due": 4,
            "showed": 1,
            "no_shows": 3,  # swept, late, and the 14:00 one the sweep has not seen yet
            "late": 1,
            "unswept": 1,
            "rate": 0.75,
        },
        {
            "crossing": "KHG-NZH",
            "day": "2025-11-11",
            "direction": "CN->KZ",
            "booked": 1,
            "cancelled": 0,
            "expired": 0,
            "pending": 1,
            "due": 0,
            "showed": 0,
            "no_shows": 0,
            "late": 0,
            "unswept": 0,
            "rate": None,
        },
    ]
    # a window of slot start times: only the 11th
    later = reports.no_show_report(
        w.platform,
        w.who("karamay"),
        "KHG-NZH",
        start=local0 + timedelta(days=1),
    )
    assert [r["day"] for r in later] == ["2025-11-11"]


def test_no_shows_and_throughput_over_the_api_and_the_console(
    world: KpiWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    import csv
    import io
    import json

    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from silkgate.app import create_app
    from silkgate.cli import app
    from tests.factories import tokens

    w = world
    w.book("301KPC02", w.declaration("301KPC02"), hour=9)
    gone = w.book("302KPC02", w.declaration("302KPC02"), hour=10)
    queue.cancel(w.platform, w.who("cn-broker"), gone, "no load")
    w.passage("303KPC02", 0, 2)
    client = TestClient(create_app(platform=w.platform))
    keys = tokens(w.platform, w.ids)
    auth = {"Authorization": f"Bearer {keys['kz-customs']}"}
    r = client.get("/api/v1/kpi/no-shows?crossing=KHG-NZH", headers=auth)
    assert r.status_code == 200
    (row,) = r.json()  # the platform's clock is still before the slots: not yet due
    assert (row["booked"], row["pending"], row["cancelled"], row["rate"]) == (2, 1, 1, None)
    r = client.get(
        "/api/v1/kpi/no-shows?crossing=KHG-NZH",
        headers={"Authorization": f"Bearer {keys['kz-carrier']}"},
    )
    assert r.status_code == 403
    r = client.get("/api/v1/kpi/no-shows?crossing=KHG-NZH&start=2025-11-10", headers=auth)
    assert r.status_code == 422  # a time needs its offset
    r = client.get("/api/v1/kpi/throughput?crossing=KHG-NZH", headers=auth)
    assert {(x["what"], x["trucks"], x["cap"]) for x in r.json()} == {
        ("exited", 1, 200),
        ("released", 1, 200),
    }
    for name in ("SILKGATE_DATABASE_URL", "SILKGATE_DATA_DIR"):
        key = name.removeprefix("SILKGATE_").lower()
        monkeypatch.setenv(name, str(getattr(w.platform.settings, key)))
    monkeypatch.setenv("SILKGATE_DEMO_MODE", "true")
    runner = CliRunner()
    # the console's platform runs on the real clock: the 2025 slot is long past due
    out = runner.invoke(app, ["kpi", "no-shows", "--as", w.ids["cn-customs"], "--format", "csv"])
    assert out.exit_code == 0, out.output
    (line,) = list(csv.DictReader(io.StringIO(out.stdout)))
    assert (line["due"], line["no_shows"], line["unswept"], line["rate"]) == ("1", "1", "1", "1.0")
    out = runner.invoke(app, ["kpi", "trs", "--as", w.ids["cn-customs"], "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    prio = {r["key"]: r["passages"] for r in rows if r["group"] == "priority"}
    assert prio == {"unknown": "1"}  # the passage's truck has no booking
    out = runner.invoke(app, ["kpi", "throughput", "--as", w.ids["cn-customs"]])
    assert {x["cap_side"] for x in json.loads(out.stdout)} == {"KZ"}
