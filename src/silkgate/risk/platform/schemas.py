"""API shapes of the risk engine on the platform: assessments, overrides, inspections, profiles."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints

from silkgate.core.text import NoControls
from silkgate.core.times import Utc
from silkgate.risk.selectivity.schemas import Lane

Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=500),
    NoControls(multiline=True),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class FiredOut(BaseModel):
    """A criterion (or the value control) that matched; ``selected``: its draw chose it."""

    name: str
    lane: Lane
    description: str
    selected: bool
    items: list[int] = Field(description="goods item numbers it matched")


class ContributionOut(BaseModel):
    """One of the model's top reasons, in log-odds and in words."""

    feature: str
    contribution: float
    text: str
    item: int | None = Field(default=None, description="goods item, for multi-item declarations")


class LaneOverrideIn(_Strict):
    """An officer's decision to use another lane than the assessed one."""

    lane: Lane
    reason: Reason


class LaneOverrideOut(BaseModel):
    lane: Lane
    reason: str
    by: str
    at: Utc


class AssessmentOut(BaseModel):
    """The risk assessment of the current version of a declaration (lodging customs only)."""

    declaration_id: str
    version: int
    office: str
    direction: str
    lane: Lane = Field(description="the lane in force: the override's, else the assessed one")
    assessed_lane: Lane
    source: str = Field(description="default, criterion, random, model or exploration")
    score: float | None = Field(description="model risk score (probability of a discrepancy)")
    model_id: str | None
    profile_version: int | None = Field(description="null: the built-in default profile")
    fired: list[FiredOut]
    explanation: list[ContributionOut]
    reasons: list[str]
    assessed_at: Utc
    override: LaneOverrideOut | None = None


class SharedAssessment(BaseModel):
    """A risk assessment read under agreements (categories ``risk_lane`` and ``risk_score``):
    only the fields they allow are present."""

    declaration_id: str | None = None
    version: int | None = None
    office: str | None = None
    direction: str | None = None
    lane: Lane | None = None
    assessed_lane: Lane | None = None
    source: str | None = None
    score: float | None = None
    model_id: str | None = None
    profile_version: int | None = None
    fired: list[dict[str, Any]] | None = None
    explanation: list[dict[str, Any]] | None = None
    reasons: list[str] | None = None
    assessed_at: Utc | None = None
    override: dict[str, Any] | None = None


class FindingKind(StrEnum):
    """What kind of discrepancy an inspection found."""

    MISDESCRIBED_GOODS = "misdescribed_goods"
    CLASSIFICATION = "classification"
    UNDERVALUATION = "undervaluation"
    QUANTITY = "quantity"
    ORIGIN = "origin"
    PROHIBITED_OR_RESTRICTED = "prohibited_or_restricted"
    DOCUMENTS = "documents"
    CONCEALMENT = "concealment"
    OTHER = "other"


class Finding(_Strict):
    kind: FindingKind
    text: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=1000),
        NoControls(multiline=True),
    ]
    item: Annotated[int, Strict()] | None = Field(
        default=None, ge=1, le=999, description="goods item number, if one"
    )


class Duties(_Strict):
    amount: Annotated[float, Strict()] = Field(ge=0, le=1e14, allow_inf_nan=False)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"), NoControls()]


class InspectionIn(_Strict):
    """The outcome of an inspection, recorded by customs of the lodging side."""

    outcome: Literal["no_discrepancy", "discrepancy"]
    findings: list[Finding] = Field(default_factory=list, max_length=100)
    additional_duties: Duties | None = None
    note: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, max_length=4000),
            NoControls(multiline=True),
        ]
        | None
    ) = None


class InspectionOut(BaseModel):
    declaration_id: str
    version: int
    office: str
    outcome: str
    findings: list[Finding]
    additional_duties: Duties | None
    note: str | None
    recorded_at: Utc
    recorded_by: str


class SharedInspection(BaseModel):
    """An inspection result read under an ``inspection_result`` agreement: only the fields it
    allows are present."""

    declaration_id: str | None = None
    version: int | None = None
    office: str | None = None
    outcome: str | None = None
    findings: list[dict[str, Any]] | None = None
    additional_duties: dict[str, Any] | None = None
    note: str | None = None
    recorded_at: Utc | None = None
    recorded_by: str | None = None


class ProfileOut(BaseModel):
    """A stored profile version (or the built-in default where none is saved)."""

    office: str
    direction: str
    version: int | None = Field(description="null for the built-in default")
    builtin: bool
    created_at: Utc | None
    created_by: str | None
    digest: str | None
    profile: dict[str, Any]


class ProfileVersionOut(BaseModel):
    office: str
    direction: str
    version: int
    created_at: Utc
    created_by: str
    digest: str
    criteria: int
