"""Shapes of the risk engine: lanes, selectivity profiles, model artifacts, reports, assessments.

Everything here is plain pydantic v2 so the API, the CLI, TOML files and the database (phase 2)
share one definition and one set of validation messages.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from silkgate.core.text import Line, MultiLine, NoControls

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"


class Lane(StrEnum):
    """Control lane of a declaration (ASYCUDA colours)."""

    GREEN = "green"  # release
    BLUE = "blue"  # release with post-clearance audit
    YELLOW = "yellow"  # documentary check
    RED = "red"  # physical inspection, including scanning

    @property
    def severity(self) -> int:
        """Higher is stricter: green 0, blue 1, yellow 2, red 3."""
        return _SEVERITY[self]

    @property
    def meaning(self) -> str:
        """What the lane means for the truck, in words."""
        return _MEANING[self]


_SEVERITY = {Lane.GREEN: 0, Lane.BLUE: 1, Lane.YELLOW: 2, Lane.RED: 3}
_MEANING = {
    Lane.GREEN: "release",
    Lane.BLUE: "release with post-clearance audit",
    Lane.YELLOW: "documentary check",
    Lane.RED: "physical inspection (including scanning)",
}
#: Lanes from strictest to mildest, the order quotas and top-ups are filled in.
LANES_BY_SEVERITY: tuple[Lane, ...] = (Lane.RED, Lane.YELLOW, Lane.BLUE)


def stricter(a: Lane, b: Lane) -> Lane:
    """The stricter of two lanes."""
    return a if a.severity >= b.severity else b


class Direction(StrEnum):
    """Direction of traffic a profile applies to."""

    IMPORT = "import"
    EXPORT = "export"
    TRANSIT = "transit"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class Criterion(_Strict):
    """A named rule: declarations matching ``when`` go to ``lane`` with probability ``percent``."""

    name: Annotated[str, NoControls()] = Field(pattern=NAME_PATTERN)
    description: MultiLine = Field(min_length=1, max_length=500)
    when: MultiLine = Field(min_length=1, max_length=4000)
    lane: Lane
    percent: float = Field(default=100.0, gt=0, le=100)
    enabled: bool = True

    @field_validator("lane")
    @classmethod
    def _not_green(cls, lane: Lane) -> Lane:
        if lane is Lane.GREEN:
            raise ValueError("a criterion selects for control; green is the default, not a target")
        return lane


class ValueBand(_Strict):
    """Minimum and maximum unit value for an HS6 (and origin; ``*`` for any origin)."""

    hs6: Line = Field(pattern=r"^[0-9]{6}$")
    origin: Line = Field(default="*", pattern=r"^(\*|[A-Z]{2})$")
    min_per_kg: float | None = Field(default=None, ge=0)
    max_per_kg: float | None = Field(default=None, gt=0)
    min_per_unit: float | None = Field(default=None, ge=0)
    max_per_unit: float | None = Field(default=None, gt=0)
    source: Literal["history", "manual"] = "manual"
    count: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> ValueBand:
        for lo, hi, basis in (
            (self.min_per_kg, self.max_per_kg, "kg"),
            (self.min_per_unit, self.max_per_unit, "unit"),
        ):
            if lo is not None and hi is not None and lo > hi:
                raise ValueError(f"minimum per {basis} is above the maximum")
        return self


class ValueControls(_Strict):
    """How value bands are computed and what a hit does."""

    enabled: bool = True
    lane: Lane = Lane.YELLOW
    percent: float = Field(default=100.0, gt=0, le=100)
    description: MultiLine = Field(
        default="Unit value outside the usual band for this commodity and origin", max_length=500
    )
    method: Literal["tukey", "quantile"] = "tukey"
    low_quantile: float = Field(default=0.02, ge=0, lt=0.5)
    high_quantile: float = Field(default=0.98, gt=0.5, le=1)
    iqr_factor: float = Field(default=3.0, gt=0)
    min_log_width: float = Field(default=0.1, ge=0)
    min_count: int = Field(default=20, ge=3)
    by_origin: bool = True
    exclude_hits: bool = True
    bands: list[ValueBand] = Field(default_factory=list)


class RandomSelection(_Strict):
    """Minimum random selection rate per lane, in percent of declarations."""

    rates: dict[Lane, float] = Field(default_factory=dict)

    @field_validator("rates")
    @classmethod
    def _valid_rates(cls, rates: dict[Lane, float]) -> dict[Lane, float]:
        if Lane.GREEN in rates:
            raise ValueError("random selection targets red, yellow or blue, not green")
        if any(r < 0 or r > 100 for r in rates.values()):
            raise ValueError("random rates are percentages between 0 and 100")
        if sum(rates.values()) > 100:
            raise ValueError("random rates add up to more than 100%")
        return rates


class ModelSelection(_Strict):
    """Model top-ups: lanes are filled with the highest scores up to a rate or daily capacity."""

    enabled: bool = True
    model_id: Line | None = Field(default=None, max_length=128)
    rates: dict[Lane, float] = Field(
        default_factory=lambda: {Lane.RED: 3.0, Lane.YELLOW: 5.0},
        description="expected share of declarations per lane, in percent, criteria included",
    )
    daily_capacity: dict[Lane, Annotated[int, Field(le=2**31 - 1)]] = Field(default_factory=dict)
    exploration: float = Field(default=0.10, ge=0, le=1)
    exploration_strategy: Literal["random", "uncertainty"] = "random"

    @field_validator("rates")
    @classmethod
    def _valid_rates(cls, rates: dict[Lane, float]) -> dict[Lane, float]:
        if Lane.GREEN in rates:
            raise ValueError("model top-ups target red, yellow or blue, not green")
        if any(r < 0 or r > 100 for r in rates.values()):
            raise ValueError("expected rates are percentages between 0 and 100")
        if sum(rates.values()) > 100:
            raise ValueError("expected rates add up to more than 100%")
        return rates

    @field_validator("daily_capacity")
    @classmethod
    def _valid_capacity(cls, cap: dict[Lane, int]) -> dict[Lane, int]:
        if Lane.GREEN in cap or any(v < 0 for v in cap.values()):
            raise ValueError("daily capacity is a non-negative count for red, yellow or blue")
        return cap


_LIST_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class SelectivityProfile(_Strict):
    """The selectivity set-up of one customs office and direction, at one version."""

    office: Line = Field(min_length=1, max_length=64)
    direction: Direction = Direction.IMPORT
    version: int = Field(default=1, ge=1, le=2**31 - 1)
    description: MultiLine = Field(default="", max_length=4000)
    valid_from: date | None = None
    seed: int = Field(
        default=0,
        ge=-(2**63),
        le=2**63 - 1,
        description="salt for reproducible percentage and random draws",
    )
    extra_fields: list[Annotated[Line, Field(max_length=64)]] = Field(
        default_factory=list, description="extra text fields rules may read (from the mapping)"
    )
    lists: dict[Line, list[Annotated[Line, Field(max_length=256)]]] = Field(default_factory=dict)
    criteria: list[Criterion] = Field(default_factory=list)
    value_controls: ValueControls = Field(default_factory=ValueControls)
    random: RandomSelection = Field(default_factory=RandomSelection)
    model: ModelSelection = Field(default_factory=ModelSelection)

    @field_validator("lists")
    @classmethod
    def _list_names(cls, lists: dict[str, list[str]]) -> dict[str, list[str]]:
        for name in lists:
            if not _LIST_NAME.match(name):
                raise ValueError(f"list name {name!r} must be letters, digits or '_'")
        return lists

    @model_validator(mode="after")
    def _check_rules(self) -> SelectivityProfile:
        from silkgate.risk.fields import rule_fields
        from silkgate.risk.selectivity.expressions import ExpressionError, compile_rule

        seen: set[str] = set()
        fields = rule_fields(tuple(self.extra_fields))
        problems: list[str] = []
        for crit in self.criteria:
            if crit.name in seen:
                problems.append(f"criterion {crit.name!r} is defined twice")
            seen.add(crit.name)
            try:
                compile_rule(crit.when, fields, self.lists)
            except ExpressionError as exc:
                problems.append(
                    f"criterion {crit.name!r}: {exc.reason} at position {exc.position + 1}"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self


# --------------------------------------------------------------------------- model artifacts


class AtN(BaseModel):
    """Metrics when the top n% of scores are inspected (DATE, KDD 2020)."""

    n: float
    threshold: float
    selected: int
    precision: float | None
    recall: float | None
    revenue: float | None = None


class EvalReport(BaseModel):
    """Precision/Recall/Revenue at n% and AUC on one labelled data set."""

    rows: int
    positives: int
    auc: float | None
    at: list[AtN]
    history: str = "frozen"
    data: str | None = None
    #: the same figures on slices of the rows (all, never-seen goods lines) beside the baseline
    slices: list[SliceComparison] = Field(default_factory=list)

    def at_n(self, n: float) -> AtN:
        """The figures for one n (e.g. 5 for Precision@5%)."""
        for item in self.at:
            if item.n == n:
                return item
        raise KeyError(n)


class Difference(BaseModel):
    """Model minus baseline on one figure, with a paired bootstrap interval."""

    metric: str
    model: float | None
    baseline: float | None
    difference: float | None
    low: float | None
    high: float | None


class SliceComparison(BaseModel):
    """Model and plain baseline on one slice of the evaluated rows."""

    name: str
    description: str
    rows: int
    positives: int
    model: EvalReport
    baseline: EvalReport | None = None
    differences: list[Difference] = Field(default_factory=list)
    resamples: int = 0
    confidence: float = 0.95


class DataSummary(BaseModel):
    """What a model was trained or validated on."""

    source: str
    sha256: str
    rows: int
    positives: int
    date_from: date | None
    date_to: date | None


class SearchTrial(BaseModel):
    """One hyper-parameter candidate tried on the validation period."""

    params: dict[str, Any]
    best_iteration: int
    objective: float
    auc: float | None
    precision_at: dict[str, float | None]
    seconds: float


class ModelMetadata(BaseModel):
    """Everything needed to trust and reproduce a model artifact."""

    model_id: str
    created_at: datetime
    office: str | None = None
    mapping: str | None = None
    lightgbm_version: str
    features: list[str]
    categorical_features: list[str]
    params: dict[str, Any]
    best_iteration: int
    training: DataSummary
    validation: DataSummary | None = None
    validation_report: EvalReport | None = None
    search: list[SearchTrial] = Field(default_factory=list)
    history_policy: str = "frozen"
    notes: list[str] = Field(default_factory=list)
    train_seconds: float | None = None


# --------------------------------------------------------------------------- assessments


class Contribution(BaseModel):
    """One reason the model scored a declaration as it did."""

    feature: str
    contribution: float = Field(description="log-odds added to the base score")
    text: str


class FiredCriterion(BaseModel):
    """A criterion (or value control) that matched, and whether its percentage draw selected it."""

    name: str
    lane: Lane
    description: str
    selected: bool


class Assessment(BaseModel):
    """The lane given to one declaration and why."""

    declaration_id: str
    lane: Lane
    source: Literal["default", "criterion", "random", "model", "exploration"]
    score: float | None = None
    model_id: str | None = None
    profile_office: str | None = None
    profile_version: int | None = None
    fired: list[FiredCriterion] = Field(default_factory=list)
    explanation: list[Contribution] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)


EvalReport.model_rebuild()
