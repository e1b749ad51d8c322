"""The Typer commands: JSON output, comparison table, calibration, refusal of bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

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
    assert page.count("<svg") >= 2 and "queue length over time" in page and "time in system" in page


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
