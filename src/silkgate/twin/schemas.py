"""Scenario shapes for the digital twin (pydantic v2), validated before anything runs.

A scenario describes one road crossing in both directions: demand, the approach (an
unscheduled queue or an e-queue), and each side's exit and entry controls. Times are in
minutes unless a field name says otherwise. Loading and error reporting live in
``scenario.py``; these models only say what is allowed and why.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SHARE_TOLERANCE = 1e-6
STAGE_KINDS = ("gate_in", "documents", "weighing", "scanning", "inspection", "gate_out", "release")
LANES = ("green", "yellow", "red")
SIDES = ("cn", "kz")
DIRECTIONS = {"cn_to_kz": ("cn", "kz"), "kz_to_cn": ("kz", "cn")}
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEMAND_SOURCES = ("profile", "demo-generator")
GENERATOR_KEYS = ("seed", "lead_time", "tir_class", "sample_size")


class KeyedError(ValueError):
    """A validation error that names the key it is about, relative to the table raising it
    (pydantic reports errors of whole-model checks at the table itself)."""

    def __init__(self, key: str, reason: str):
        super().__init__(reason)
        self.key = key


class Strict(BaseModel):
    """Base for scenario tables: unknown keys are refused so typos never pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- service-time distributions -------------------------------------------------------------


class Fixed(Strict):
    """Always the same duration (e.g. a scripted barrier cycle)."""

    dist: Literal["fixed"]
    value: float = Field(ge=0)

    def bounds(self) -> tuple[float, float]:
        return self.value, self.value

    def mean(self) -> float:
        return self.value


class Exponential(Strict):
    """Memoryless service; used to check the model against queueing theory."""

    dist: Literal["exponential"]
    mean_min: float = Field(gt=0)

    def bounds(self) -> tuple[float, float]:
        return 0.0, math.inf

    def mean(self) -> float:
        return self.mean_min


class Lognormal(Strict):
    """Right-skewed service times, given by their mean and standard deviation in minutes."""

    dist: Literal["lognormal"]
    mean_min: float = Field(gt=0)
    sd_min: float = Field(gt=0)

    def bounds(self) -> tuple[float, float]:
        return 0.0, math.inf

    def mean(self) -> float:
        return self.mean_min


class Triangular(Strict):
    """Expert estimate: shortest, most likely and longest duration."""

    dist: Literal["triangular"]
    low: float
    mode: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not (self.low <= self.mode <= self.high) or self.low == self.high:
            raise ValueError("triangular needs low <= mode <= high and low < high")
        return self

    def bounds(self) -> tuple[float, float]:
        return self.low, self.high

    def mean(self) -> float:
        return (self.low + self.mode + self.high) / 3


class Empirical(Strict):
    """Resampled observations (e.g. from ``twin calibrate``)."""

    dist: Literal["empirical"]
    samples: list[float] = Field(min_length=1)

    @field_validator("samples")
    @classmethod
    def _finite(cls, v: list[float]) -> list[float]:
        if not all(math.isfinite(x) for x in v):
            raise ValueError("samples must be finite numbers")
        return v

    def bounds(self) -> tuple[float, float]:
        return min(self.samples), max(self.samples)

    def mean(self) -> float:
        return sum(self.samples) / len(self.samples)


Distribution = Annotated[
    Fixed | Exponential | Lognormal | Triangular | Empirical, Field(discriminator="dist")
]


def _non_negative(d: Distribution | None, what: str) -> None:
    if d is not None and d.bounds()[0] < 0:
        raise ValueError(f"{what} cannot be negative (lowest value {d.bounds()[0]})")


# --- stages, shifts, sides ---------------------------------------------------------------------

_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


def parse_days(spec: str) -> list[int]:
    """'mon-fri', 'sat,sun', 'daily' → weekday indexes (Monday = 0)."""
    spec = spec.strip().lower()
    if spec in ("daily", "all", "mon-sun"):
        return list(range(7))
    out: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if "-" in part:
            a, b = (p.strip() for p in part.split("-", 1))
            if a not in DAY_NAMES or b not in DAY_NAMES:
                raise ValueError(f"unknown day in {part!r}; use mon..sun")
            i, j = DAY_NAMES.index(a), DAY_NAMES.index(b)
            out.extend(range(i, j + 1) if i <= j else [*range(i, 7), *range(0, j + 1)])
        elif part in DAY_NAMES:
            out.append(DAY_NAMES.index(part))
        else:
            raise ValueError(f"unknown day {part!r}; use mon..sun, ranges or 'daily'")
    return sorted(set(out))


def hhmm_minutes(value: str) -> int:
    m = _HHMM.match(value)
    if not m or (m.group(1) == "24" and m.group(2) != "00"):
        raise ValueError(f"time {value!r} must be HH:MM between 00:00 and 24:00")
    return int(m.group(1)) * 60 + int(m.group(2))


class Shift(Strict):
    """A staffed period on given days; overlapping shifts add their servers."""

    days: str = "daily"
    start: str = "00:00"
    end: str = "24:00"
    servers: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _parse(self) -> Shift:
        parse_days(self.days)
        if hhmm_minutes(self.start) == hhmm_minutes(self.end):
            raise ValueError("shift start and end are equal; use 00:00-24:00 for all day")
        return self


class Stage(Strict):
    """One control point: its servers (booths, scanners, bays), hours and service time."""

    kind: str
    servers: int = Field(ge=1, description="Servers per shift unless the shift says otherwise.")
    shifts: list[Shift] | None = None
    service: Distribution
    fast_track: Distribution | None = Field(
        default=None, description="Documents only: service when pre-arrival data was accepted."
    )

    @field_validator("kind")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in STAGE_KINDS:
            raise ValueError(f"unknown stage {v!r}; known stages: {', '.join(STAGE_KINDS)}")
        return v

    @model_validator(mode="after")
    def _checks(self) -> Stage:
        _non_negative(self.service, "service time")
        _non_negative(self.fast_track, "fast-track service time")
        if self.fast_track is not None and self.kind != "documents":
            raise ValueError("fast_track applies to the documents stage only")
        if self.shifts is not None and not any(
            (s.servers if s.servers is not None else self.servers) > 0 for s in self.shifts
        ):
            raise ValueError("the stage is never staffed: every shift has 0 servers")
        return self


def _shares_sum_to_one(shares: dict[str, float], what: str) -> None:
    if any(v < 0 for v in shares.values()):
        raise ValueError(f"{what} cannot be negative")
    total = sum(shares.values())
    if abs(total - 1.0) > SHARE_TOLERANCE:
        raise ValueError(f"{what} must sum to 1, got {total:.6g}")


class Lanes(Strict):
    """Risk-selection outcome shares (ASYCUDA lanes); must sum to 1."""

    green: float
    yellow: float
    red: float

    @model_validator(mode="after")
    def _sum(self) -> Lanes:
        _shares_sum_to_one(self.model_dump(), "lane shares")
        return self


class ScanRates(Strict):
    """Probability of a non-intrusive (X-ray) scan for each lane."""

    green: float = Field(ge=0, le=1)
    yellow: float = Field(ge=0, le=1)
    red: float = Field(ge=0, le=1)


class Controls(Strict):
    """One side's controls for one traffic flow (its export or its import hall)."""

    stages: list[Stage] = Field(default_factory=list)
    lanes: Lanes = Lanes(green=1.0, yellow=0.0, red=0.0)
    scan: ScanRates = ScanRates(green=0.0, yellow=0.0, red=0.0)
    acceptance_per_day: int | None = Field(
        default=None, gt=0, description="Most trucks admitted at the first stage per day."
    )
    recognise_exit_scan: bool = Field(
        default=False, description="Entry only: skip the scan when the exit side scanned."
    )

    @model_validator(mode="after")
    def _checks(self) -> Controls:
        kinds = [s.kind for s in self.stages]
        dup = {k for k in kinds if kinds.count(k) > 1}
        if dup:
            raise ValueError(f"stage listed twice: {', '.join(sorted(dup))}")
        if self.acceptance_per_day is not None and not self.stages:
            raise ValueError("acceptance_per_day needs at least one stage to admit trucks")
        return self


class Side(Strict):
    """A checkpoint: its exit controls (outbound trucks) and entry controls (inbound)."""

    name: str
    exit: Controls = Controls()
    entry: Controls = Controls()


# --- demand and the approach ---------------------------------------------------------------------


class PriorityClass(Strict):
    """A class of trucks served in an interleaved order (perishables, TIR/AEO, regular)."""

    name: str = Field(min_length=1)
    share: float = Field(ge=0, le=1)
    ratio: int = Field(ge=1, description="Trucks of this class per round of the interleave.")


class EQueue(Strict):
    """Electronic queue: booked hourly slots, waiting area and call-forward."""

    slots_per_hour: int | list[int] = Field(description="Slot capacity; one value or 24.")
    slots_per_day: int | None = Field(default=None, gt=0)
    no_show_share: float = Field(default=0.0, ge=0, lt=1)
    no_show_delay: Distribution = Field(
        default=Fixed(dist="fixed", value=240.0),
        description="From the missed slot until the truck books again (minutes).",
    )
    lateness: Distribution = Fixed(dist="fixed", value=0.0)
    grace_minutes: float = Field(default=60.0, ge=0)
    call_forward_minutes: float = Field(default=15.0, ge=0)
    waiting_area_capacity: int = Field(default=200, gt=0)

    @field_validator("slots_per_hour")
    @classmethod
    def _slots(cls, v: int | list[int]) -> int | list[int]:
        values = [v] if isinstance(v, int) else v
        if isinstance(v, list) and len(v) != 24:
            raise ValueError(f"slots_per_hour needs 1 or 24 values, got {len(v)}")
        if any(x < 0 for x in values):
            raise ValueError("slot capacity cannot be negative")
        if sum(values) == 0:
            raise ValueError("the e-queue offers no slot at all")
        return v

    @model_validator(mode="after")
    def _delay(self) -> EQueue:
        _non_negative(self.no_show_delay, "no-show delay")
        return self

    def hourly(self) -> list[int]:
        return (
            [self.slots_per_hour] * 24
            if isinstance(self.slots_per_hour, int)
            else list(self.slots_per_hour)
        )


class Direction(Strict):
    """Demand in one direction and how it approaches the exit side."""

    trucks_per_day: float = Field(ge=0, description="Average over the week.")
    pre_arrival_share: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Trucks served from documents.fast_track. With the demo generator every "
        "truck has a declaration; this share stays the rule for using it (0 in the baseline).",
    )
    equeue: EQueue | None = None


def _profile(v: list[float], n: int, what: str) -> list[float]:
    if len(v) != n:
        raise ValueError(f"{what} needs {n} values, got {len(v)}")
    if any(x < 0 or not math.isfinite(x) for x in v):
        raise ValueError(f"{what} weights must be finite and >= 0")
    if sum(v) <= 0:
        raise ValueError(f"{what} must have a positive weight")
    return v


# Defaults for source = "demo-generator". The seed is `silkgate demo --seed`'s default, so the
# twin sees the same declarations as the demo. The lead time is an ASSUMPTION (no source gives
# it): the declaration is lodged 1-12 h before the truck is ready at the border, 4 h most often.
DEFAULT_GENERATOR_SEED = 7
DEFAULT_LEAD_TIME = Triangular(dist="triangular", low=60.0, mode=240.0, high=720.0)
DEFAULT_TIR_CLASS = "tir_aeo"
DEFAULT_SAMPLE_SIZE = 20_000


class Demand(Strict):
    """Where trucks come from and when they are ready to cross.

    ``source = "profile"`` (the default) draws Poisson arrivals from the hourly and weekly
    weight profiles. ``source = "demo-generator"`` draws trucks from ``silkgate.demo``'s
    seeded traffic generator, the one the demo and the benchmarks use: it gives each truck's
    direction, its TIR carnet and its declaration's submission time; the scenario keeps the
    volume (the sum of its directions' trucks per day, spread over the week by
    ``weekly_profile``). See docs/twin.md.
    """

    source: Literal["profile", "demo-generator"] = "profile"
    hourly_profile: list[float] = Field(default_factory=lambda: [1.0] * 24)
    weekly_profile: list[float] = Field(default_factory=lambda: [1.0] * 7)
    classes: list[PriorityClass] = Field(
        default_factory=lambda: [PriorityClass(name="regular", share=1.0, ratio=1)]
    )
    seed: int | None = Field(
        default=None, ge=0, description="Generator only: TrafficGenerator seed (default 7)."
    )
    lead_time: Distribution | None = Field(
        default=None,
        description="Generator only: from submitting the declaration to ready to cross (min).",
    )
    tir_class: str | None = Field(
        default=None, description="Generator only: the class of trucks with a TIR carnet."
    )
    sample_size: int | None = Field(
        default=None,
        ge=1000,
        le=200_000,
        description="Generator only: declarations generated once and resampled per truck.",
    )

    @field_validator("hourly_profile")
    @classmethod
    def _hours(cls, v: list[float]) -> list[float]:
        return _profile(v, 24, "hourly_profile")

    @field_validator("weekly_profile")
    @classmethod
    def _week(cls, v: list[float]) -> list[float]:
        return _profile(v, 7, "weekly_profile")

    @field_validator("classes")
    @classmethod
    def _classes(cls, v: list[PriorityClass]) -> list[PriorityClass]:
        if not v:
            raise ValueError("at least one class is needed")
        names = [c.name for c in v]
        if len(set(names)) != len(names):
            raise ValueError("class names must be unique")
        _shares_sum_to_one({c.name: c.share for c in v}, "class shares")
        return v

    @model_validator(mode="after")
    def _generator(self) -> Demand:
        if self.source == "profile":
            for key in GENERATOR_KEYS:
                if getattr(self, key) is not None:
                    raise KeyedError(key, "applies only with source = 'demo-generator'")
            return self
        if self.lead_time is not None and self.lead_time.bounds()[0] < 0:
            raise KeyedError("lead_time", "lead time cannot be negative")
        if len(self.classes) > 1:
            tir = self.generator_tir_class()
            names = [c.name for c in self.classes]
            if tir not in names:
                raise KeyedError(
                    "tir_class",
                    f"no class {tir!r} for trucks with a TIR carnet; classes: {', '.join(names)}",
                )
            if sum(c.share for c in self.classes if c.name != tir) <= 0:
                raise KeyedError(
                    "classes",
                    f"trucks without a TIR carnet are drawn from the classes other than {tir!r}; "
                    "give at least one of them a positive share",
                )
        return self

    # Effective generator settings (the keys are None unless the scenario sets them).

    def generator_seed(self) -> int:
        return DEFAULT_GENERATOR_SEED if self.seed is None else self.seed

    def generator_lead_time(self) -> Distribution:
        return self.lead_time if self.lead_time is not None else DEFAULT_LEAD_TIME

    def generator_tir_class(self) -> str:
        return self.tir_class if self.tir_class is not None else DEFAULT_TIR_CLASS

    def generator_sample_size(self) -> int:
        return DEFAULT_SAMPLE_SIZE if self.sample_size is None else self.sample_size


class NeutralZone(Strict):
    """Drive between the two checkpoints; no servers, trucks do not queue."""

    transit: Distribution = Fixed(dist="fixed", value=0.0)

    @model_validator(mode="after")
    def _checks(self) -> NeutralZone:
        _non_negative(self.transit, "transit time")
        return self


class RunDefaults(Strict):
    """Run length, warm-up and seed; the command line can override them."""

    days: int = Field(default=28, ge=1, le=3660)
    warmup_days: int = Field(default=7, ge=0)
    replications: int = Field(default=5, ge=1, le=1000)
    seed: int = Field(default=1, ge=0)
    sample_minutes: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _warmup(self) -> RunDefaults:
        if self.warmup_days >= self.days:
            raise ValueError("warmup_days must be shorter than days")
        return self


class Scenario(Strict):
    """A whole crossing: both sides, both directions, demand and run defaults."""

    name: str = Field(min_length=1)
    description: str = ""
    run: RunDefaults = RunDefaults()
    demand: Demand = Demand()
    directions: dict[str, Direction]
    sides: dict[str, Side]
    neutral_zone: NeutralZone = NeutralZone()

    @field_validator("directions")
    @classmethod
    def _directions(cls, v: dict[str, Direction]) -> dict[str, Direction]:
        unknown = set(v) - set(DIRECTIONS)
        if unknown:
            raise ValueError(f"unknown direction {sorted(unknown)}; use {sorted(DIRECTIONS)}")
        if not v:
            raise ValueError("at least one direction is needed")
        return v

    @field_validator("sides")
    @classmethod
    def _sides(cls, v: dict[str, Side]) -> dict[str, Side]:
        unknown = set(v) - set(SIDES)
        if unknown:
            raise ValueError(f"unknown side {sorted(unknown)}; use {list(SIDES)}")
        missing = set(SIDES) - set(v)
        if missing:
            raise ValueError(f"both sides must be described; missing {sorted(missing)}")
        return v

    @model_validator(mode="after")
    def _demand_source(self) -> Scenario:
        missing = sorted(set(DIRECTIONS) - set(self.directions))
        if self.demand.source == "demo-generator" and missing:
            raise KeyedError(
                "demand.source",
                "the demo generator sends trucks both ways; describe both directions "
                f"(missing {', '.join(missing)})",
            )
        return self

    @model_validator(mode="after")
    def _routes(self) -> Scenario:
        for name in self.directions:
            exit_side, entry_side = DIRECTIONS[name]
            if not self.sides[exit_side].exit.stages and not self.sides[entry_side].entry.stages:
                raise ValueError(f"direction {name} has no stage on either side")
        return self
