"""The benchmark's ratio of an engine to DuckDB (bench/analytics.py ``ratios``): over the jobs
both finished, a lower bound when a job stopped at the time limit, and per round, so that the
median printed is the median of the rounds' own ratios."""

from __future__ import annotations

import statistics
from typing import Any

from analytics import ratios


def _report(**seconds: float | None) -> dict[str, Any]:
    jobs = {
        job: {"seconds": s, "rows": 1} if s is not None else {"seconds": 900.0, "timed_out": True}
        for job, s in seconds.items()
    }
    return {"jobs": jobs, "differs": {}}


def test_ratio_is_over_the_jobs_both_engines_finished() -> None:
    reports = {
        "duckdb": _report(a=1.0, b=3.0, c=6.0),
        "postgresql": _report(a=10.0, b=30.0),  # died before c
    }
    ratio, capped, jobs = ratios(reports)["postgresql"]
    assert (ratio, capped, jobs) == (10.0, False, 2)


def test_a_job_at_the_time_limit_makes_the_ratio_a_lower_bound() -> None:
    reports = {"duckdb": _report(a=2.0, b=2.0), "postgresql": _report(a=20.0, b=None)}
    ratio, capped, jobs = ratios(reports)["postgresql"]
    assert capped and jobs == 2
    assert ratio == (20.0 + 900.0) / 4.0


def test_rounds_are_compared_each_with_its_own_duckdb() -> None:
    rounds = [
        {"duckdb": _report(a=40.0), "postgresql": _report(a=400.0)},  # ×10
        {"duckdb": _report(a=50.0), "postgresql": _report(a=400.0)},  # ×8 (DuckDB disturbed)
        {"duckdb": _report(a=40.0), "postgresql": _report(a=360.0)},  # ×9
    ]
    each = [ratios(r)["postgresql"][0] for r in rounds]
    assert each == [10.0, 8.0, 9.0]
    assert statistics.median(each) == 9.0
