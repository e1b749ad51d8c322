"""API shapes of analytics jobs: the catalogue, a run's request, and its answer."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Engine = Literal["duckdb", "spark"]


class ParamInfo(BaseModel):
    name: str
    kind: str
    description: str
    default: Any = None
    required: bool = False
    choices: list[str] = []


class JobInfo(BaseModel):
    """A job as the catalogue shows it to analysts."""

    name: str
    title: str
    description: str
    datasets: list[str]
    keys: list[str]
    cells: list[str]
    params: list[ParamInfo]
    notes: list[str] = []


class Exclusion(BaseModel):
    """Partitions a run left out because no agreement lets them be processed where it runs."""

    dataset: str
    owner_country: str
    crossing: str
    partitions: int
    rows: int | None = Field(
        description="Rows left out; null to a reader other than the platform or the data's "
        "owner (how much data another country holds is not told to those it was not shared with)"
    )
    reason: str


class RunRequest(BaseModel):
    """``POST /analytics/jobs/{name}/runs``: parameters (strings or JSON values) and engine."""

    model_config = ConfigDict(extra="forbid")

    params: dict[str, Any] = Field(default_factory=dict)
    engine: Engine = "duckdb"


class JobRun(BaseModel):
    """A run's answer: what was asked, where it ran, what it read, left out and suppressed."""

    job: str
    title: str
    engine: Engine
    compute_country: str
    params: dict[str, Any]
    columns: list[str]
    rows: list[dict[str, Any]]
    row_count: int
    exclusions: list[Exclusion]
    foreign_owners: list[str]
    min_cell_size: int
    suppressed_cells: int = Field(
        description="Rows of data not the reader's own (another country's; to a reader other "
        "than a country's customs, that country's too) that described fewer than "
        "min_cell_size declarations, traders or trucks, in all or in the part that is another "
        "country's (a row pooling the reader's own data with it): left out of ``rows``."
    )
    seconds: float
    lake: str | None = Field(description="The lake read (a local path; left out by the API).")
