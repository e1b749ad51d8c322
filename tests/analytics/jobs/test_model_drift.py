"""model_drift against hand-computed score percentiles, PSI, red/yellow share and precision;
residency, small cells (and PSI against a small baseline), filters and bad parameters."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from silkgate.core.errors import ValidationFailed
from tests.analytics.jobs.conftest import all_categories, rows, run_job
from tests.analytics.jobs.lakes import write_lake
from tests.analytics.jobs.risk_rows import declaration, inspection, lane

M1, M2, MKZ = "risk-20250101T000000-aaaa", "risk-20250201T000000-bbbb", "risk-kz"
NUR = "KZ-NURZHOLY"

# M1, January (its baseline): scores 0.05 0.15 0.15 0.85 -> bins 0: 1/4, 1: 2/4, 8: 1/4.
# February: 0.05 0.15 0.85 0.95 -> bins 0: 1/4, 1: 1/4, 8: 1/4, 9: 1/4 (and one unscored).
# PSI = sum (p - q) ln(p / q), an empty bin 0.0001: bins 0 and 8 give 0, bins 2-7 (both
# empty) 0, bin 1 (0.25 - 0.5) ln(0.5) = 0.25 ln 2, bin 9 (0.25 - 0.0001) ln(0.25 / 0.0001).
PSI_M1_FEB = 0.25 * math.log(2) + 0.2499 * math.log(2500)  # 2.128516
# Kazakhstan's model: January 0.25 (bin 2: 1); February 0.25 0.35 (bins 2, 3: 1/2 each)
PSI_MKZ_FEB = 0.5 * math.log(2) + 0.4999 * math.log(5000)  # 4.604319


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    scored = [
        # (declaration, version, day, assessed lane, score, model, trader, inspection outcome)
        ("A1", 1, "2025-01-03", "green", 0.05, M1, "T1", None),
        ("A2", 1, "2025-01-04", "green", 0.15, M1, "T2", None),
        ("A3", 1, "2025-01-05", "green", 0.15, M1, "T1", None),
        ("A4", 1, "2025-01-06", "red", 0.85, M1, "T3", "discrepancy"),
        ("R1", 1, "2025-01-07", "red", None, None, "T4", "no_discrepancy"),
        ("R2", 1, "2025-01-08", "green", None, None, "T5", None),
        ("A1", 2, "2025-02-03", "green", 0.05, M1, "T1", None),  # A1 amended: assessed again
        ("B1", 1, "2025-02-04", "green", 0.15, M1, "T2", "discrepancy"),  # green: not counted
        ("B2", 1, "2025-02-05", "yellow", 0.85, M1, "T3", "no_discrepancy"),
        ("B3", 1, "2025-02-06", "red", 0.95, M1, "T4", "discrepancy"),
        ("B4", 1, "2025-02-07", "green", None, M1, "T5", None),  # the artifact failed its digest
        ("C1", 1, "2025-02-10", "green", 0.45, M2, "T6", None),
        ("C2", 1, "2025-02-11", "red", 0.55, M2, "T7", None),
    ]
    kazakh = [
        ("KA1", 1, "2025-01-10", "green", 0.25, MKZ, "T8", None),
        ("KB1", 1, "2025-02-10", "green", 0.25, MKZ, "T8", None),
        ("KB2", 1, "2025-02-11", "green", 0.35, MKZ, "T9", None),
    ]
    lanes, decls, checks = [], [], []
    for office, source in (("CN-KHORGOS", scored), (NUR, kazakh)):
        for decl, version, day, lane_, score, model, trader, outcome in source:
            lanes.append(
                lane(decl, day, lane_, version=version, office=office, score=score, model=model)
            )
            if version == 1:
                decls.append(declaration(decl, day, trader, "broker", office=office))
            if outcome:
                checks.append(inspection(decl, day, outcome, version=version, office=office))
    return write_lake(
        tmp_path / "lake", {"lanes": lanes, "declarations": decls, "inspections": checks}
    )


COLS = ("model_id", "month", "assessments", "declarations", "traders", "scored", "score_mean",
        "score_p10", "score_median", "score_p90", "red_yellow_share", "red_yellow_inspected",
        "red_yellow_hits", "red_yellow_precision", "unrecognised_outcomes", "baseline_month",
        "psi")  # fmt: skip
# Percentiles interpolate at (n - 1) q: January 0.05 0.15 0.15 0.85 -> p10 at 0.3: 0.08,
# median at 1.5: 0.15, p90 at 2.7: 0.15 + 0.7 * 0.7 = 0.64. February 0.05 0.15 0.85 0.95 ->
# 0.08, 0.5, 0.85 + 0.7 * 0.1 = 0.92. M2: 0.45 0.55 -> 0.46, 0.5, 0.54.
M1_JAN = (M1, "2025-01", 4, 4, 3, 4, 0.3, 0.08, 0.15, 0.64, 0.25, 1, 1, 1.0, 0, "2025-01", 0.0)
M1_FEB = (M1, "2025-02", 5, 5, 5, 4, 0.5, 0.08, 0.5, 0.92, 0.4, 2, 1, 0.5, 0, "2025-01",
          round(PSI_M1_FEB, 6))  # fmt: skip
M2_FEB = (M2, "2025-02", 2, 2, 2, 2, 0.5, 0.46, 0.5, 0.54, 0.5, 0, 0, None, 0, "2025-02", 0.0)
RULES = ("rules only", "2025-01", 2, 2, 2, 0, None, None, None, None, 0.5, 1, 0, 0.0, 0, None,
         None)  # fmt: skip


def test_scores_psi_and_precision_per_model_and_month(lake: Path, engine_name: str) -> None:
    result = run_job(lake, "model_drift", engine=engine_name)
    assert rows(result, *COLS) == [M1_JAN, M1_FEB, M2_FEB, RULES]
    [excluded] = [e for e in result.run.exclusions if e.dataset == "lanes"]
    assert (excluded.owner_country, excluded.crossing, excluded.rows) == ("KZ", "KHG-NZH", 3)
    assert excluded.reason == "KZ customs has no active agreement sharing 'risk_lane' data"


def test_baseline_before_since_and_model_filter(lake: Path) -> None:
    february = run_job(lake, "model_drift", {"since": "2025-02-01"})
    assert rows(february, *COLS) == [M1_FEB, M2_FEB]  # M1's PSI still against January
    only = run_job(lake, "model_drift", {"model_id": "rules only"})
    assert rows(only, *COLS) == [RULES]
    assert rows(run_job(lake, "model_drift", {"model_id": "risk-unknown"})) == []


@pytest.mark.parametrize("model_id", ["\\' = ' OR TRUE --", "x\\", "it's", "\\\\"])
def test_a_model_id_with_quotes_and_backslashes_is_only_compared(
    lake: Path, engine_name: str, model_id: str
) -> None:
    """Spark reads a backslash in a quoted string as an escape: a filter that could close the
    string early must still match nothing (it once matched every model on Spark)."""
    assert rows(run_job(lake, "model_drift", {"model_id": model_id}, engine=engine_name)) == []


def test_foreign_model_allowed_and_small_baseline_withholds_psi(lake: Path) -> None:
    allowed = run_job(lake, "model_drift", {"model_id": MKZ}, rules=all_categories("KZ"))
    assert rows(allowed, "model_id", "month", "declarations", "baseline_month", "psi") == [
        (MKZ, "2025-01", 1, "2025-01", 0.0),
        (MKZ, "2025-02", 2, "2025-01", round(PSI_MKZ_FEB, 6)),
    ]
    small = run_job(lake, "model_drift", rules=all_categories("KZ"), min_cell_size=2)
    got = rows(small, "model_id", "month", "declarations", "baseline_month", "psi")
    # January (1 declaration) is suppressed; February stays without a PSI against it, nor the
    # baseline's month (that would tell a suppressed cell exists); China's own models are not
    # foreign: their small months stay
    assert [r for r in got if r[0] == MKZ] == [(MKZ, "2025-02", 2, None, None)]
    assert (M2, "2025-02", 2, "2025-02", 0.0) in got
    assert small.run.suppressed_cells == 1


def thinly_scored() -> dict[str, list[dict[str, Any]]]:
    """A Kazakh model with one scored declaration of three in March, three in April."""
    m = "risk-kz-2"
    source = [
        ("KC1", "2025-03-03", 0.91, "T8"), ("KC2", "2025-03-04", None, "T9"),
        ("KC3", "2025-03-05", None, "T10"), ("KD1", "2025-04-03", 0.2, "T8"),
        ("KD2", "2025-04-04", 0.3, "T9"), ("KD3", "2025-04-05", 0.4, "T10"),
    ]  # fmt: skip
    return {
        "lanes": [lane(d, day, "green", office=NUR, score=s, model=m) for d, day, s, _ in source],
        "declarations": [declaration(d, day, t, "broker", office=NUR) for d, day, _, t in source],
    }  # fmt: skip


def test_scores_of_too_few_scored_declarations_are_withheld(tmp_path: Path) -> None:
    """A Kazakh model in March: three declarations of three traders, one of them scored (the
    others' artifact failed its digest); in April three scored. March's score figures would be
    KC1's own score, and a PSI against March would compare April with that one score."""
    lake = write_lake(tmp_path / "lake", thinly_scored())
    cols = ("month", "declarations", "traders", "scored", "score_mean", "score_median",
            "baseline_month")  # fmt: skip
    every = run_job(lake, "model_drift", rules=all_categories("KZ"), min_cell_size=1)
    assert rows(every, *cols) == [
        ("2025-03", 3, 3, 1, 0.91, 0.91, "2025-03"),
        ("2025-04", 3, 3, 3, 0.3, 0.3, "2025-03"),
    ]
    assert rows(every, "psi")[1][0] is not None
    held = run_job(lake, "model_drift", rules=all_categories("KZ"), min_cell_size=3)
    assert rows(held, *cols, "psi") == [
        ("2025-03", 3, 3, 1, None, None, None, None),
        ("2025-04", 3, 3, 3, 0.3, 0.3, None, None),
    ]


def pooled_rules_only() -> dict[str, list[dict[str, Any]]]:
    """Red lanes without a model at three Chinese offices' declarations and one Kazakh one."""
    source = [
        ("C1", "CN-KHORGOS", "T1", "no_discrepancy"), ("C2", "CN-KHORGOS", "T2", "no_discrepancy"),
        ("C3", "CN-KHORGOS", "T3", "no_discrepancy"), ("K1", NUR, "K1", "discrepancy"),
    ]  # fmt: skip
    day = "2025-01-10"
    return {
        "lanes": [lane(d, day, "red", office=o) for d, o, _, _ in source],
        "declarations": [declaration(d, day, t, "broker", office=o) for d, o, t, _ in source],
        "inspections": [inspection(d, day, found, office=o) for d, o, _, found in source],
    }


def test_a_pooled_rows_foreign_part_is_held_to_the_minimum(tmp_path: Path) -> None:
    """'rules only' pools every office's assessments made without a model. January: three
    Chinese red declarations inspected clean and one Kazakh one with a discrepancy; China knows
    its own three, so the row would tell the Kazakh trader's outcome: suppressed at 3."""
    lake = write_lake(tmp_path / "lake", pooled_rules_only())
    cols = ("model_id", "declarations", "red_yellow_inspected", "red_yellow_hits")
    every = run_job(lake, "model_drift", rules=all_categories("KZ"))
    assert rows(every, *cols) == [("rules only", 4, 4, 1)]
    held = run_job(lake, "model_drift", rules=all_categories("KZ"), min_cell_size=3)
    assert rows(held) == [] and held.run.suppressed_cells == 1


def test_bad_parameters_named(lake: Path) -> None:
    with pytest.raises(ValidationFailed) as caught:
        run_job(lake, "model_drift", {"model_id": "risk\n1", "until": "31.01.2025", "bins": 20})
    assert {e.field: e.code for e in caught.value.errors} == {
        "/params/model_id": "bad_text",
        "/params/until": "bad_date",
        "/params/bins": "unknown_param",
    }
    with pytest.raises(ValidationFailed) as caught:
        run_job(lake, "model_drift", {"model_id": "m" * 129})
    assert [(e.field, e.code) for e in caught.value.errors] == [("/params/model_id", "bad_text")]
