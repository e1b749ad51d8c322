"""Analyst pages: the analytics jobs, a job's form, its result (table, left-out partitions,
suppressed cells, chart) and its downloads. Who may run jobs, where they compute and what
they may read are decided by the analytics service under the API's own rule (``RUNNERS``,
the installation's compute country, the organization's agreements); runs are made with the
organization's ``Caller`` inside ``acting(login)``. The twin's pages: ``analyst_twin.py``."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from babel.numbers import format_decimal
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from silkgate.analytics.jobs import charts, output, service
from silkgate.analytics.jobs.catalogue import JOBS
from silkgate.analytics.jobs.params import EARLIEST, LATEST
from silkgate.analytics.jobs.spec import Job, Kind, Param
from silkgate.codelists.crossings import load_crossings
from silkgate.console import analyst_labels as words
from silkgate.console import service as console
from silkgate.console.pages import PREFIX, Page, page
from silkgate.console.queue_board import crossing_name
from silkgate.console.web import refuse_csrf
from silkgate.core.errors import FieldError, ValidationFailed

router = APIRouter(prefix=PREFIX, include_in_schema=False)
JobName = Path(pattern=r"^[a-z][a-z0-9_]{0,63}$")
#: Rows shown on the page; the downloads hold every row.
SHOWN_ROWS = 200
#: A form value is cut to this many characters before it is checked.
VALUE_MAX = 200
DOWNLOADS = ("csv", "json", "parquet")
NO_BOUND = (EARLIEST, LATEST)
NOT_EXPORTED = words.N_(
    "Nothing of what this job reads has been exported to the analytics lake yet, so it has "
    "no rows to compute. An administrator runs the export (silkgate analytics export)."
)


def analyst_person(p: Page) -> console.Person | Response:
    """The signed-in person of an organization that runs analytics, else the refusal page."""
    person = p.person
    if person is None:
        return p.sign_in_first()
    if not person.is_analyst:
        return p.error(403, p.gettext("Your role does not allow this page."))
    return person


def job_title(p: Page, job: Job) -> str:
    return p.gettext(words.JOB_TITLES[job.name]) if job.name in words.JOB_TITLES else job.title


@dataclass
class Input:
    """One parameter as the form shows it."""

    name: str
    label: str
    hint: str  # the service's description (English)
    kind: str  # "date", "select" or "text"
    value: str
    choices: list[tuple[str, str]] = field(default_factory=list)
    numeric: bool = False
    optional_choice: bool = False  # a select with an empty "any" option


def _default(param: Param) -> str:
    value = param.default
    if value is None or value in NO_BOUND:
        return ""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _inputs(p: Page, job: Job, given: Mapping[str, str]) -> list[Input]:
    out = []
    for param in job.params:
        value = given.get(param.name, _default(param))
        label = words.PARAMS.get(param.name)
        choices: list[tuple[str, str]] = []
        kind = "text"
        if param.kind is Kind.DATE:
            kind = "date"
        elif param.kind is Kind.CHOICE:
            kind = "select"
            choices = [(c, p.gettext(words.CHOICES[c]) if c in words.CHOICES else c)
                       for c in param.choices]  # fmt: skip
        elif param.kind is Kind.CROSSING:
            kind = "select"
            choices = [(c.code, f"{crossing_name(c, p.language)} ({c.code})")
                       for c in load_crossings()]  # fmt: skip
        out.append(
            Input(
                name=param.name,
                label=p.gettext(label) if label else param.name,
                hint=param.description,
                kind=kind,
                value=value,
                choices=choices,
                numeric=param.kind in (Kind.INT, Kind.FLOAT),
                optional_choice=kind == "select" and param.default is None,
            )
        )
    return out


def given_values(job: Job, source: Mapping[str, str]) -> dict[str, str]:
    """The job's parameters from a form or query string: trimmed, empty ones left out (their
    defaults apply), decimal commas read as points; other names are not the job's."""
    out = {}
    for param in job.params:
        raw = source.get(param.name)
        text = str(raw).strip()[:VALUE_MAX] if raw is not None else ""
        if param.kind in (Kind.INT, Kind.FLOAT):
            text = text.replace(",", ".").replace(" ", "").replace("\xa0", "")
        if text:
            out[param.name] = text
    return out


def _bound(p: Page, value: float | None) -> str:
    return "" if value is None else p.fmt.number(int(value) if value == int(value) else value)


def param_errors(p: Page, job: Job, exc: ValidationFailed) -> dict[str, str]:
    """Errors by parameter name (from ``/params/<name>``) in the page's language; an error of
    no parameter under ``_form``."""
    out: dict[str, str] = {}
    for e in exc.errors:
        pointer = e.field or ""
        name = pointer.removeprefix("/params/") if pointer.startswith("/params/") else "_form"
        out.setdefault(name, _message(p, job, name, e))
    if not out:
        out["_form"] = exc.detail
    return out


def _message(p: Page, job: Job, name: str, e: FieldError) -> str:
    text = words.ERRORS.get(e.code)
    if text is None:
        return e.message
    param = next((x for x in job.params if x.name == name), None)
    bounds = {
        "min": _bound(p, param.minimum if param else None),
        "max": _bound(p, param.maximum if param else None),
    }
    return p.gettext(text) % bounds if "%(" in text else p.gettext(text)


def cell(p: Page, value: Any) -> str:
    """A result cell in the page's language: numbers grouped, dates as the locale writes them."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "✓" if value else "—"
    if isinstance(value, int):
        return p.fmt.number(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return ""
        pattern = "#,##0.##" if abs(value) >= 1 else "#,##0.####"
        return str(format_decimal(value, format=pattern, locale=p.language))
    if isinstance(value, dt.datetime):
        return p.fmt.datetime(value)
    if isinstance(value, dt.date):
        return p.fmt.day(value)
    return str(output.json_value(value))


@dataclass
class Shown:
    """A run as the page shows it."""

    result: service.Result
    columns: list[str]
    rows: list[list[tuple[str, bool]]]  # (text, numeric) per cell
    chart: str | None  # a data: URI of the SVG
    downloads: dict[str, str]


def _shown(p: Page, job: Job, result: service.Result, given: Mapping[str, str]) -> Shown:
    table = result.table
    head = table.slice(0, SHOWN_ROWS).to_pylist()
    rows = [
        [(cell(p, v), isinstance(v, int | float) and not isinstance(v, bool)) for v in r.values()]
        for r in head
    ]
    chart = None
    if job.chart is not None:
        svg = charts.render(job, result, "svg")
        chart = "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")
    query = f"?{urlencode(given)}" if given else ""
    links = {f: f"{PREFIX}/analytics/{job.name}/download.{f}{query}" for f in DOWNLOADS}
    return Shown(result, table.column_names, rows, chart, links)


def _job_page(
    p: Page,
    job: Job,
    given: Mapping[str, str],
    status: int = 200,
    errors: dict[str, str] | None = None,
    shown: Shown | None = None,
) -> Response:
    p.back = f"{PREFIX}/analytics/{job.name}"
    exported = service.exported(p.platform, job)
    return p.render(
        "analyst_job.html",
        status=status,
        title=job_title(p, job),
        section="analytics",
        job=job,
        summary=p.gettext(words.JOB_SUMMARIES[job.name]) if job.name in words.JOB_SUMMARIES else "",
        inputs=_inputs(p, job, given),
        errors=errors or {},
        exported=exported,
        not_exported=p.gettext(NOT_EXPORTED),
        shown=shown,
        shown_max=SHOWN_ROWS,
        compute_country=p.platform.settings.analytics_compute_country,
    )


@router.get("/analytics")
def jobs(p: Page = Depends(page)) -> Response:
    """The jobs the person's organization may run, each linking to its form."""
    person = analyst_person(p)
    if isinstance(person, Response):
        return person
    listed = [
        (j, job_title(p, j), p.gettext(words.JOB_SUMMARIES[j.name]) if j.name in words.JOB_SUMMARIES
         else j.description)
        for j in JOBS.values()
    ]  # fmt: skip
    return p.render(
        "analyst_jobs.html", title=p.gettext("Analytics"), section="analytics", listed=listed
    )


@router.get("/analytics/{name}")
def job_form(p: Page = Depends(page), name: str = JobName) -> Response:
    person = analyst_person(p)
    if isinstance(person, Response):
        return person
    if name not in JOBS:
        return p.error(404, p.gettext("Not found, or not yours to see."))
    return _job_page(p, JOBS[name], {})


async def form_values(request: Request) -> dict[str, str]:
    """The submitted form's text fields (files are not taken)."""
    form = await request.form(max_files=0, max_fields=100)
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _run(p: Page, person: console.Person, job: Job, given: Mapping[str, str]) -> service.Result:
    """Check and run the job as the person's organization (``ValidationFailed`` on bad input)."""
    request = service.check(job.name, dict(given), "duckdb")
    with console.as_person(person) as caller:
        result = service.run(p.platform, request, caller)
    result.run.lake = None  # the server's file system is not the reader's business
    return result


@router.post("/analytics/{name}")
def run_job(
    p: Page = Depends(page),
    name: str = JobName,
    form: dict[str, str] = Depends(form_values),
) -> Response:
    """Run the job with the form's parameters and show its result below the form."""
    if not p.csrf_ok(form.get("csrf_token")):
        return refuse_csrf(p)
    person = analyst_person(p)
    if isinstance(person, Response):
        return person
    if name not in JOBS:
        return p.error(404, p.gettext("Not found, or not yours to see."))
    job = JOBS[name]
    given = given_values(job, form)
    try:
        service.check(job.name, given, "duckdb")
    except ValidationFailed as exc:
        shown_given = {k: str(form.get(k, ""))[:VALUE_MAX] for k in (x.name for x in job.params)}
        return _job_page(p, job, shown_given, 422, param_errors(p, job, exc))
    if not service.exported(p.platform, job):
        return _job_page(p, job, given, 409)
    result = _run(p, person, job, given)
    return _job_page(p, job, given, shown=_shown(p, job, result, given))


@router.get("/analytics/{name}/download.{fmt}")
def download(
    request: Request,
    p: Page = Depends(page),
    name: str = JobName,
    fmt: str = Path(pattern=r"^(csv|json|parquet)$"),
) -> Response:
    """The run's rows as a file: the parameters in the query string, checked and run again."""
    person = analyst_person(p)
    if isinstance(person, Response):
        return person
    if name not in JOBS:
        return p.error(404, p.gettext("Not found, or not yours to see."))
    job = JOBS[name]
    query = dict(request.query_params)
    given = given_values(job, query)
    unknown = [k for k in query if k not in {x.name for x in job.params}]
    try:
        if unknown:
            raise ValidationFailed(
                [FieldError(f"/params/{k}", "unknown_param", k) for k in unknown]
            )
        service.check(job.name, given, "duckdb")
    except ValidationFailed as exc:
        return _job_page(p, job, given, 422, param_errors(p, job, exc))
    if not service.exported(p.platform, job):
        return p.error(409, p.gettext(NOT_EXPORTED))
    result = _run(p, person, job, given)
    run = result.run
    headers = {
        "Content-Disposition": f'attachment; filename="{job.name}.{fmt}"',
        "Silkgate-Excluded-Partitions": str(sum(e.partitions for e in run.exclusions)),
        "Silkgate-Suppressed-Cells": str(run.suppressed_cells),
        "Silkgate-Min-Cell-Size": str(run.min_cell_size),
    }
    data = output.render(result, fmt)
    return p.finish(Response(data, media_type=output.MEDIA_TYPES[fmt], headers=headers))
