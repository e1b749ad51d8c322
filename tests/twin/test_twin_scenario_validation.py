"""Bad scenarios are refused with the file, the key and the reason; good ones load."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twin_builders import single_stage, two_sided

from silkgate.twin.scenario import (
    ScenarioError,
    load_scenario,
    parse_scenario,
    scale_demand,
    shipped_scenarios,
    with_run,
)
from silkgate.twin.schemas import STAGE_KINDS

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _problem(data: dict[str, Any], file: str = "bad.toml") -> tuple[str, str]:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data, file)
    err = info.value
    assert err.file == file
    assert file in str(err)
    return err.problems[0].key, err.problems[0].reason


@SETTINGS
@given(rate=st.floats(max_value=-1e-9, allow_nan=False, allow_infinity=False))
def test_negative_rate_is_refused(rate: float) -> None:
    data = two_sided()
    data["directions"]["cn_to_kz"]["trucks_per_day"] = rate
    key, reason = _problem(data)
    assert key == "directions.cn_to_kz.trucks_per_day"
    assert "greater than or equal to 0" in reason


@SETTINGS
@given(
    shares=st.tuples(*(st.floats(0, 1, allow_nan=False) for _ in range(3))).filter(
        lambda s: abs(sum(s) - 1) > 1e-4
    )
)
def test_lane_shares_must_sum_to_one(shares: tuple[float, float, float]) -> None:
    data = two_sided()
    data["sides"]["kz"]["entry"]["lanes"] = dict(
        zip(("green", "yellow", "red"), shares, strict=True)
    )
    key, reason = _problem(data)
    assert key == "sides.kz.entry.lanes"
    assert "sum to 1" in reason


@SETTINGS
@given(kind=st.text(min_size=1, max_size=20).filter(lambda k: k not in STAGE_KINDS))
def test_unknown_stage_is_refused(kind: str) -> None:
    data = two_sided()
    data["sides"]["cn"]["exit"]["stages"][1]["kind"] = kind
    key, reason = _problem(data)
    assert key == "sides.cn.exit.stages[1].kind"
    assert "unknown stage" in reason


@SETTINGS
@given(
    weights=st.lists(st.floats(0, 10, allow_nan=False), min_size=24, max_size=24).filter(
        lambda w: sum(w) > 0
    ),
    week=st.lists(st.floats(0.01, 5, allow_nan=False), min_size=7, max_size=7),
    servers=st.integers(1, 50),
    tpd=st.floats(0, 5000, allow_nan=False),
    shares=st.lists(st.integers(1, 100), min_size=1, max_size=4),
)
def test_valid_scenarios_load(
    weights: list[float], week: list[float], servers: int, tpd: float, shares: list[int]
) -> None:
    data = two_sided()
    total = sum(shares)
    data["demand"] = {
        "hourly_profile": weights,
        "weekly_profile": week,
        "classes": [
            {"name": f"c{i}", "share": s / total, "ratio": i + 1} for i, s in enumerate(shares)
        ],
    }
    data["directions"]["cn_to_kz"]["trucks_per_day"] = tpd
    data["sides"]["cn"]["exit"]["stages"][0]["servers"] = servers
    sc = parse_scenario(data)
    assert sc.sides["cn"].exit.stages[0].servers == servers
    assert parse_scenario(sc.model_dump()) == sc  # round trip


GATE = ("sides", "cn", "exit", "stages", 0)
EQ = ("directions", "kz_to_cn", "equeue")


def _set(path: tuple[Any, ...], value: Any) -> Any:
    """A mutation that sets data[path...] = value."""

    def apply(data: dict[str, Any]) -> None:
        node: Any = data
        for part in path[:-1]:
            node = node.setdefault(part, {}) if isinstance(part, str) else node[part]
        node[path[-1]] = value

    return apply


def _dup_stage(data: dict[str, Any]) -> None:
    stages = data["sides"]["cn"]["exit"]["stages"]
    stages.append(stages[0])


TRI_BAD = {"dist": "triangular", "low": 5, "mode": 2, "high": 9}
TRI_NEG = {"dist": "triangular", "low": -5, "mode": 2, "high": 9}
HALF = [{"name": "a", "share": 0.5, "ratio": 1}]


@pytest.mark.parametrize(
    ("mutate", "key", "reason"),
    [
        (_set((*GATE, "servers"), 0), "sides.cn.exit.stages[0].servers", "equal to 1"),
        (
            _set((*GATE, "service"), {"dist": "gamma"}),
            "sides.cn.exit.stages[0].service",
            "unknown distribution",
        ),
        (
            _set((*GATE, "service"), TRI_BAD),
            "sides.cn.exit.stages[0].service",
            "low <= mode <= high",
        ),
        (_set((*GATE, "service"), TRI_NEG), "sides.cn.exit.stages[0]", "cannot be negative"),
        (_set((*GATE, "colour"), "red"), "sides.cn.exit.stages[0].colour", "unknown key"),
        (
            _set((*GATE, "shifts"), [{"days": "moonday"}]),
            "sides.cn.exit.stages[0].shifts[0]",
            "unknown day",
        ),
        (
            _set((*GATE, "shifts"), [{"start": "25:00"}]),
            "sides.cn.exit.stages[0].shifts[0]",
            "HH:MM",
        ),
        (_dup_stage, "sides.cn.exit", "stage listed twice"),
        (lambda d: d["sides"].pop("kz"), "sides", "missing"),
        (
            _set(("directions", "cn_to_mars"), {"trucks_per_day": 1}),
            "directions",
            "unknown direction",
        ),
        (
            _set((*EQ, "no_show_share"), 1.5),
            "directions.kz_to_cn.equeue.no_show_share",
            "less than 1",
        ),
        (
            _set((*EQ, "slots_per_hour"), [1, 2]),
            "directions.kz_to_cn.equeue.slots_per_hour",
            "1 or 24",
        ),
        (_set(("demand", "classes"), HALF), "demand.classes", "sum to 1"),
        (_set(("run", "warmup_days"), 10), "run", "warmup_days"),
        (_set(("scenario", "name"), ""), "scenario.name", "at least 1 character"),
    ],
)
def test_each_bad_parameter_names_its_key(mutate: Any, key: str, reason: str) -> None:
    data = copy.deepcopy(two_sided())
    mutate(data)
    got_key, got_reason = _problem(data)
    assert got_key == key
    assert reason in got_reason


def test_all_problems_are_listed() -> None:
    data = two_sided()
    data["directions"]["cn_to_kz"]["trucks_per_day"] = -1
    data["sides"]["cn"]["exit"]["stages"][0]["kind"] = "teleport"
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data, "x.toml")
    keys = {p.key for p in info.value.problems}
    assert {"directions.cn_to_kz.trucks_per_day", "sides.cn.exit.stages[0].kind"} <= keys


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.toml"
    bad.write_text("[scenario\nname = 1\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(bad)
    assert info.value.file == str(bad)
    assert info.value.problems[0].key == "(syntax)"
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "missing.toml")
    assert info.value.problems[0].key == "(file)"
    with pytest.raises(ScenarioError, match="known: khorgos-2023-baseline"):
        load_scenario("no-such-scenario")


def test_shipped_scenarios_load_and_cite_sources() -> None:
    from importlib import resources

    names = shipped_scenarios()
    assert {"khorgos-2023-baseline", "khorgos-digital"} <= set(names)
    for name in names:
        sc = load_scenario(name)
        assert sc.name == name
        text = resources.files("silkgate.twin").joinpath("scenarios", f"{name}.toml").read_text()
        data = tomllib.loads(text)
        assert data["scenario"]["name"] == name
        # every numeric assignment line carries a comment or sits under a commented table
        assert "ASSUMPTION" in text and "DN" in text


def test_overrides_and_demand_scaling() -> None:
    sc = parse_scenario(single_stage(1, 0.5, 1.0))
    assert with_run(sc, days=3).run.warmup_days < 3
    assert with_run(sc, replications=9).run.replications == 9
    scaled = scale_demand(sc, 2.0)
    before = sc.directions["cn_to_kz"].trucks_per_day
    assert scaled.directions["cn_to_kz"].trucks_per_day == 2 * before
    with pytest.raises(ScenarioError):
        scale_demand(sc, -1)
