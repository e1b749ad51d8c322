"""Small twin scenarios built in code for the tests."""

from __future__ import annotations

from typing import Any


def stage(kind: str, servers: int, service: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "servers": servers, "service": service, **extra}


def expo(mean: float) -> dict[str, Any]:
    return {"dist": "exponential", "mean_min": mean}


def single_stage(
    servers: int,
    arrivals_per_min: float,
    mean_service: float,
    *,
    days: int = 10,
    warmup_days: int = 1,
    replications: int = 5,
    seed: int = 7,
    cap: int | None = None,
    shifts: list[dict[str, Any]] | None = None,
    classes: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One direction, one exit-side stage: an M/M/c queue with flat Poisson arrivals."""
    gate = stage("gate_in", servers, expo(mean_service))
    if shifts is not None:
        gate["shifts"] = shifts
    exit_controls: dict[str, Any] = {"stages": [gate]}
    if cap is not None:
        exit_controls["acceptance_per_day"] = cap
    data: dict[str, Any] = {
        "scenario": {"name": "mmc"},
        "run": {
            "days": days,
            "warmup_days": warmup_days,
            "replications": replications,
            "seed": seed,
            "sample_minutes": 10,
        },
        "directions": {"cn_to_kz": {"trucks_per_day": arrivals_per_min * 1440}},
        "sides": {"cn": {"name": "CN", "exit": exit_controls}, "kz": {"name": "KZ"}},
    }
    if classes is not None:
        data["demand"] = {"classes": classes}
    return data


def two_sided(trucks_per_day: float = 300, days: int = 6) -> dict[str, Any]:
    """A small but complete crossing: both directions, both sides, e-queue one way."""
    tri = {"dist": "triangular", "low": 1, "mode": 2, "high": 4}

    def exit_c() -> dict[str, Any]:
        return {
            "lanes": {"green": 0.7, "yellow": 0.2, "red": 0.1},
            "scan": {"green": 0.1, "yellow": 0.5, "red": 1.0},
            "stages": [
                stage("gate_in", 2, tri),
                stage(
                    "documents",
                    3,
                    {"dist": "lognormal", "mean_min": 20, "sd_min": 10},
                    fast_track={"dist": "triangular", "low": 2, "mode": 3, "high": 6},
                ),
                stage("scanning", 2, tri),
                stage("inspection", 3, {"dist": "lognormal", "mean_min": 60, "sd_min": 20}),
                stage("gate_out", 1, {"dist": "fixed", "value": 1.0}),
            ],
        }

    def entry_c() -> dict[str, Any]:
        c = exit_c()
        c["stages"][-1] = stage("release", 1, {"dist": "fixed", "value": 1.0})
        c["recognise_exit_scan"] = True
        return c

    return {
        "scenario": {"name": "two-sided"},
        "run": {"days": days, "warmup_days": 1, "replications": 2, "seed": 11},
        "directions": {
            "cn_to_kz": {"trucks_per_day": trucks_per_day, "pre_arrival_share": 0.5},
            "kz_to_cn": {
                "trucks_per_day": trucks_per_day / 2,
                "equeue": {
                    "slots_per_hour": 20,
                    "no_show_share": 0.1,
                    "lateness": {"dist": "triangular", "low": -30, "mode": 0, "high": 120},
                },
            },
        },
        "sides": {
            "cn": {"name": "CN", "exit": exit_c(), "entry": entry_c()},
            "kz": {"name": "KZ", "exit": exit_c(), "entry": entry_c()},
        },
        "neutral_zone": {"transit": {"dist": "fixed", "value": 15}},
    }
