"""What a job is: parameters, one SQL text both engines run, its cells and its chart."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from silkgate.core.errors import FieldError


class Kind(StrEnum):
    """Parameter kinds; each has one check in ``params`` and one way to become an SQL literal."""

    DATE = "date"  # YYYY-MM-DD
    HS = "hs"  # a chapter (2 digits), heading (4) or subheading (6) in the nomenclature
    COUNTRY = "country"  # ISO 3166-1 alpha-2
    CROSSING = "crossing"  # a crossing code from the crossings code list
    INT = "int"
    FLOAT = "float"
    CHOICE = "choice"
    TEXT = "text"  # matched exactly, e.g. a model id (printable, at most 128 characters)


@dataclass(frozen=True)
class Param:
    """One parameter an analyst may set. ``default`` None with ``required`` False: no filter."""

    name: str
    kind: Kind
    description: str
    default: Any = None
    required: bool = False
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class Chart:
    """How the job's result is drawn: ``x`` along the axis, one line or bar group per ``series``
    value (columns joined), ``y`` the measure; ``kind`` line or bar."""

    x: str
    y: str
    series: tuple[str, ...] = ()
    kind: str = "line"
    title: str = ""
    top: int = 8  # series drawn (largest by total ``y``); the rest are named in the legend note


@dataclass(frozen=True)
class Job:
    """A named analysis.

    ``sql`` is one text for every engine: ``{name}`` placeholders are replaced by the checked
    parameters as SQL literals (and ``{compute_country}``, ``{home_country}``,
    ``{min_cell_size}`` by the run), never by raw text. It reads the views ``<dataset>`` (each
    record's latest version), ``<dataset>_all`` and ``lanes_current`` (``lake.current_sql``),
    restricted to the partitions the run may read. ``datasets``: the views it reads (residency
    is decided for these). ``cells``: output columns counting the declarations, traders or
    trucks a row describes; a row holding data not the reader's own (column ``foreign_data`` =
    1: any country's but ``{home_country}``) with any of them below the minimum cell size is
    suppressed. ``foreign_cells``: columns counting the units of the row's part that is not
    the reader's own, for jobs whose rows may mix both (the reader knows its own part and could
    subtract it); held to the same rule, then dropped from the result. ``keys``: columns that
    identify a row (the result is ordered by them). ``checks``: tests across parameters (e.g.
    two countries that must differ), run on the typed values once each parameter is valid on
    its own; each returns the problems it found.
    """

    name: str
    title: str
    description: str
    sql: str
    datasets: tuple[str, ...]
    keys: tuple[str, ...]
    cells: tuple[str, ...]
    params: tuple[Param, ...] = ()
    chart: Chart | None = None
    standard: bool = True  # part of ``silkgate analytics report``
    notes: tuple[str, ...] = field(default=())
    #: (dataset, agreement category) pairs that must ALSO allow a partition beyond the
    #: dataset's own category (``lanes`` is ``risk_lane``; a job reading its scores needs
    #: ``risk_score`` too).
    also_governed_by: tuple[tuple[str, str], ...] = ()
    checks: tuple[Callable[[Mapping[str, Any]], list[FieldError]], ...] = ()
    foreign_cells: tuple[str, ...] = ()

    def param(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)
