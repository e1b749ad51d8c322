"""Calibration recovers the service times that generated the gate events."""

from __future__ import annotations

import csv
import math
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from twin_builders import two_sided

from silkgate.twin import service
from silkgate.twin.calibration import CalibrationError, fit_events, max_concurrency, read_events
from silkgate.twin.scenario import parse_scenario
from silkgate.twin.schemas import Stage


def _write(path: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["stage", "truck", "start", "end"])
        w.writerows(rows)
    return path


def test_round_trip_from_simulated_gate_events(tmp_path: Path) -> None:
    """Simulate with a trace, calibrate from it, get the scenario's distributions back."""
    data = two_sided(days=6)
    rep = service.run(parse_scenario(data), workers=1, replications=1, trace=True)
    trace = rep.replications[0].trace
    assert trace
    events = _write(
        tmp_path / "events.csv", [(s, str(t), f"{a:.4f}", f"{b:.4f}") for s, t, a, b in trace]
    )
    out = tmp_path / "fragment.toml"
    text = service.calibrate(events, out=out, family="lognormal").text
    assert out.read_text() == text
    fragment = tomllib.loads(text)
    docs = next(s for s in fragment["sides"]["cn"]["exit"]["stages"] if s["kind"] == "inspection")
    stage = Stage.model_validate(docs)  # the fragment is valid scenario input
    assert stage.service.dist == "lognormal"
    assert stage.service.mean() == pytest.approx(60, rel=0.15)
    assert docs["servers"] <= 3  # never more busy than the scenario's three bays
    gate = next(s for s in fragment["sides"]["kz"]["exit"]["stages"] if s["kind"] == "gate_in")
    assert gate["service"]["mean_min"] == pytest.approx(7 / 3, rel=0.05)


def test_lognormal_fit_on_known_sample_and_auto_switch(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    t0 = datetime(2023, 5, 1, tzinfo=UTC)
    rows = []
    for i, d in enumerate(rng.lognormal(math.log(30), 0.5, 2000)):
        start = t0 + timedelta(minutes=i * 5)
        rows.append(
            (
                "kz.entry.documents",
                f"T{i}",
                start.isoformat(),
                (start + timedelta(minutes=float(d))).isoformat(),
            )
        )
    for i, d in enumerate(rng.uniform(5, 6, 2000)):  # not lognormal at all: a plateau
        start = t0 + timedelta(minutes=i * 10.0)
        end = start + timedelta(minutes=float(d))
        rows.append(("weird", f"U{i}", start.isoformat(), end.isoformat()))
    fits = {f.stage: f for f in fit_events(read_events(_write(tmp_path / "e.csv", rows)))}
    logn = fits["kz.entry.documents"]
    assert logn.family == "lognormal"
    assert logn.params["mean_min"] == pytest.approx(30 * math.exp(0.125), rel=0.05)
    assert fits["weird"].family == "empirical"
    tri = fit_events(read_events(tmp_path / "e.csv"), family="triangular")
    assert {f.family for f in tri} == {"triangular"}


def test_max_concurrency() -> None:
    assert max_concurrency(np.array([0, 1, 2, 10]), np.array([5, 3, 4, 11])) == 3
    assert max_concurrency(np.array([0, 5]), np.array([5, 6])) == 1  # back to back


@pytest.mark.parametrize(
    ("rows", "header", "reason"),
    [
        ([("a", "1", "10", "5")], None, "end is before start"),
        ([("a", "1", "yesterday", "5")], None, "ISO 8601"),
        ([("", "1", "1", "5")], None, "empty stage"),
        ([], None, "no event records"),
        ([("a", "1", "1")], ["stage", "truck", "start"], "missing column(s): end"),
    ],
)
def test_bad_records_are_refused_with_line(
    tmp_path: Path, rows: list[tuple[str, ...]], header: list[str] | None, reason: str
) -> None:
    path = tmp_path / "bad.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header or ["stage", "truck", "start", "end"])
        w.writerows(rows)
    with pytest.raises(CalibrationError) as info:
        read_events(path)
    assert reason in str(info.value)
    assert str(path) in str(info.value)
