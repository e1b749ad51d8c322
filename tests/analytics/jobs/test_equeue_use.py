"""equeue_use against hand-counted outcomes and cap use, by day and month; residency and small
cells; the day plans the cap comes from."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from silkgate.core.errors import ValidationFailed
from silkgate.exchange.agreements.catalogue import Category
from tests.analytics.jobs.conftest import rows, run_job, statistics_rule
from tests.analytics.jobs.lakes import write_lake

X = "KHG-NZH"
COLS = ("direction", "period", "bookings", "organizations", "cancelled", "expired", "no_shows",
        "late", "used", "pending", "reschedules", "walk_ins", "trucks", "no_show_rate",
        "planned_cap", "cap_utilization", "days_without_plan")  # fmt: skip
KZ_ALLOWED = [statistics_rule("KZ", Category.BOOKING)]
_T = datetime(2025, 3, 1, tzinfo=UTC)


def booking(n: str, org: str, day: str, status: str, **kw: Any) -> dict[str, Any]:
    exit_c = kw.pop("exit", "CN")
    return {
        "updated_at": _T, "booking_id": n, "organization": org, "crossing_code": X,
        "exit_country": exit_c, "entry_country": "KZ" if exit_c == "CN" else "CN",
        "day": date.fromisoformat(day), "hour": 10, "quota_class": kw.pop("quota", "regular"),
        "truck_ref": f"truck-{n}", "status": status, "reschedules": kw.pop("reschedules", 0),
        "no_show_at": _T if kw.pop("no_show", False) else None, "created_at": _T,
        "owner_country": exit_c, "crossing": X, "date": day,
    }  # fmt: skip


def plan(n: int, day: str, cap: int, exit_c: str = "CN") -> dict[str, Any]:
    return {
        "changed_at": _T, "plan_id": n, "crossing_code": X, "exit_country": exit_c,
        "entry_country": "KZ" if exit_c == "CN" else "CN", "day": date.fromisoformat(day),
        "daily_cap": cap, "planned_at": _T, "owner_country": exit_c, "crossing": X, "date": day,
    }  # fmt: skip


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    d10, d11, d12, d13 = "2025-03-10", "2025-03-11", "2025-03-12", "2025-03-13"
    return write_lake(
        tmp_path / "lake",
        {
            "bookings": [
                # 10 March, CN->KZ: used B1, B2, B3; cancelled B4; no-shows B5 (swept) and
                # B6 (came late, then exited); pending B7; expired B8; two walk-ins
                booking("B1", "A", d10, "exited", reschedules=1),
                booking("B2", "A", d10, "arrived"),
                booking("B3", "B", d10, "in_checkpoint", quota="perishables"),
                booking("B4", "B", d10, "cancelled"),
                booking("B5", "C", d10, "no_show", no_show=True),
                booking("B6", "C", d10, "exited", no_show=True),
                booking("B7", "A", d10, "confirmed", reschedules=2),
                booking("B8", "B", d10, "expired"),
                booking("W1", "cn-eport", d10, "arrived", quota="live"),
                booking("W2", "cn-eport", d10, "exited", quota="live"),
                # 11 March: used B9; B11 arrived late and waits in the live queue
                booking("B9", "D", d11, "called"),
                booking("B11", "C", d11, "late", no_show=True),
                # 12 March: a used booking on a day the lake has no plan for
                booking("B10", "A", d12, "exited"),
                # April, outside the March range
                booking("B12", "A", "2025-04-01", "exited"),
                # Kazakhstan's exit queue, 10 March: used K1, no-show K2
                booking("K1", "E", d10, "exited", exit="KZ"),
                booking("K2", "F", d10, "no_show", no_show=True, exit="KZ"),
            ],
            "queue_day_plans": [
                plan(1, d10, 4),
                plan(2, d11, 4),
                plan(3, d13, 4),
                plan(4, "2025-04-01", 4),
                plan(5, d10, 3, "KZ"),
            ],
        },
    )


#     bookings orgs canc exp no_show late used pend resch walk trks rate  cap  util  no_plan
DAYS = [
    # 10 March: 8 bookings of A, B, C; rate 2 / (3 + 2); 3 used of a cap of 4
    ("CN->KZ", "2025-03-10", 8, 3, 1, 1, 2, 1, 3, 1, 3, 2, 10, 0.4, 4, 0.75, 0),
    # 11 March: rate 1 / (1 + 1); 1 used of 4
    ("CN->KZ", "2025-03-11", 2, 2, 0, 0, 1, 1, 1, 0, 0, 0, 2, 0.5, 4, 0.25, 0),
    # 12 March: no plan: no cap, no utilization, the day counted as without a plan
    ("CN->KZ", "2025-03-12", 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0.0, None, None, 1),
    # 13 March: planned, nobody booked
    ("CN->KZ", "2025-03-13", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, None, 4, 0.0, 0),
    ("CN->KZ", "2025-04-01", 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0.0, 4, 0.25, 0),
    # Kazakhstan's side: rate 1 / (1 + 1); 1 used of 3
    ("KZ->CN", "2025-03-10", 2, 2, 0, 0, 1, 0, 1, 0, 0, 0, 2, 0.5, 3, round(1 / 3, 6), 0),
]


def test_outcomes_and_cap_use_by_day(lake: Path, engine_name: str) -> None:
    result = run_job(lake, "equeue_use", engine=engine_name, rules=KZ_ALLOWED)
    assert rows(result, *COLS) == DAYS
    assert {r[0] for r in rows(result, "crossing")} == {X}
    assert result.run.exclusions == [] and result.run.foreign_owners == ["KZ"]


def test_month_rolls_up_days_and_caps(lake: Path) -> None:
    result = run_job(
        lake, "equeue_use",
        {"period": "month", "since": "2025-03-01", "until": "2025-03-31", "crossing": X},
        rules=KZ_ALLOWED,
    )  # fmt: skip
    assert rows(result, *COLS) == [
        # 11 bookings of A, B, C, D (counted once each); no-shows 3, used 5: rate 3 / 8;
        # caps of the planned days 10, 11 and 13 March: 12, used on them 3 + 1 + 0 = 4
        # (12 March's booking had no plan to fill); April is outside the range
        ("CN->KZ", "2025-03", 11, 4, 1, 1, 3, 2, 5, 1, 3, 2, 13, 0.375, 12, round(4 / 12, 6), 1),
        ("KZ->CN", "2025-03", 2, 2, 0, 0, 1, 0, 1, 0, 0, 0, 2, 0.5, 3, round(1 / 3, 6), 0),
    ]


def test_kz_queue_excluded_without_agreement(lake: Path) -> None:
    result = run_job(lake, "equeue_use")
    assert rows(result, *COLS) == DAYS[:-1]
    reason = "KZ customs has no active agreement sharing 'booking' data"
    assert [e.model_dump() for e in result.run.exclusions] == [
        {"dataset": "bookings", "owner_country": "KZ", "crossing": X, "partitions": 1,
         "rows": 2, "reason": reason},
        {"dataset": "queue_day_plans", "owner_country": "KZ", "crossing": X, "partitions": 1,
         "rows": 1, "reason": reason},
    ]  # fmt: skip


def test_small_foreign_cells_suppressed(lake: Path) -> None:
    result = run_job(lake, "equeue_use", rules=KZ_ALLOWED, min_cell_size=3)
    # Kazakhstan's day (2 bookings, 2 organizations) is too small to leave it; China's own
    # small days stay
    assert rows(result, *COLS) == DAYS[:-1] and result.run.suppressed_cells == 1


def walk_ins_alone() -> dict[str, list[dict[str, Any]]]:
    """Kazakh walk-ins with nothing booked: two trucks, three trucks, one truck thrice."""
    return {
        "bookings": [
            booking(n, "kz-eport", day, "exited", quota="live", exit="KZ") | {"truck_ref": truck}
            for n, day, truck in (
                ("W1", "2025-03-11", "t1"), ("W2", "2025-03-11", "t2"), ("W3", "2025-03-12", "t3"),
                ("W4", "2025-03-12", "t4"), ("W5", "2025-03-12", "t5"), ("W6", "2025-03-13", "t6"),
                ("W7", "2025-03-13", "t6"), ("W8", "2025-03-13", "t6"),
            )
        ]
    }  # fmt: skip


def test_walk_ins_alone_held_to_the_minimum(tmp_path: Path, engine_name: str) -> None:
    # Kazakhstan's exit queue: on 11 March two walk-ins and nothing booked (no bookings, no
    # booking organizations to judge the row by; a walk-in's organization is the official's),
    # on 12 March three walk-ins of three trucks, on 13 March three of one truck
    lake = write_lake(tmp_path / "lake", walk_ins_alone())
    cols = ("direction", "period", "bookings", "organizations", "walk_ins", "trucks")
    every = run_job(lake, "equeue_use", engine=engine_name, rules=KZ_ALLOWED, min_cell_size=1)
    assert rows(every, *cols) == [
        ("KZ->CN", "2025-03-11", 0, 0, 2, 2),
        ("KZ->CN", "2025-03-12", 0, 0, 3, 3),
        ("KZ->CN", "2025-03-13", 0, 0, 3, 1),
    ]
    held = run_job(lake, "equeue_use", engine=engine_name, rules=KZ_ALLOWED, min_cell_size=3)
    assert rows(held, *cols) == [("KZ->CN", "2025-03-12", 0, 0, 3, 3)]
    assert held.run.suppressed_cells == 2


def test_bad_params_named(lake: Path) -> None:
    with pytest.raises(ValidationFailed) as exc:
        run_job(lake, "equeue_use", {"period": "week", "since": "10/03/2025", "lane": "red"})
    assert sorted((e.field, e.code) for e in exc.value.errors) == [
        ("/params/lane", "unknown_param"),
        ("/params/period", "not_a_choice"),
        ("/params/since", "bad_date"),
    ]
