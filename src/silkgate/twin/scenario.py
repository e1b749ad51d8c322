"""Load scenario TOML files and refuse bad ones with the file, the key and the reason."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from silkgate.twin.schemas import DEMAND_SOURCES, GENERATOR_KEYS, KeyedError, Scenario

SCENARIO_DIR = "scenarios"  # TOML package data beside this module


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario, located by its dotted key."""

    key: str
    reason: str


class ScenarioError(ValueError):
    """A scenario that cannot be run; names the file, each key and the reason."""

    def __init__(self, file: str, problems: list[Problem]):
        self.file = file
        self.problems = problems
        lines = [f"{file}: {p.key}: {p.reason}" for p in problems]
        super().__init__("invalid scenario\n" + "\n".join(lines))


def _dotted(loc: tuple[int | str, ...]) -> str:
    """('sides','kz','entry','stages',2,'kind') → 'sides.kz.entry.stages[2].kind'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("fixed", "exponential", "lognormal", "triangular", "empirical"):
            continue  # discriminator tag pydantic adds for distributions
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _reason(err: Any) -> str:
    msg = str(err.get("msg", "invalid"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    if err.get("type") == "extra_forbidden":
        msg = "unknown key (not part of the scenario format)"
    if err.get("type") == "union_tag_invalid":
        msg = "unknown distribution; use fixed, exponential, lognormal, triangular or empirical"
    return msg


def parse_scenario(data: dict[str, Any], file: str = "<memory>") -> Scenario:
    """Validate a parsed TOML table; raise ScenarioError listing every problem."""
    scenario_table = data.get("scenario", {})
    body = {k: v for k, v in data.items() if k != "scenario"}
    if not isinstance(scenario_table, dict):
        raise ScenarioError(file, [Problem("scenario", "must be a table")])
    body = {**scenario_table, **body}
    try:
        return Scenario.model_validate(body)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            if loc and loc[0] in ("name", "description"):
                loc = ("scenario", *loc)
            key = _dotted(loc)
            keyed = (err.get("ctx") or {}).get("error")
            if isinstance(keyed, KeyedError):  # a whole-table check that names its key
                key = keyed.key if key == "(top level)" else f"{key}.{keyed.key}"
            problems.append(Problem(key, _reason(err)))
        raise ScenarioError(file, problems) from None


def shipped_scenarios() -> list[str]:
    """Names of the scenarios shipped with the package."""
    root = resources.files("silkgate.twin").joinpath(SCENARIO_DIR)
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml"))


def resolve(name_or_path: str | Path) -> tuple[str, str]:
    """Return (label, TOML text) for a shipped scenario name or a file path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        try:
            return str(path), path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ScenarioError(str(path), [Problem("(file)", exc.strerror or str(exc))]) from None
    name = str(name_or_path)
    if name in shipped_scenarios():
        res = resources.files("silkgate.twin").joinpath(SCENARIO_DIR, f"{name}.toml")
        return f"{name}.toml (shipped)", res.read_text(encoding="utf-8")
    known = ", ".join(shipped_scenarios())
    raise ScenarioError(
        name, [Problem("(file)", f"no such file or shipped scenario; known: {known}")]
    )


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Read and validate a scenario by shipped name or path."""
    label, text = resolve(name_or_path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(label, [Problem("(syntax)", str(exc))]) from None
    return parse_scenario(data, label)


def with_run(scenario: Scenario, **changes: Any) -> Scenario:
    """Copy of the scenario with run defaults changed (days, replications, seed...)."""
    changes = {k: v for k, v in changes.items() if v is not None}
    if not changes:
        return scenario
    run = scenario.run.model_dump() | changes
    if "days" in changes and "warmup_days" not in changes and run["warmup_days"] >= run["days"]:
        run["warmup_days"] = run["days"] // 4
    data = scenario.model_dump() | {"run": run}
    return parse_scenario(data, f"{scenario.name} (overrides)")


def scale_demand(scenario: Scenario, factor: float) -> Scenario:
    """Copy of the scenario with every direction's trucks per day multiplied by factor."""
    if factor < 0:
        raise ScenarioError(scenario.name, [Problem("demand_factor", "cannot be negative")])
    data = scenario.model_dump()
    for spec in data["directions"].values():
        spec["trucks_per_day"] *= factor
    data["name"] = scenario.name if factor == 1 else f"{scenario.name} x{factor:g}"
    return parse_scenario(data, f"{scenario.name} (demand x{factor:g})")


TRAFFIC_SOURCES = {"profile": "profile", "demo": "demo-generator"} | {s: s for s in DEMAND_SOURCES}


def with_traffic(scenario: Scenario, source: str | None, seed: int | None = None) -> Scenario:
    """Copy of the scenario with its demand source changed (``--traffic profile|demo``) and,
    for the demo generator, its seed (``--traffic-seed``)."""
    if source is None and seed is None:
        return scenario
    data = scenario.model_dump()
    demand = data["demand"]
    if source is not None:
        if source not in TRAFFIC_SOURCES:
            known = ", ".join(TRAFFIC_SOURCES)
            raise ScenarioError(scenario.name, [Problem("traffic", f"use one of {known}")])
        demand["source"] = TRAFFIC_SOURCES[source]
        if demand["source"] == "profile":
            demand.update(dict.fromkeys(GENERATOR_KEYS))
    if seed is not None:
        demand["seed"] = seed
    return parse_scenario(data, f"{scenario.name} (traffic {demand['source']})")


def _scaled(dist: dict[str, Any], factor: float) -> dict[str, Any]:
    """A distribution dict with every duration multiplied by factor (shape kept)."""
    out = dict(dist)
    for key in ("value", "mean_min", "sd_min", "low", "mode", "high"):
        if key in out:
            out[key] = out[key] * factor
    if "samples" in out:
        out["samples"] = [x * factor for x in out["samples"]]
    return out


def scale_service(scenario: Scenario, kind: str, factor: float) -> Scenario:
    """Copy of the scenario with the full-check service time of every stage of this kind
    (on both sides) multiplied by factor; fast-track times are left as they are."""
    if factor <= 0:
        raise ScenarioError(scenario.name, [Problem("factor", "must be positive")])
    data = scenario.model_dump()
    found = False
    for side in data["sides"].values():
        for role in ("exit", "entry"):
            for stage in side[role]["stages"]:
                if stage["kind"] == kind:
                    stage["service"] = _scaled(stage["service"], factor)
                    found = True
    if not found:
        raise ScenarioError(scenario.name, [Problem("stage", f"no stage of kind {kind!r}")])
    data["name"] = f"{scenario.name} {kind} x{factor:g}"
    return parse_scenario(data, f"{scenario.name} ({kind} x{factor:g})")
