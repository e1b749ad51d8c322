"""clearance_times against hand-computed TRS intervals: passages per side and across, lanes,
corrections, open and refused passages, periods and trends, residency and small cells."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from silkgate.analytics.jobs import clearance
from silkgate.core.errors import ValidationFailed
from silkgate.exchange.agreements.catalogue import Category
from tests.analytics.jobs.conftest import make_engine, rows, run_job, statistics_rule
from tests.analytics.jobs.lakes import write_lake
from tests.analytics.jobs.risk_rows import declaration

X = "KHG-NZH"
KEYS = ("direction", "side", "period", "lane", "trs_interval")
FIGURES = ("passages", "trucks", "open_passages", "refused", "measured", "mean_h", "median_h",
           "p90_h", "within_target_share", "median_change_h")  # fmt: skip
KZ_ALLOWED = [statistics_rule("KZ", Category.GATE_EVENTS)]


class Gate:
    """Gate events and the declarations they name, as the lake holds them (times UTC; the
    ``date`` partition is the crossing day at UTC+8)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.refs: list[dict[str, Any]] = []

    def visit(self, truck: str, side: str, day: str, decls: tuple[str, ...], *points: str) -> None:
        """``points``: "read_point@HH:MM" on ``day``, or "read_point@YYYY-MM-DDTHH:MM"."""
        for p in points:
            point, _, at = p.partition("@")
            self.event(truck, side, point, at if "T" in at else f"{day}T{at}", decls)

    def event(
        self, truck: str, side: str, point: str, at: str, decls: tuple[str, ...] = (),
        corrects: str | None = None,
    ) -> str:  # fmt: skip
        eid = f"e{len(self.events) + 1:03d}"
        t = datetime.fromisoformat(at).replace(tzinfo=UTC)
        where = {"owner_country": side, "crossing": X, "date": (t + timedelta(hours=8)).date()}
        self.events.append({
            "record_time": t + timedelta(minutes=1), "event_id": eid, "crossing_code": X,
            "side": side, "read_point": point, "biz_step": "arriving", "truck_ref": truck,
            "event_time": t, "event_offset": "+08:00", "corrects": corrects,
            "reporter": f"{side.lower()}-customs", **where,
        })  # fmt: skip
        for d in decls:
            self.refs.append({
                "record_time": t, "event_id": eid, "ref_type": "declaration", "ref": d,
                "event_time": t, "crossing_code": X, "side": side, **where,
            })  # fmt: skip
        return eid


def lane(n: int, decl: str, final: str, version: int = 1, assessed: str | None = None) -> dict:
    return {
        "changed_at": datetime(2025, 1, 1, tzinfo=UTC), "assessment_id": n,
        "declaration_id": decl, "version": version, "office": "CN-KHORGOS",
        "direction": "export", "assessed_lane": assessed or final, "final_lane": final,
        "override_lane": final if assessed else None, "owner_country": "CN", "crossing": X,
        "date": "2025-01-01",
    }  # fmt: skip


def lodged(lanes: list[dict], traders: dict[str, str] | None = None, office: str = "CN-KHORGOS"):
    """The declarations the lanes assess, lodged at ``office``'s country; each its own
    trader unless ``traders`` names one."""
    ids = dict.fromkeys(lane["declaration_id"] for lane in lanes)
    return [declaration(d, "2025-01-01", (traders or {}).get(d, f"TR-{d}"), "broker",
                        office=office) for d in ids]  # fmt: skip


def gate_rows(g: Gate, lanes: list[dict], **traders: str) -> dict[str, list[dict[str, Any]]]:
    """``g``'s events, the lanes and their declarations (``traders``: D1="A"…), by dataset."""
    return {"gate_events": g.events, "gate_event_refs": g.refs, "lanes": lanes,
            "declarations": lodged(lanes, traders)}  # fmt: skip


def gate_lake(root: Path, g: Gate, lanes: list[dict], **traders: str) -> Path:
    return write_lake(root, gate_rows(g, lanes, **traders))


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    g = Gate()
    # T1, CN->KZ, D1 green. CN: queue 02:00-05:00 = 3 h, documents 05:30-06:30 = 1 h, arrival
    # to exit gate 02:00-10:00 = 8 h (neutral_zone belongs to neither side). KZ: documents
    # 0.5 h, entry 11:00 to release 13:00 = 2 h. Across: 02:00-13:00 = 11 h.
    g.visit(
        "T1",
        "CN",
        "2025-01-06",
        ("D1",),
        "waiting_area@02:00",
        "gate_in@05:00",
        "document_control_start@05:30",
        "document_control_end@06:30",
        "exit_gate@10:00",
        "neutral_zone@10:10",
    )
    g.visit(
        "T1",
        "KZ",
        "2025-01-06",
        ("D1",),
        "entry_gate_in@11:00",
        "document_control_start@11:30",
        "document_control_end@12:00",
        "release@13:00",
    )
    # T2, D2 (v1 red, v2 green: the latest version counts). CN: queue 1, documents 0.25,
    # total 2 h. KZ: 0.5 h. Across: 00:00-03:30 = 3.5 h.
    g.visit(
        "T2",
        "CN",
        "2025-01-08",
        ("D2",),
        "waiting_area@00:00",
        "gate_in@01:00",
        "document_control_start@01:30",
        "document_control_end@01:45",
        "exit_gate@02:00",
    )
    g.visit("T2", "KZ", "2025-01-08", ("D2",), "entry_gate_in@03:00", "release@03:30")
    # T3, D3 green. CN: queue 4, documents 04:00-06:00 = 2 (the end first reported at 20:00
    # the day before, then corrected: ignoring the correction would make the arrival 20:00
    # and the documents unmeasured), inspection 06:00-10:00 = 4, total 00:00-12:00 = 12 h.
    # KZ: 13:00 to 09:00 next day = 20 h. Across: 00:00 10 Jan to 09:00 11 Jan = 33 h.
    g.visit(
        "T3",
        "CN",
        "2025-01-10",
        ("D3",),
        "waiting_area@00:00",
        "gate_in@04:00",
        "document_control_start@04:00",
        "physical_inspection_start@06:00",
        "physical_inspection_end@10:00",
        "exit_gate@12:00",
    )
    wrong = g.event("T3", "CN", "document_control_end", "2025-01-09T20:00", ("D3",))
    g.event("T3", "CN", "document_control_end", "2025-01-10T06:00", ("D3",), corrects=wrong)
    g.visit("T3", "KZ", "2025-01-10", ("D3",), "entry_gate_in@13:00", "release@2025-01-11T09:00")
    # T4, D4 (assessed green, overridden red) and D4b green: strictest final lane red.
    # CN: queue 2, inspection 03:00-08:00 = 5, total 00:00 15 Jan to 04:00 17 Jan = 52 h.
    # KZ: entered, not released: open on that side and across.
    g.visit(
        "T4",
        "CN",
        "2025-01-15",
        ("D4", "D4b"),
        "waiting_area@00:00",
        "gate_in@02:00",
        "physical_inspection_start@03:00",
        "physical_inspection_end@08:00",
        "exit_gate@2025-01-17T04:00",
    )
    g.visit("T4", "KZ", "2025-01-17", ("D4", "D4b"), "entry_gate_in@05:00")
    # T5 names no declaration (lane none): queue 10:00-12:00 = 2 h, then nothing: open.
    g.visit("T5", "CN", "2025-01-20", (), "waiting_area@10:00", "gate_in@12:00")
    # T6, D6 green. CN: queue 1, total 3 h. KZ refuses it: refused, no departure measured.
    g.visit(
        "T6", "CN", "2025-01-22", ("D6",), "waiting_area@00:00", "gate_in@01:00", "exit_gate@03:00"
    )
    g.visit("T6", "KZ", "2025-01-22", ("D6",), "entry_gate_in@04:00", "refusal@06:00")
    # T1 again in February, D7 green: CN queue 2, total 6; KZ 1; across 8 h.
    g.visit(
        "T1", "CN", "2025-02-03", ("D7",), "waiting_area@00:00", "gate_in@02:00", "exit_gate@06:00"
    )
    g.visit("T1", "KZ", "2025-02-03", ("D7",), "entry_gate_in@07:00", "release@08:00")
    # T7, KZ->CN, K1 (China's import declaration) yellow. KZ: queue 1, total 2. CN:
    # documents 1, entry 03:00 to release 05:00 = 2. Across: 5 h.
    g.visit(
        "T7", "KZ", "2025-01-12", ("K1",), "waiting_area@00:00", "gate_in@01:00", "exit_gate@02:00"
    )
    g.visit(
        "T7",
        "CN",
        "2025-01-12",
        ("K1",),
        "entry_gate_in@03:00",
        "document_control_start@03:00",
        "document_control_end@04:00",
        "release@05:00",
    )
    # T8, D8 green, 31 Dec 2024 (ISO week 2025-W01). CN: queue 1, total 4. KZ: 1. Across 6.
    g.visit(
        "T8", "CN", "2024-12-31", ("D8",), "waiting_area@00:00", "gate_in@01:00", "exit_gate@04:00"
    )
    g.visit("T8", "KZ", "2024-12-31", ("D8",), "entry_gate_in@05:00", "release@06:00")
    lanes = [
        lane(1, "D1", "green"), lane(2, "D2", "red"), lane(3, "D2", "green", version=2),
        lane(4, "D3", "green"), lane(5, "D4", "red", assessed="green"), lane(6, "D4b", "green"),
        lane(7, "D6", "green"), lane(8, "D7", "green"), lane(9, "K1", "yellow"),
        lane(10, "D8", "green"),
    ]  # fmt: skip
    return gate_lake(tmp_path / "lake", g, lanes)


def fig(n: int, trucks: int, measured: int, *values: float | None, open_: int = 0,
        refused: int = 0) -> tuple[Any, ...]:  # fmt: skip
    """A row's figures: mean, median, p90, share, change (missing ones null)."""
    got = list(values) + [None] * (5 - len(values))
    return (n, trucks, open_, refused, measured, *got)


def none(n: int = 1, trucks: int = 1, **kw: int) -> tuple[Any, ...]:
    return fig(n, trucks, 0, **kw)


GREEN_JAN_CN = {  # T1, T2, T3, T6
    # queue [3, 1, 4, 1]: mean 2.25, median 2, p90 1 + ... sorted [1, 1, 3, 4] at 2.7 -> 3.7;
    # change against December's 1 h: +1
    "queue": fig(4, 4, 4, 2.25, 2.0, 3.7, None, 1.0),
    # [1, 0.25, 2]: mean 3.25 / 3, median 1, p90 at 1.8 -> 1 + 0.8 * 1 = 1.8
    "document_control": fig(4, 4, 3, round(3.25 / 3, 6), 1.0, 1.8),
    "inspection": fig(4, 4, 1, 4.0, 4.0, 4.0),
    # [8, 2, 12, 3]: mean 6.25, median 5.5, p90 sorted [2, 3, 8, 12] at 2.7 -> 8 + 0.7 * 4
    # = 10.8; all within 48 h; change against December's 4 h: +1.5
    "arrival_to_departure": fig(4, 4, 4, 6.25, 5.5, 10.8, 1.0, 1.5),
}

EXPECTED = {
    ("CN->KZ", "CN", "2024-12", "green", "queue"): fig(1, 1, 1, 1.0, 1.0, 1.0),
    ("CN->KZ", "CN", "2024-12", "green", "document_control"): none(),
    ("CN->KZ", "CN", "2024-12", "green", "inspection"): none(),
    ("CN->KZ", "CN", "2024-12", "green", "arrival_to_departure"): fig(1, 1, 1, 4.0, 4.0, 4.0, 1.0),
    **{("CN->KZ", "CN", "2025-01", "green", k): v for k, v in GREEN_JAN_CN.items()},
    ("CN->KZ", "CN", "2025-01", "red", "queue"): fig(1, 1, 1, 2.0, 2.0, 2.0),
    ("CN->KZ", "CN", "2025-01", "red", "document_control"): none(),
    ("CN->KZ", "CN", "2025-01", "red", "inspection"): fig(1, 1, 1, 5.0, 5.0, 5.0),
    ("CN->KZ", "CN", "2025-01", "red", "arrival_to_departure"): fig(1, 1, 1, 52.0, 52.0, 52.0, 0.0),
    ("CN->KZ", "CN", "2025-01", "none", "queue"): fig(1, 1, 1, 2.0, 2.0, 2.0, open_=1),
    ("CN->KZ", "CN", "2025-01", "none", "document_control"): none(open_=1),
    ("CN->KZ", "CN", "2025-01", "none", "inspection"): none(open_=1),
    ("CN->KZ", "CN", "2025-01", "none", "arrival_to_departure"): none(open_=1),
    # February against January: queue 2 - 2, total 6 - 5.5
    ("CN->KZ", "CN", "2025-02", "green", "queue"): fig(1, 1, 1, 2.0, 2.0, 2.0, None, 0.0),
    ("CN->KZ", "CN", "2025-02", "green", "document_control"): none(),
    ("CN->KZ", "CN", "2025-02", "green", "inspection"): none(),
    ("CN->KZ", "CN", "2025-02", "green", "arrival_to_departure"): fig(1, 1, 1, 6.0, 6.0, 6.0, 1.0, 0.5),
    # the entry side: no queue rows (no waiting area there)
    ("CN->KZ", "KZ", "2024-12", "green", "document_control"): none(),
    ("CN->KZ", "KZ", "2024-12", "green", "inspection"): none(),
    ("CN->KZ", "KZ", "2024-12", "green", "arrival_to_departure"): fig(1, 1, 1, 1.0, 1.0, 1.0, 1.0),
    ("CN->KZ", "KZ", "2025-01", "green", "document_control"): fig(4, 4, 1, 0.5, 0.5, 0.5, refused=1),
    ("CN->KZ", "KZ", "2025-01", "green", "inspection"): none(4, 4, refused=1),
    # [2, 0.5, 20] (T6 refused): mean 7.5, median 2, p90 at 1.8 -> 2 + 0.8 * 18 = 16.4
    ("CN->KZ", "KZ", "2025-01", "green", "arrival_to_departure"):
        fig(4, 4, 3, 7.5, 2.0, 16.4, 1.0, 1.0, refused=1),
    ("CN->KZ", "KZ", "2025-01", "red", "document_control"): none(open_=1),
    ("CN->KZ", "KZ", "2025-01", "red", "inspection"): none(open_=1),
    ("CN->KZ", "KZ", "2025-01", "red", "arrival_to_departure"): none(open_=1),
    ("CN->KZ", "KZ", "2025-02", "green", "document_control"): none(),
    ("CN->KZ", "KZ", "2025-02", "green", "inspection"): none(),
    ("CN->KZ", "KZ", "2025-02", "green", "arrival_to_departure"): fig(1, 1, 1, 1.0, 1.0, 1.0, 1.0, -1.0),
    # across the crossing: T5 was seen on one side only, so it is in no 'both' row
    ("CN->KZ", "both", "2024-12", "green", "arrival_to_release"): fig(1, 1, 1, 6.0, 6.0, 6.0, 1.0),
    # [11, 3.5, 33] (T6 refused): mean 47.5 / 3, median 11, p90 at 1.8 -> 11 + 0.8 * 22 = 28.6
    ("CN->KZ", "both", "2025-01", "green", "arrival_to_release"):
        fig(4, 4, 3, round(47.5 / 3, 6), 11.0, 28.6, 1.0, 5.0, refused=1),
    ("CN->KZ", "both", "2025-01", "red", "arrival_to_release"): none(open_=1),
    ("CN->KZ", "both", "2025-02", "green", "arrival_to_release"): fig(1, 1, 1, 8.0, 8.0, 8.0, 1.0, -3.0),
    ("KZ->CN", "CN", "2025-01", "yellow", "document_control"): fig(1, 1, 1, 1.0, 1.0, 1.0),
    ("KZ->CN", "CN", "2025-01", "yellow", "inspection"): none(),
    ("KZ->CN", "CN", "2025-01", "yellow", "arrival_to_departure"): fig(1, 1, 1, 2.0, 2.0, 2.0, 1.0),
    ("KZ->CN", "KZ", "2025-01", "yellow", "queue"): fig(1, 1, 1, 1.0, 1.0, 1.0),
    ("KZ->CN", "KZ", "2025-01", "yellow", "document_control"): none(),
    ("KZ->CN", "KZ", "2025-01", "yellow", "inspection"): none(),
    ("KZ->CN", "KZ", "2025-01", "yellow", "arrival_to_departure"): fig(1, 1, 1, 2.0, 2.0, 2.0, 1.0),
    ("KZ->CN", "both", "2025-01", "yellow", "arrival_to_release"): fig(1, 1, 1, 5.0, 5.0, 5.0, 1.0),
}  # fmt: skip


def by_key(result: Any) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    return {r[:5]: r[5:] for r in rows(result, *KEYS, *FIGURES)}


def test_intervals_per_side_and_across_by_month(lake: Path) -> None:
    """On DuckDB; test_engines_agree runs this lake on Spark too (clearance is Spark's
    slowest job, a minute of a busy test machine)."""
    result = run_job(lake, "clearance_times", rules=KZ_ALLOWED)
    assert by_key(result) == EXPECTED
    assert {r[0] for r in rows(result, "crossing")} == {X}
    assert result.run.exclusions == [] and result.run.foreign_owners == ["KZ"]


def test_iso_weeks_and_their_trend(lake: Path) -> None:
    result = run_job(lake, "clearance_times", {"period": "week"}, rules=KZ_ALLOWED)
    got = {
        r[2]: (r[11], r[14])
        for r in rows(result, *KEYS, *FIGURES)
        if r[:2] == ("CN->KZ", "CN") and r[3:5] == ("green", "arrival_to_departure")
    }
    # 31 Dec 2024 is in ISO week 2025-W01; T1, T2, T3 (6-10 Jan) in W02: median of [8, 2, 12]
    # is 8, +4 on W01's 4 h; T6 (22 Jan) in W04 and T1's second trip (3 Feb) in W06 follow
    # weeks without green passages: no change
    assert got == {
        "2025-W01": (4.0, None), "2025-W02": (8.0, 4.0), "2025-W04": (3.0, None),
        "2025-W06": (6.0, None),
    }  # fmt: skip
    periods = {(r[0], r[1], r[3], r[2]) for r in rows(result, *KEYS)}
    assert ("KZ->CN", "CN", "yellow", "2025-W02") in periods  # Sunday 12 Jan
    assert ("CN->KZ", "CN", "red", "2025-W03") in periods and (
        "CN->KZ",
        "CN",
        "none",
        "2025-W04",
    ) in periods


def test_target_hours_and_date_range(lake: Path) -> None:
    result = run_job(
        lake, "clearance_times",
        {"target_hours": 10, "since": "2025-01-01", "until": "2025-01-31", "crossing": X},
        rules=KZ_ALLOWED,
    )  # fmt: skip
    got = by_key(result)
    assert {k[2] for k in got} == {"2025-01"}
    # within 10 h: CN [8, 2, 12, 3] -> 3 of 4; across [11, 3.5, 33] -> 1 of 3; December is
    # outside the range, so January has no previous period to change against
    total = got[("CN->KZ", "CN", "2025-01", "green", "arrival_to_departure")]
    assert total[-2:] == (0.75, None)
    assert got[("CN->KZ", "both", "2025-01", "green", "arrival_to_release")][-2] == round(1 / 3, 6)
    assert got[("CN->KZ", "CN", "2025-01", "green", "queue")][-2] is None


def test_kz_side_excluded_without_agreement_cn_side_unchanged(lake: Path) -> None:
    full = by_key(run_job(lake, "clearance_times", rules=KZ_ALLOWED))
    result = run_job(lake, "clearance_times")
    got = by_key(result)
    # only China's side: no KZ rows, no passage seen on both sides, CN figures as before
    assert got == {k: v for k, v in full.items() if k[1] == "CN"}
    assert len(got) == 23
    # KZ's events: 18 on 9 crossing days (31 Dec; 6, 8, 10, 11, 12, 17, 22 Jan; 3 Feb), and
    # the 19 declaration references they carry (T4's entry names two declarations)
    reason = "KZ customs has no active agreement sharing 'gate_events' data"
    assert [e.model_dump() for e in result.run.exclusions] == [
        {"dataset": "gate_events", "owner_country": "KZ", "crossing": X, "partitions": 9,
         "rows": 18, "reason": reason},
        {"dataset": "gate_event_refs", "owner_country": "KZ", "crossing": X, "partitions": 9,
         "rows": 19, "reason": reason},
    ]  # fmt: skip
    assert result.run.foreign_owners == []


def test_small_foreign_cells_suppressed_and_thin_figures_withheld(lake: Path) -> None:
    result = run_job(lake, "clearance_times", rules=KZ_ALLOWED, min_cell_size=2)
    got = by_key(result)
    # rows with KZ data (its side, and across) of one passage are gone: 3 intervals each for
    # KZ's December, January red and February rows, 4 for T7's KZ side, and 4 'both' rows
    assert result.run.suppressed_cells == 17
    assert set(got) == {k for k, v in EXPECTED.items() if k[1] == "CN" or v[0] >= 2}
    # KZ's January documents were measured on one passage: withheld; the totals' change
    # against December (suppressed) too
    assert got[("CN->KZ", "KZ", "2025-01", "green", "document_control")] == fig(4, 4, 1, refused=1)
    assert got[("CN->KZ", "KZ", "2025-01", "green", "arrival_to_departure")] == fig(
        4, 4, 3, 7.5, 2.0, 16.4, 1.0, None, refused=1
    )
    # China's own rows of one passage stay whole
    assert (
        got[("CN->KZ", "CN", "2025-01", "red", "arrival_to_departure")]
        == EXPECTED[("CN->KZ", "CN", "2025-01", "red", "arrival_to_departure")]
    )


def test_a_sides_passage_is_one_even_when_the_other_sides_clock_disagrees(tmp_path: Path) -> None:
    """CN's clock runs ahead: its exit gate (03:00) is reported after KZ's entry (02:40). KZ's
    passage is still one, counted by KZ's departures alone, not split at CN's exit."""
    g = Gate()
    g.visit(
        "T9", "CN", "2025-03-03", ("D9",), "waiting_area@00:00", "gate_in@01:00", "exit_gate@03:00"
    )
    g.visit(
        "T9", "KZ", "2025-03-03", ("D9",), "entry_gate_in@02:40", "document_control_start@02:50",
        "document_control_end@03:10", "release@05:00",
    )  # fmt: skip
    lake = gate_lake(tmp_path / "lake", g, [lane(1, "D9", "green")])
    got = by_key(run_job(lake, "clearance_times", rules=KZ_ALLOWED))
    kz = ("CN->KZ", "KZ", "2025-03", "green")
    assert got[(*kz, "arrival_to_departure")] == fig(1, 1, 1, round(7 / 3, 6), round(7 / 3, 6),
                                                     round(7 / 3, 6), 1.0)  # fmt: skip
    assert got[(*kz, "document_control")] == fig(1, 1, 1, 0.333333, 0.333333, 0.333333)
    assert got[("CN->KZ", "both", "2025-03", "green", "arrival_to_release")] == fig(
        1, 1, 1, 5.0, 5.0, 5.0, 1.0
    )


def test_a_truck_crossing_twice_in_a_period_is_one_truck_of_two_passages(tmp_path: Path) -> None:
    """T9 crosses twice in March, T10 once: every interval's row on each side and across has
    3 passages of 2 trucks, and a foreign row is suppressed on its trucks alone."""
    g = Gate()
    for truck, day, decl in (("T9", "2025-03-03", "D9"), ("T10", "2025-03-05", "D10"),
                             ("T9", "2025-03-10", "D11")):  # fmt: skip
        g.visit(truck, "CN", day, (decl,), "waiting_area@00:00", "gate_in@01:00", "exit_gate@03:00")
        g.visit(truck, "KZ", day, (decl,), "entry_gate_in@04:00", "release@06:00")
    lanes = [lane(i, d, "green") for i, d in enumerate(("D9", "D10", "D11"), start=1)]
    lake = gate_lake(tmp_path / "lake", g, lanes)
    got = by_key(run_job(lake, "clearance_times", rules=KZ_ALLOWED))
    intervals = {
        "CN": ("queue", "document_control", "inspection", "arrival_to_departure"),
        "KZ": ("document_control", "inspection", "arrival_to_departure"),
        "both": ("arrival_to_release",),
    }
    expected = {
        ("CN->KZ", side, "2025-03", "green", i) for side, names in intervals.items() for i in names
    }
    assert set(got) == expected
    assert {k: v[:2] for k, v in got.items()} == {k: (3, 2) for k in expected}
    # three passages but two trucks: KZ's rows and those across leave China as small cells
    kept = by_key(run_job(lake, "clearance_times", rules=KZ_ALLOWED, min_cell_size=3))
    assert set(kept) == {k for k in expected if k[1] == "CN"}


def one_truck_measured() -> dict[str, list[dict[str, Any]]]:
    """Kazakh passages in March: T1 and T2 once without document control, T9 thrice with it."""
    g = Gate()
    for truck, day in (("T1", "2025-03-03"), ("T2", "2025-03-04")):
        g.visit(truck, "KZ", day, (), "entry_gate_in@04:00", "release@06:00")
    for day, end in (("2025-03-03", "06:00"), ("2025-03-10", "07:00"), ("2025-03-17", "08:00")):
        g.visit(
            "T9", "KZ", day, (), "entry_gate_in@04:00", "document_control_start@05:00",
            f"document_control_end@{end}", "release@09:00",
        )  # fmt: skip
    return {"gate_events": g.events, "gate_event_refs": g.refs}


def test_figures_of_one_trucks_passages_are_withheld(tmp_path: Path) -> None:
    """KZ's side in March: T1 and T2 pass once without document control, T9 three times with
    it (1, 2 and 3 h). The documents' row has 5 passages of 3 trucks and 3 measured passages,
    all T9's: its figures would be T9's own times, so they are withheld at a minimum of 3."""
    lake = write_lake(tmp_path / "lake", one_truck_measured())
    kz = ("CN->KZ", "KZ", "2025-03", "none")
    every = by_key(run_job(lake, "clearance_times", rules=KZ_ALLOWED, min_cell_size=1))
    assert every[(*kz, "document_control")] == fig(5, 3, 3, 2.0, 2.0, 2.8)
    held = by_key(run_job(lake, "clearance_times", rules=KZ_ALLOWED, min_cell_size=3))
    # the row stays (5 passages, 3 trucks); its documents' figures describe one truck
    assert held[(*kz, "document_control")] == fig(5, 3, 3)
    # arrival to release was measured on every passage, of three trucks: shown
    assert held[(*kz, "arrival_to_departure")] == every[(*kz, "arrival_to_departure")]
    assert held[(*kz, "arrival_to_departure")][5] is not None


def one_red_declaration_three_trucks() -> dict[str, list[dict[str, Any]]]:
    """March: T1-T3 each carry red D1 and a green declaration of their own from China into
    Kazakhstan (a visit's lane is the strictest: red); T4-T6 enter Kazakhstan with green D5-D7
    alone, seen on its side only."""
    g = Gate()
    trucks = (("T1", ("D1", "D2")), ("T2", ("D1", "D3")), ("T3", ("D1", "D4")),
              ("T4", ("D5",)), ("T5", ("D6",)), ("T6", ("D7",)))  # fmt: skip
    for n, (truck, decls) in enumerate(trucks, start=3):
        if "D1" in decls:
            g.visit(truck, "CN", f"2025-03-{n:02d}", decls, "gate_in@01:00", "exit_gate@03:00")
        g.visit(truck, "KZ", f"2025-03-{n:02d}", decls, "entry_gate_in@04:00", "release@06:00")
    lanes = [lane(1, "D1", "red")] + [
        lane(n, d, "green") for n, d in enumerate(("D2", "D3", "D4", "D5", "D6", "D7"), start=2)
    ]
    return {"gate_events": g.events, "gate_event_refs": g.refs, "lanes": lanes,
            "declarations": lodged(lanes)}  # fmt: skip


def test_a_lanes_row_is_held_to_the_declarations_of_its_lane(tmp_path: Path) -> None:
    """Three trucks carrying one red declaration make a red row of 3 passages and 3 trucks
    that describes one declaration: at a minimum of 3 it leaves China no more than a row of
    green declarations carried by three trucks does."""
    lake = write_lake(tmp_path / "lake", one_red_declaration_three_trucks())
    kz = ("CN->KZ", "KZ", "2025-03")
    every = run_job(lake, "clearance_times", rules=KZ_ALLOWED, min_cell_size=1)
    counts = {r[:5]: r[5:] for r in rows(every, *KEYS, "passages", "trucks", "declarations")}
    # red: D1 only (the green ones it travelled with do not make the row red); green: D5-D7
    assert counts[(*kz, "red", "arrival_to_departure")] == (3, 3, 1)
    assert counts[(*kz, "green", "arrival_to_departure")] == (3, 3, 3)
    assert counts[("CN->KZ", "both", "2025-03", "red", "arrival_to_release")] == (3, 3, 1)
    held = by_key(run_job(lake, "clearance_times", rules=KZ_ALLOWED, min_cell_size=3))
    # KZ's red rows (document control, inspection, the total) and the red row across are
    # gone; China's own red rows stay
    assert {k[:4] for k in held} == {(*kz, "green"), ("CN->KZ", "CN", "2025-03", "red")}


def one_declaration_measured() -> dict[str, list[dict[str, Any]]]:
    """Kazakh entries in March, all red: T1-T3 carry D1 and have their documents checked (1, 2
    and 3 h); T4 and T5 carry D8 and D9 and have none."""
    g = Gate()
    for n, (truck, decl) in enumerate((("T1", "D1"), ("T2", "D1"), ("T3", "D1")), start=1):
        g.visit(
            truck, "KZ", f"2025-03-0{n}", (decl,), "entry_gate_in@04:00",
            "document_control_start@05:00", f"document_control_end@0{5 + n}:00", "release@09:00",
        )  # fmt: skip
    for n, (truck, decl) in enumerate((("T4", "D8"), ("T5", "D9")), start=4):
        g.visit(truck, "KZ", f"2025-03-0{n}", (decl,), "entry_gate_in@04:00", "release@09:00")
    lanes = [lane(n, d, "red") for n, d in enumerate(("D1", "D8", "D9"), start=1)]
    return {"gate_events": g.events, "gate_event_refs": g.refs, "lanes": lanes,
            "declarations": lodged(lanes)}  # fmt: skip


def test_figures_measured_on_one_declarations_trucks_are_withheld(tmp_path: Path) -> None:
    """The red row has 5 passages, 5 trucks and 3 red declarations; its documents were checked
    on T1-T3 only, all carrying D1: those figures would be D1's own, so at a minimum of 3 they
    are withheld, while arrival to release (all five, three declarations) is shown."""
    lake = write_lake(tmp_path / "lake", one_declaration_measured())
    kz = ("CN->KZ", "KZ", "2025-03", "red")
    every = by_key(run_job(lake, "clearance_times", rules=KZ_ALLOWED, min_cell_size=1))
    assert every[(*kz, "document_control")] == fig(5, 5, 3, 2.0, 2.0, 2.8)
    held = run_job(lake, "clearance_times", rules=KZ_ALLOWED, min_cell_size=3)
    counts = {r[:5]: r[5:] for r in rows(held, *KEYS, "passages", "trucks", "declarations")}
    assert counts[(*kz, "document_control")] == (5, 5, 3)  # the row stays
    assert by_key(held)[(*kz, "document_control")] == fig(5, 5, 3)
    assert by_key(held)[(*kz, "arrival_to_departure")] == every[(*kz, "arrival_to_departure")]
    assert every[(*kz, "arrival_to_departure")][5] == 5.0  # shown: a mean of 5 h


def into_kazakhstan(lanes: list[str], checked: int = 0) -> tuple[Gate, list[dict]]:
    """March: truck Tn enters Kazakhstan with declaration Dn of the lane ``lanes[n - 1]``, the
    first ``checked`` with their documents checked (n hours)."""
    g = Gate()
    for n in range(1, len(lanes) + 1):
        checks = ("document_control_start@04:00", f"document_control_end@{4 + n:02d}:00")
        g.visit(f"T{n}", "KZ", f"2025-03-{n:02d}", (f"D{n}",), "entry_gate_in@04:00",
                *(checks if n <= checked else ()), "release@10:00")  # fmt: skip
    return g, [lane(n, f"D{n}", final) for n, final in enumerate(lanes, start=1)]


def one_traders_red_declarations() -> dict[str, list[dict[str, Any]]]:
    """T1-T3 carry red D1-D3, all of trader A; T4-T6 green D4-D6 of three traders."""
    g, lanes = into_kazakhstan(["red"] * 3 + ["green"] * 3)
    return gate_rows(g, lanes, D1="A", D2="A", D3="A")


def one_traders_declarations_measured() -> dict[str, list[dict[str, Any]]]:
    """T1-T5 carry red D1-D5 of traders A, A, A, B, C; T1-T3 have their documents checked."""
    g, lanes = into_kazakhstan(["red"] * 5, checked=3)
    return gate_rows(g, lanes, D1="A", D2="A", D3="A", D4="B", D5="C")


def test_a_lanes_row_is_held_to_the_traders_of_its_declarations(tmp_path: Path) -> None:
    """Three trucks carry three red declarations, all of trader A: the red row (3 passages,
    3 trucks, 3 declarations) describes A's clearance, so at a minimum of 3 it leaves China no
    more than one of a single declaration does; the green row, of three traders, stays."""
    lake = write_lake(tmp_path / "lake", one_traders_red_declarations())
    kz = ("CN->KZ", "KZ", "2025-03")
    every = run_job(lake, "clearance_times", rules=KZ_ALLOWED, min_cell_size=1)
    counts = {r[:5]: r[5:] for r in rows(every, *KEYS, "passages", "trucks", "declarations",
                                         "traders")}  # fmt: skip
    assert counts[(*kz, "red", "arrival_to_departure")] == (3, 3, 3, 1)
    assert counts[(*kz, "green", "arrival_to_departure")] == (3, 3, 3, 3)
    held = by_key(run_job(lake, "clearance_times", rules=KZ_ALLOWED, min_cell_size=3))
    assert {k[:4] for k in held} == {(*kz, "green")}


def test_figures_measured_on_one_traders_declarations_are_withheld(tmp_path: Path) -> None:
    """The red row has 5 passages, trucks and declarations of 3 traders; documents were
    checked on T1-T3 only (1, 2, 3 h), whose declarations are all trader A's: at a minimum of 3
    those figures would be A's own, so they are withheld; arrival to release is shown."""
    lake = write_lake(tmp_path / "lake", one_traders_declarations_measured())
    kz = ("CN->KZ", "KZ", "2025-03", "red")
    every = by_key(run_job(lake, "clearance_times", rules=KZ_ALLOWED, min_cell_size=1))
    assert every[(*kz, "document_control")] == fig(5, 5, 3, 2.0, 2.0, 2.8)
    held = run_job(lake, "clearance_times", rules=KZ_ALLOWED, min_cell_size=3)
    counts = {r[:5]: r[5:] for r in rows(held, *KEYS, "declarations", "traders")}
    assert counts[(*kz, "document_control")] == (5, 3)  # the row stays
    assert by_key(held)[(*kz, "document_control")] == fig(5, 5, 3)
    assert by_key(held)[(*kz, "arrival_to_departure")] == fig(5, 5, 5, 6.0, 6.0, 6.0, 1.0)


def lodged_in_kazakhstan() -> dict[str, list[dict[str, Any]]]:
    """T1 leaves Kazakhstan for China with K1, lodged in Kazakhstan, its lane from China's
    office (pre-arrival)."""
    g = Gate()
    g.visit("T1", "KZ", "2025-03-03", ("K1",), "waiting_area@00:00", "gate_in@01:00",
            "exit_gate@02:00")  # fmt: skip
    g.visit("T1", "CN", "2025-03-03", ("K1",), "entry_gate_in@03:00", "release@05:00")
    lanes = [lane(1, "K1", "yellow")]
    return {"gate_events": g.events, "gate_event_refs": g.refs, "lanes": lanes,
            "declarations": lodged(lanes, office="KZ-NURZHOLY")}  # fmt: skip


def test_traders_of_declarations_not_read_are_unknown_never_none(tmp_path: Path) -> None:
    """With no agreement for Kazakhstan's declarations, K1's trader is unknown: China's own
    side shows the row with traders null, Kazakhstan's side is suppressed even at a minimum of
    1. With one, K1 is Kazakhstan's data in China's rows too, and its trader is counted."""
    lake = write_lake(tmp_path / "lake", lodged_in_kazakhstan())
    cn = ("KZ->CN", "CN", "2025-03", "yellow", "arrival_to_departure")
    unread = run_job(lake, "clearance_times", rules=KZ_ALLOWED, min_cell_size=1)
    got = {r[:5]: r[5:] for r in rows(unread, *KEYS, "declarations", "traders", "mean_h")}
    assert got == {cn: (1, None, 2.0), (*cn[:4], "document_control"): (1, None, None),
                   (*cn[:4], "inspection"): (1, None, None)}  # fmt: skip
    assert [(e.dataset, e.owner_country) for e in unread.run.exclusions] == [("declarations", "KZ")]
    read = run_job(lake, "clearance_times", min_cell_size=1,
                   rules=[*KZ_ALLOWED, statistics_rule("KZ", Category.DECLARATION)])  # fmt: skip
    got = {r[:5]: r[5:] for r in rows(read, *KEYS, "declarations", "traders")}
    assert got[cn] == (1, 1) and got[("KZ->CN", "both", "2025-03", "yellow",
                                      "arrival_to_release")] == (1, 1)  # fmt: skip


def test_bad_params_named(lake: Path) -> None:
    with pytest.raises(ValidationFailed) as exc:
        run_job(lake, "clearance_times", {"period": "year", "target_hours": 0, "crossing": "X-Y"})
    assert sorted((e.field, e.code) for e in exc.value.errors) == [
        ("/params/crossing", "unknown_crossing"),
        ("/params/period", "not_a_choice"),
        ("/params/target_hours", "too_small"),
    ]


def test_running_counts_read_back_exactly_up_to_their_limit(engine_name: str) -> None:
    """Trips and each side's departures share one windowed sum (21 bits each): summed, cast to a
    bigint as the job does and read back in the engine's own arithmetic, the largest counts a
    field holds come back whole."""
    field = clearance._FIELD
    top = field - 1
    parts = [(top // 2, 1, top), (top - top // 2, top - 1, 0)]  # (trips, first, second) per row
    values = ", ".join(f"({t + field * a + field**2 * b})" for t, a, b in parts)
    sql = (
        f"SELECT {clearance._TRIPS} AS trips, {clearance._AT_FIRST} AS at_first, "
        f"{clearance._AT_SECOND} AS at_second "
        f"FROM (SELECT {clearance._running('sum(x)')} AS running FROM (VALUES {values}) v(x)) s"
    )
    engine = make_engine(engine_name)
    try:
        row = engine.query(sql).to_pylist()[0]
    finally:
        engine.close()
    assert (int(row["trips"]), int(row["at_first"]), int(row["at_second"])) == (top, top, top)
