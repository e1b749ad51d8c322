"""The Typer commands: JSON output, comparison table, calibration, refusal of bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from twin_builders import two_sided
from typer.testing import CliRunner

from silkgate.twin.cli import app

runner = CliRunner()


def _toml(data: dict, path: Path) -> Path:
    """Tiny TOML writer for the nested dicts of twin_builders (no extra dependency)."""

    def value(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return repr(v)

    lines = [f"{k} = {value(v)}" for k, v in data.items()]
    path.write_text("\n".join(lines) + "\n")
    assert tomllib.loads(path.read_text()) == data
    return path


def test_run_json(tmp_path: Path) -> None:
    path = _toml(two_sided(days=3), tmp_path / "s.toml")
    html = tmp_path / "r.html"
    res = runner.invoke(
        app, ["run", str(path), "--days", "3", "-r", "2", "--json", "--series", "--html", str(html)]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["replications"] == 2 and out["days"] == 3
    m = out["metrics"]["cn_to_kz.time_in_system_h.p90"]
    assert m["ci95_low"] <= m["mean"] <= m["ci95_high"]
    assert set(out["bottleneck"]) == {"cn_to_kz", "kz_to_cn"}
    qs = out["queue_series"]
    assert len(qs["t_hours"]) == len(qs["cn.exit.gate_in"]) == len(qs["kz_to_cn.equeue_backlog"])
    assert qs["t_hours"][-1] < 72
    page = html.read_text()
    assert page.count("<svg") >= 2 and "Trucks waiting, by direction and place" in page
    # a planner's page: the key figures come first, time runs in days, names not model keys
    visible = page.split("<details>")[0]
    assert visible.index("The figures that matter") < visible.index("<svg")
    assert "days since the start of the run" in visible and "hours since start" not in visible
    assert "cn_to_kz" not in visible and "kz.exit." not in visible and "equeue_" not in visible
    assert "China → Kazakhstan" in visible and re.search(r"(CN|KZ) (exit|entry): [a-z]", visible)
    assert "… of them waiting over 24 h" in visible and "24 h" in visible
    assert "not yet across" in visible


def test_run_table_and_compare(tmp_path: Path) -> None:
    a = _toml(two_sided(trucks_per_day=200, days=3), tmp_path / "a.toml")
    b = _toml(two_sided(trucks_per_day=100, days=3), tmp_path / "b.toml")
    res = runner.invoke(app, ["run", str(a), "-r", "2", "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert "bottleneck China → Kazakhstan" in res.stdout and "utilization" in res.stdout
    html = tmp_path / "c.html"
    res = runner.invoke(app, ["compare", str(a), str(b), "-r", "2", "--json", "--html", str(html)])
    assert res.exit_code == 0, res.output
    diff = json.loads(res.stdout)["difference_b_minus_a"]["cn_to_kz.released_per_day"]
    assert diff["ci95_high"] < 0  # half the demand, fewer trucks released
    assert "B − A" in html.read_text()
    res = runner.invoke(app, ["compare", str(a), str(b), "-r", "2"])
    assert res.exit_code == 0 and "B − A" in res.stdout


def test_bad_scenario_names_file_key_reason(tmp_path: Path) -> None:
    data = two_sided()
    data["sides"]["kz"]["entry"]["lanes"] = {"green": 0.5, "yellow": 0.5, "red": 0.5}
    path = _toml(data, tmp_path / "bad.toml")
    for args in (["run", str(path)], ["validate", str(path)]):
        res = runner.invoke(app, args)
        assert res.exit_code == 2
        assert "bad.toml" in res.stderr and "sides.kz.entry.lanes" in res.stderr
        assert "sum to 1" in res.stderr


def test_calibrate_and_scenarios(tmp_path: Path) -> None:
    events = tmp_path / "e.csv"
    events.write_text(
        "stage,truck,start,end\ncn.exit.documents,1,0,10\ncn.exit.documents,2,5,25\n"
        "cn.exit.documents,3,30,36\n"
    )
    res = runner.invoke(app, ["calibrate", str(events)])
    assert res.exit_code == 0, res.output
    frag = tomllib.loads(res.stdout)
    assert frag["sides"]["cn"]["exit"]["stages"][0]["servers"] == 2
    res = runner.invoke(app, ["calibrate", str(tmp_path / "none.csv")])
    assert res.exit_code == 2 and "none.csv" in res.stderr
    res = runner.invoke(app, ["scenarios"])
    assert "khorgos-2023-baseline" in res.stdout and "khorgos-digital" in res.stdout


def test_package_import_is_light() -> None:
    code = (
        "import sys, silkgate.twin, silkgate.twin.cli; "
        "print(any(m in sys.modules for m in ('simpy', 'numpy', 'scipy')))"
    )
    src = str(Path(__file__).resolve().parents[2] / "src")
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": src},
        check=True,
    )
    assert out.stdout.strip() == "False"


def test_file_names_are_shown_literally(tmp_path: Path) -> None:
    """Rich markup must not eat a [bracketed] part of a file name, in errors or messages."""
    missing = tmp_path / "events[draft].csv"
    res = runner.invoke(app, ["calibrate", str(missing)])
    assert res.exit_code == 2 and str(missing) in res.stderr
    bad = two_sided()
    bad["directions"]["cn_to_kz"]["trucks_per_day"] = -1
    scenario = _toml(bad, tmp_path / "scenario[v2].toml")
    res = runner.invoke(app, ["validate", str(scenario)])
    assert res.exit_code == 2 and f"{scenario}: directions.cn_to_kz" in res.stderr
    events = tmp_path / "e[1].csv"
    events.write_text("stage,truck,start,end\na,1,0,10\na,2,5,25\n")
    out = tmp_path / "frag[bold].toml"
    res = runner.invoke(app, ["calibrate", str(events), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert f"written to {out}" in res.stdout.replace("\n", "")
    assert "warning: a: only 2 records" in res.stderr


def test_export_events_round_trip(tmp_path: Path) -> None:
    """export-events writes the run's gate events; calibrate reads them back (both formats)
    and recovers the scenario's service times."""
    scenario = _toml(two_sided(days=4), tmp_path / "s.toml")
    for fmt in ("minutes", "iso"):
        out = tmp_path / f"events-{fmt}.csv"
        res = runner.invoke(
            app, ["export-events", str(scenario), "--out", str(out), "--time-format", fmt]
        )
        assert res.exit_code == 0, res.output
        assert "gate events" in res.stdout
        header = out.read_text().splitlines()[:2]
        assert header[0] == "stage,truck,start,end"
        if fmt == "iso":
            assert "+08:00" in header[1]
        res = runner.invoke(app, ["calibrate", str(out), "--family", "lognormal"])
        assert res.exit_code == 0, res.output
        frag = tomllib.loads(res.stdout)
        stages = {s["kind"]: s for s in frag["sides"]["cn"]["exit"]["stages"]}
        assert stages["inspection"]["service"]["mean_min"] == pytest.approx(60, rel=0.2)
        assert stages["gate_out"]["service"]["mean_min"] == pytest.approx(1.0, rel=0.01)
    res = runner.invoke(
        app, ["export-events", str(scenario), "-o", str(tmp_path / "x.csv"), "--time-format", "x"]
    )
    assert res.exit_code == 2 and "time format" in res.stderr


def test_sensitivity_table(tmp_path: Path) -> None:
    scenario = _toml(two_sided(days=3), tmp_path / "s.toml")
    res = runner.invoke(
        app, ["sensitivity", str(scenario), "--factors", "0.5,1", "-r", "2", "--json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert [r["factor"] for r in out["rows"]] == [0.5, 1.0]
    assert out["rows"][0]["mean_service_min"] == pytest.approx(10.0)  # lognormal mean 20 x 0.5
    short, full = (r["metrics"]["cn_to_kz.time_in_system_h.mean"]["mean"] for r in out["rows"])
    assert short < full
    res = runner.invoke(app, ["sensitivity", str(scenario), "--factors", "1", "-r", "2"])
    assert res.exit_code == 0 and "vs 2021" in res.stdout
    res = runner.invoke(app, ["sensitivity", str(scenario), "--stage", "teleport"])
    assert res.exit_code == 2 and "no stage of kind 'teleport'" in res.stderr
