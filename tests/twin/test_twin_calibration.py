"""Calibration recovers the service times that generated the gate events."""

from __future__ import annotations

import csv
import math
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
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


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfstage,truck,start,end\r\na,1,0,10\r\na,2,5,7\r\n")
    events = read_events(path)
    assert [(e.stage, e.start, e.end) for e in events] == [("a", 0, 10), ("a", 5, 7)]


def test_bad_encoding_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("stage,truck,start,end\na,1,0,10\na,Ürümqi,5,7\n".encode("latin-1"))
    with pytest.raises(CalibrationError) as info:
        read_events(path)
    assert info.value.line == 3
    assert f"{path}:3" in str(info.value) and "not UTF-8" in str(info.value)


@pytest.mark.parametrize(
    ("rows", "line", "reason"),
    [
        ([("a", "1", "0", "10"), ("a", "2", "2023-05-01T10:00", "2023-05-01T10:05")], 3, "minutes"),
        (
            [
                ("a", "1", "2023-05-01T10:00", "2023-05-01T10:05"),
                ("a", "2", "2023-05-01T10:00+06:00", "2023-05-01T10:05+06:00"),
            ],
            3,
            "without offset",
        ),
        ([("a", "1", "2023-05-01T10:00Z", "2023-05-01T10:05")], 2, "use one time format"),
        ([("a", "1", "2023-05-01T10:00Z", "15")], 2, "use one time format"),
    ],
)
def test_mixed_time_formats_are_refused(
    tmp_path: Path, rows: list[tuple[str, str, str, str]], line: int, reason: str
) -> None:
    path = _write(tmp_path / "mixed.csv", rows)
    with pytest.raises(CalibrationError) as info:
        read_events(path)
    assert info.value.line == line and reason in str(info.value)


@settings(max_examples=40, deadline=None)
@given(formats=st.lists(st.sampled_from(["minutes", "naive", "offset"]), min_size=1, max_size=8))
def test_one_format_per_file(formats: list[str]) -> None:
    """Any file whose records use more than one time format is refused at the first record
    that differs; a file with one format is read whole."""
    import tempfile

    t0 = datetime(2023, 5, 1, 8, 0)
    rows = []
    for i, f in enumerate(formats):
        a, b = t0 + timedelta(minutes=10 * i), t0 + timedelta(minutes=10 * i + 3)
        if f == "minutes":
            rows.append(("a", str(i), str(10.0 * i), str(10.0 * i + 3)))
        elif f == "naive":
            rows.append(("a", str(i), a.isoformat(), b.isoformat()))
        else:
            rows.append(("a", str(i), f"{a.isoformat()}+08:00", f"{b.isoformat()}+08:00"))
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(Path(tmp) / "e.csv", rows)
        if len(set(formats)) == 1:
            events = read_events(path)
            assert [e.end - e.start for e in events] == pytest.approx([3.0] * len(formats))
        else:
            with pytest.raises(CalibrationError) as info:
                read_events(path)
            first_other = next(i for i, f in enumerate(formats) if f != formats[0])
            assert info.value.line == first_other + 2  # header is line 1


def test_poor_fit_is_flagged(tmp_path: Path) -> None:
    """Bimodal durations forced into a lognormal: the fragment and the result warn."""
    rng = np.random.default_rng(1)
    durations = np.where(np.arange(400) % 2, 5.0, 60.0) + rng.uniform(0, 2, 400)
    rows = [
        ("kz.exit.documents", f"T{i}", str(i * 100.0), f"{i * 100.0 + d:.4f}")
        for i, d in enumerate(durations)
    ]
    rows += [
        ("kz.exit.gate_in", f"G{i}", str(i * 100.0), str(i * 100.0 + 2 + i % 3)) for i in range(5)
    ]
    path = _write(tmp_path / "bimodal.csv", rows)
    result = service.calibrate(path, family="lognormal")
    assert any("kz.exit.documents: poor lognormal fit" in w for w in result.warnings)
    assert any("kz.exit.gate_in: only 5 records" in w for w in result.warnings)
    assert "# WARNING: kz.exit.documents: poor lognormal fit" in result.text
    auto = service.calibrate(path, family="auto")  # switches to the empirical quantiles
    assert not any("documents: poor" in w for w in auto.warnings)
