"""`silkgate analytics report`: every standard job run once, written as one self-contained HTML
file (inline SVG charts, no external resources) an analyst can open anywhere.

A job that fails is shown as failed with its error, never left out. Job output is data: every
cell, parameter, reason and error is escaped; only the charts (drawn here) are inlined as SVG.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from silkgate.analytics.jobs import charts, output
from silkgate.analytics.jobs.catalogue import JOBS
from silkgate.analytics.jobs.spec import Job
from silkgate.analytics.lake import load_manifest
from silkgate.core.errors import FieldError, ValidationFailed

if TYPE_CHECKING:
    from silkgate.analytics.jobs.service import Request, Result
    from silkgate.core.platform import Platform

#: Rows of each job's table shown in the report (the total is always given).
REPORT_ROWS = 25
STATUS_OK, STATUS_FAILED = "ok", "failed"


@dataclass
class Section:
    """One job in the report: its run, its chart, or why either failed."""

    job: Job
    request: Request | None = None
    result: Result | None = None
    chart_svg: str | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return STATUS_FAILED if self.errors else STATUS_OK


@dataclass
class Lake:
    """What the lake held when the report was made: per dataset, its watermark and last run."""

    path: Path
    datasets: dict[str, tuple[str | None, str | None]]


@dataclass
class Report:
    generated_at: dt.datetime
    compute_country: str
    engine: str
    lake: Lake
    sections: list[Section]

    @property
    def failed(self) -> list[Section]:
        return [s for s in self.sections if s.errors]


def standard_jobs() -> list[Job]:
    return [j for j in JOBS.values() if j.standard]


def _date(name: str, value: str | None) -> tuple[dt.date | None, FieldError | None]:
    if value is None or value == "":
        return None, None
    try:
        return dt.date.fromisoformat(value.strip()), None
    except ValueError:
        return None, FieldError(
            f"/params/{name}", "bad_date", f"{value!r} is not a YYYY-MM-DD date"
        )


def check(
    since: str | None, until: str | None, engine: str, compute_country: str | None
) -> list[Request]:
    """One checked request per standard job (default parameters, plus since/until where the
    job has them), or every problem at once as ``ValidationFailed``."""
    from silkgate.analytics.jobs import service

    first, bad_since = _date("since", since)
    last, bad_until = _date("until", until)
    errors = [e for e in (bad_since, bad_until) if e]
    if first and last and last < first:
        errors.append(
            FieldError("/params/until", "inverted_range", f"until {last} is before since {first}")
        )
    requests = []
    for job in standard_jobs():
        names = {p.name for p in job.params}
        given = {k: v for k, v in (("since", first), ("until", last)) if v and k in names}
        try:
            requests.append(service.check(job.name, given, engine, compute_country))
        except ValidationFailed as exc:
            errors.extend(e for e in exc.errors if e not in errors)
    if errors:
        raise ValidationFailed(errors)
    return requests


def lake_state(lake: Path, datasets: list[str]) -> Lake:
    """Each dataset's watermark (last change exported) and when its last export finished."""
    state: dict[str, tuple[str | None, str | None]] = {}
    for name in datasets:
        m = load_manifest(lake, name)
        finished = m.runs[-1].get("finished_at") if m.runs else None
        state[name] = (m.watermark.marker if m.watermark else None, finished)
    return Lake(lake, state)


def build(
    requests: list[Request],
    run: Callable[[Request], Result],
    lake: Path,
    compute_country: str,
    engine: str,
    now: dt.datetime,
) -> Report:
    """Run every request with ``run``; a failure is kept with its error, and the rest go on."""
    sections = []
    for request in requests:
        section = Section(request.job, request)
        try:
            section.result = run(request)
        except Exception as exc:  # a failed job is shown in the report, not raised
            section.errors.append(f"the run failed: {type(exc).__name__}: {exc}")
        if section.result is not None and request.job.chart is not None:
            try:
                svg = charts.render(request.job, section.result, "svg").decode()
                section.chart_svg = svg[svg.index("<svg") :]
            except Exception as exc:
                section.errors.append(f"the chart failed: {type(exc).__name__}: {exc}")
        sections.append(section)
    datasets = sorted({d for r in requests for d in r.job.datasets})
    return Report(now, compute_country, engine, lake_state(lake, datasets), sections)


def publish(
    platform: Platform,
    requests: list[Request],
    out: Path,
    compute_country: str | None = None,
    engine: str = "duckdb",
) -> Report:
    """Run checked requests against the platform's lake and write the HTML report to ``out``
    (in one rename: a reader never sees half a report)."""
    from silkgate.analytics.jobs import service

    built = build(
        requests,
        lambda r: service.run(platform, r),
        platform.settings.lake_dir,
        compute_country or platform.settings.analytics_compute_country,
        engine,
        platform.clock(),
    )
    output.write_atomically(out, html_of(built).encode())
    return built


def summary(report: Report, out: Path) -> dict[str, Any]:
    """What ``--json`` prints: where the report went and how each job fared."""
    jobs = []
    for s in report.sections:
        run = s.result.run if s.result else None
        jobs.append(
            {
                "job": s.job.name,
                "title": s.job.title,
                "status": s.status,
                "errors": s.errors,
                "row_count": run.row_count if run else None,
                "suppressed_cells": run.suppressed_cells if run else None,
                "excluded_partitions": sum(e.partitions for e in run.exclusions) if run else None,
                "chart": s.chart_svg is not None,
            }
        )
    return {
        "out": str(out),
        "generated_at": report.generated_at.isoformat(),
        "compute_country": report.compute_country,
        "engine": report.engine,
        "failed": len(report.failed),
        "jobs": jobs,
    }


# --------------------------------------------------------------------------- HTML


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;
max-width:1200px;padding:0 1rem;color:#222;line-height:1.45}
h1{margin-bottom:.2rem}h2{margin-top:2.5rem;border-bottom:2px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.85rem}
th,td{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#666}.failed h2{color:#b00020}.error{background:#fde8ea;border-left:4px solid #b00020;
padding:.5rem 1rem;white-space:pre-wrap}.ok{color:#1b7a35}.bad{color:#b00020;font-weight:bold}
figure{margin:1rem 0}figure svg{max-width:100%;height:auto}.scroll{overflow-x:auto}
code{background:#f4f4f4;padding:0 .2rem}
"""


def html_of(report: Report) -> str:
    """The whole report as one HTML document."""
    at = report.generated_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    failed = len(report.failed)
    state = (
        f'<span class="bad">{failed} failed</span>' if failed else '<span class="ok">all ran</span>'
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>Silkgate analytics report</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>Silkgate analytics report</h1>",
        f'<p class="muted">Generated {_e(at)} · computed in {_e(report.compute_country)} · '
        f"engine {_e(report.engine)} · {len(report.sections)} standard job(s), {state}</p>",
        _lake_html(report.lake),
        _contents(report),
        *(_section(s) for s in report.sections),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _lake_html(lake: Lake) -> str:
    rows = "".join(
        f"<tr><td>{_e(name)}</td><td>{_e(mark or 'nothing exported yet')}</td>"
        f"<td>{_e(done or '—')}</td></tr>"
        for name, (mark, done) in lake.datasets.items()
    )
    return (
        f"<h2>Lake</h2><p>{_e(lake.path)}</p><table><tr><th>dataset</th>"
        "<th>watermark (last change exported)</th><th>last export finished</th></tr>"
        f"{rows}</table>"
    )


def _contents(report: Report) -> str:
    items = []
    for s in report.sections:
        mark = '<span class="bad">failed</span>' if s.errors else '<span class="ok">ok</span>'
        rows = f", {s.result.run.row_count:,} rows" if s.result else ""
        items.append(
            f'<li><a href="#job-{_e(s.job.name)}">{_e(s.job.title)}</a> — {mark}{_e(rows)}</li>'
        )
    return f"<h2>Jobs</h2><ul>{''.join(items)}</ul>"


def _section(s: Section) -> str:
    job, run = s.job, s.result.run if s.result else None
    head = f"{_e(job.title)}{' — FAILED' if s.errors else ''}"
    out = [
        f'<section id="job-{_e(job.name)}" class="{s.status}">',
        f"<h2>{head}</h2>",
        f'<p class="muted">job <code>{_e(job.name)}</code> · reads {_e(", ".join(job.datasets))}'
        + (f" · {run.seconds:.2f} s on {_e(run.engine)}" if run else "")
        + "</p>",
        *(f'<div class="error">{_e(err)}</div>' for err in s.errors),
        f"<p>{_e(job.description)}</p>",
        *(f'<p class="muted">{_e(n)}</p>' for n in job.notes),
        _params_html(s),
    ]
    if run is not None and s.result is not None:
        out.append(_disclosure_html(run))
        if s.chart_svg:
            out.append(f"<figure>{s.chart_svg}</figure>")
        out.append(_rows_html(s.result))
    out.append("</section>")
    return "\n".join(out)


def _params_html(s: Section) -> str:
    if not s.job.params:
        return "<p>No parameters.</p>"
    values = s.result.run.params if s.result else {}
    if not values and s.request is not None:
        values = {k: output.json_value(v) for k, v in s.request.values.items()}
    shown = {k: "(all)" if v is None or v == "" else v for k, v in values.items()}
    rows = "".join(
        f"<tr><td><code>{_e(p.name)}</code></td><td>{_e(shown.get(p.name, '(all)'))}</td>"
        f"<td>{_e(p.description)}</td></tr>"
        for p in s.job.params
    )
    return (
        "<h3>Parameters</h3><table><tr><th>name</th><th>value</th><th>meaning</th></tr>"
        f"{rows}</table>"
    )


def _disclosure_html(run: Any) -> str:
    owners = ", ".join(run.foreign_owners) or "none"
    out = [
        "<h3>What was read, left out and suppressed</h3>",
        f"<p>Computed in {_e(run.compute_country)}; other countries' data read under agreements: "
        f"{_e(owners)}.</p>",
    ]
    if run.exclusions:
        rows = "".join(
            f"<tr><td>{_e(x.dataset)}</td><td>{_e(x.owner_country)}</td><td>{_e(x.crossing)}</td>"
            f'<td class="n">{x.partitions:,}</td><td class="n">{_count(x.rows)}</td>'
            f"<td>{_e(x.reason)}</td></tr>"
            for x in run.exclusions
        )
        out.append(
            "<p>Left out (no agreement lets these partitions be processed here):</p><table>"
            "<tr><th>dataset</th><th>owner</th><th>crossing</th><th>partitions</th><th>rows</th>"
            f"<th>reason</th></tr>{rows}</table>"
        )
    else:
        out.append("<p>Nothing was left out.</p>")
    out.append(
        f"<p>Suppressed: {run.suppressed_cells:,} row(s) of data not the reader's own that "
        f"described fewer than {run.min_cell_size} declarations, traders or trucks, in all or "
        f"in the part that is another country's (minimum cell size {run.min_cell_size}).</p>"
    )
    return "\n".join(out)


def _rows_html(result: Result) -> str:
    table = result.table
    total = table.num_rows
    if not total:
        return "<h3>Rows</h3><p>No rows.</p>"
    shown = table.slice(0, REPORT_ROWS).to_pylist()
    head = "".join(f"<th>{_e(c)}</th>" for c in table.column_names)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{_e(output.cell_text(v))}</td>'
            if isinstance(v, int | float) and not isinstance(v, bool)
            else f"<td>{_e(output.cell_text(v))}</td>"
            for v in row.values()
        )
        + "</tr>"
        for row in shown
    )
    which = (
        f"All {total:,} rows" if total <= REPORT_ROWS else f"First {len(shown)} of {total:,} rows"
    )
    return (
        f'<h3>Rows</h3><p>{which}.</p><div class="scroll"><table><tr>{head}</tr>{body}'
        "</table></div>"
    )


def _count(n: int | None) -> str:
    """A count with thousands separators; a dash for one not told."""
    return "—" if n is None else f"{n:,}"
