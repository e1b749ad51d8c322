"""A job's chart from its ``Chart`` spec, as PNG or SVG (matplotlib, Agg renderer, no display).

One line or bar group per series (the ``series`` columns joined with " / "); the ``top``
series by total ``y`` are drawn and the rest named in a note under the chart, as are rows
without a value, values summed over key columns the chart does not show, partitions left out
by residency and suppressed cells. No rows: a chart that says "No data". Chart text is
English ASCII; data values (codes) are drawn as they are.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import textwrap
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from silkgate.analytics.jobs.output import json_value
from silkgate.analytics.jobs.spec import Chart, Job

if TYPE_CHECKING:
    import pyarrow as pa

    from silkgate.analytics.jobs.schemas import JobRun
    from silkgate.analytics.jobs.service import Result

FORMATS = ("png", "svg")
KINDS = ("line", "bar")
MEDIA_TYPES = {"png": "image/png", "svg": "image/svg+xml"}
#: Series left out of the drawing are named up to this many, then counted.
NAMED_IN_NOTE = 12
#: At most this many category labels along the x axis (every k-th shown beyond).
X_LABELS = 24
#: Column-name endings that carry a unit: ``net_mass_kg`` is drawn as "net mass (kg)".
UNITS = (
    ("_kg", "kg"),
    ("_tonnes", "t"),
    ("_seconds", "seconds"),
    ("_minutes", "minutes"),
    ("_hours", "hours"),
    ("_days", "days"),
    ("_pct", "%"),
    ("_percent", "%"),
)
# matplotlib's settings are process-wide; a chart is drawn under this lock with its own.
_LOCK = threading.Lock()


class ChartMissing(LookupError):
    """The job has no chart spec."""


@dataclass
class Series:
    name: str
    points: dict[Any, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(self.points.values())


@dataclass
class Drawing:
    """What will be drawn, worked out before matplotlib is touched (tests read it directly)."""

    series: list[Series]
    xs: list[Any]
    x_kind: str  # "number", "time" or "category"
    notes: list[str]


def label(column: str, table: pa.Table | None = None) -> str:
    """An axis label from a column name, with its unit where the name or the table tells it."""
    for suffix, unit in UNITS:
        if column.endswith(suffix) and len(column) > len(suffix):
            return f"{column[: -len(suffix)].replace('_', ' ')} ({unit})"
    words = column.replace("_", " ")
    money = column == "value" or column.endswith("_value")
    if money and table is not None and "currency" in table.column_names:
        currencies = sorted({str(c) for c in table["currency"].to_pylist() if c is not None})
        if len(currencies) == 1:
            return f"{words} ({currencies[0]})"
        return f"{words} (invoice currency, not converted)"
    return words


def plan(job: Job, table: pa.Table) -> Drawing:
    """Series, x values and notes of the job's chart over ``table``."""
    spec = job.chart
    if spec is None:
        raise ChartMissing(f"job {job.name} has no chart")
    if spec.kind not in KINDS:
        raise ValueError(f"job {job.name}'s chart kind {spec.kind!r}: choose line or bar")
    wanted = [spec.x, spec.y, *spec.series]
    missing = [c for c in wanted if c not in table.column_names]
    if missing:
        raise ValueError(f"job {job.name}'s chart names columns it does not return: {missing}")
    notes: list[str] = []
    by_name: dict[str, Series] = {}
    summed: set[tuple[str, Any]] = set()
    seen: set[tuple[str, Any]] = set()
    unusable = 0
    for row in table.select(wanted).to_pylist():
        x, y = row[spec.x], json_value(row[spec.y])
        x = x if isinstance(x, dt.date) else json_value(x)  # dates stay dates for a time axis
        if x is None or y is None or isinstance(y, str | bool):
            unusable += 1
            continue
        name = " / ".join("(none)" if row[c] is None else str(row[c]) for c in spec.series)
        s = by_name.setdefault(name or spec.y, Series(name or spec.y))
        if (s.name, x) in seen:
            summed.add((s.name, x))
        seen.add((s.name, x))
        s.points[x] = s.points.get(x, 0.0) + float(y)
    if unusable:
        notes.append(f"{unusable} row(s) without a {spec.x} or a numeric {spec.y} are not drawn.")
    if summed:
        hidden = [k for k in job.keys if k not in (spec.x, *spec.series)]
        over = ", ".join(hidden) or "rows with the same key"
        notes.append(f"{spec.y} is summed over {over} ({len(summed)} point(s) add up rows).")
    ranked = sorted(by_name.values(), key=lambda s: (-s.total, s.name))
    drawn, rest = ranked[: spec.top], ranked[spec.top :]
    if rest:
        named = ", ".join(s.name for s in rest[:NAMED_IN_NOTE])
        more = f" and {len(rest) - NAMED_IN_NOTE} more" if len(rest) > NAMED_IN_NOTE else ""
        notes.append(
            f"Not drawn: {len(rest)} smaller series (by total {spec.y}): {named}{more}; "
            "the table holds every row."
        )
    xs = sorted({x for s in drawn for x in s.points}, key=_sort_key)
    return Drawing(drawn, xs, _x_kind(xs, spec), notes)


def _sort_key(x: Any) -> tuple[int, Any]:
    if isinstance(x, int | float):
        return (0, x)
    if isinstance(x, dt.datetime):
        return (1, x.timestamp())
    if isinstance(x, dt.date):
        return (1, x.toordinal())
    return (2, str(x))


def _x_kind(xs: Sequence[Any], spec: Chart) -> str:
    if spec.kind == "bar" or not xs:
        return "category"
    if all(isinstance(x, int | float) for x in xs):
        return "number"
    if all(isinstance(x, dt.date) for x in xs):
        return "time"
    return "category"


def run_notes(run: JobRun | None) -> list[str]:
    """What residency and cell suppression left out of the run, in a line each."""
    if run is None:
        return []
    notes = []
    if run.exclusions:
        parts = sum(e.partitions for e in run.exclusions)
        counts = [e.rows for e in run.exclusions]
        rows = f", {sum(c for c in counts if c is not None)} row(s)" if None not in counts else ""
        owners = ", ".join(sorted({e.owner_country for e in run.exclusions}))
        reasons = "; ".join(sorted({e.reason for e in run.exclusions}))
        notes.append(f"Left out: {parts} partition(s){rows} of {owners} data ({reasons}).")
    if run.suppressed_cells:
        notes.append(
            f"Suppressed: {run.suppressed_cells} row(s) of data not the reader's own describing "
            f"fewer than {run.min_cell_size} declarations, traders or trucks (in all or in "
            "another country's part)."
        )
    return notes


def subtitle(job: Job, run: JobRun | None) -> str:
    """The parameters that differ from their defaults, or "default parameters"."""
    if run is None:
        return ""
    defaults = {p.name: json_value(p.default) for p in job.params}
    changed = [f"{k}={v}" for k, v in run.params.items() if v is not None and v != defaults.get(k)]
    where = f"computed in {run.compute_country}"
    return f"{', '.join(changed) or 'default parameters'}; {where}"


def render(job: Job, result: Result, fmt: str) -> bytes:
    """The job's chart of ``result`` as PNG or SVG bytes."""
    if fmt not in FORMATS:
        raise ValueError(f"chart format {fmt!r}: choose png or svg")
    drawing = plan(job, result.table)
    notes = drawing.notes + run_notes(result.run)
    assert job.chart is not None  # plan() refused a job without one
    with _LOCK:
        return _draw(job, job.chart, drawing, notes, result, fmt)


def _draw(
    job: Job, spec: Chart, drawing: Drawing, notes: list[str], result: Result, fmt: str
) -> bytes:
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    with matplotlib.rc_context(
        {
            "svg.fonttype": "none",  # text stays text: smaller, searchable, any script in browsers
            "svg.hashsalt": f"silkgate-{job.name}",  # stable ids, distinct between inlined charts
            "text.parse_math": False,  # a '$' in a code is a dollar sign, not mathtext
            "font.size": 10,
        }
    ):
        fig = Figure(figsize=(11, 5.8), dpi=110, layout="constrained")
        ax = fig.add_subplot()
        fig.suptitle(spec.title or job.title, fontsize=13, fontweight="bold")
        ax.set_title(subtitle(job, result.run), fontsize=9, color="#555555")
        if not drawing.series:
            ax.text(0.5, 0.5, "No data", ha="center", va="center", fontsize=20, color="#777777")
            rows = result.table.num_rows
            why = f"none of its {rows} row(s) has a value to draw" if rows else "no rows"
            ax.text(0.5, 0.38, f"the run returned {why}", ha="center", color="#777777")
            ax.set_xticks([])
            ax.set_yticks([])
        else:
            _plot(ax, spec, drawing)
            ax.set_xlabel(label(spec.x, result.table))
            ax.set_ylabel(label(spec.y, result.table))
            ax.grid(True, axis="y", color="#dddddd")
            ax.set_axisbelow(True)
            if max(abs(v) for s in drawing.series for v in s.points.values()) >= 1000:
                ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
            if spec.series:
                title = " / ".join(spec.series)
                fig.legend(loc="outside right upper", title=title, fontsize=8, frameon=False)
        if notes:
            wrapped = "\n".join(textwrap.fill(n, 150) for n in notes)
            fig.text(0.01, -0.01, wrapped, ha="left", va="top", fontsize=8, color="#333333")
        buf = io.BytesIO()
        meta = {"Date": None} if fmt == "svg" else {}
        fig.savefig(buf, format=fmt, bbox_inches="tight", metadata=meta)
    return buf.getvalue()


def _plot(ax: Any, spec: Chart, drawing: Drawing) -> None:
    n = len(drawing.series)
    colors = _colors(n)
    if drawing.x_kind == "category":
        pos = {x: i for i, x in enumerate(drawing.xs)}
        if spec.kind == "bar":
            width = 0.8 / n
            for i, s in enumerate(drawing.series):
                at = [pos[x] - 0.4 + width * (i + 0.5) for x in s.points]
                ax.bar(at, list(s.points.values()), width, label=s.name, color=colors[i])
        else:
            for i, s in enumerate(drawing.series):
                xs = sorted(s.points, key=_sort_key)
                ax.plot([pos[x] for x in xs], [s.points[x] for x in xs], marker="o",
                        markersize=3, label=s.name, color=colors[i])  # fmt: skip
        step = max(1, math.ceil(len(drawing.xs) / X_LABELS))
        ticks = list(range(0, len(drawing.xs), step))
        ax.set_xticks(ticks, [str(drawing.xs[i]) for i in ticks])
        if any(len(str(x)) > 6 for x in drawing.xs) or len(ticks) > 12:
            for tick in ax.get_xticklabels():
                tick.set(rotation=45, ha="right", rotation_mode="anchor")
        return
    for i, s in enumerate(drawing.series):
        xs = sorted(s.points, key=_sort_key)
        ax.plot(xs, [s.points[x] for x in xs], marker="o", markersize=3, label=s.name,
                color=colors[i])  # fmt: skip


def _colors(n: int) -> list[Any]:
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]
