"""`silkgate analytics jobs | run | report`: the job catalogue, one run, the standard report.

Every option is checked before the platform is built: on a bad one nothing is read or
written, the command exits 2 and names the option (``--param since``, ``--out``, …).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from silkgate.core.cli_support import console, err_console, platform_session
from silkgate.core.errors import FieldError, ValidationFailed

if TYPE_CHECKING:
    from silkgate.analytics.jobs.service import Request, Result

#: JSON pointers of the checks → the options that carry them.
OPTIONS = {
    "job": "JOB",
    "param": "--param",
    "engine": "--engine",
    "compute_country": "--compute-country",
    "format": "--format",
    "out": "--out",
    "chart": "--chart",
}
#: Rows of the table printed by ``run`` (every row goes to ``--out``).
TABLE_ROWS = 100

Engine = Annotated[str, typer.Option("--engine", help="duckdb (embedded) or spark.")]
ComputeCountry = Annotated[
    str | None,
    typer.Option(
        "--compute-country",
        help="ISO 3166 alpha-2 of where the job computes (default "
        "SILKGATE_ANALYTICS_COMPUTE_COUNTRY); other countries' data only under an agreement.",
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
ReportOut = Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")]


def jobs(as_json: AsJson = False) -> None:
    """The analysis jobs: name, title and parameters."""
    from silkgate.analytics.jobs import service

    catalogue = service.catalogue()
    if as_json:
        print(json.dumps([j.model_dump(mode="json") for j in catalogue], indent=1))
        return
    t = Table(title="analytics jobs")
    for c in ("job", "title", "parameters"):
        t.add_column(c)
    for j in catalogue:
        params = "\n".join(
            f"{p.name} ({p.kind}{', required' if p.required else ''}"
            f"{': ' + ', '.join(p.choices) if p.choices else ''}"
            f"{f'; default {p.default}' if p.default not in (None, '') else ''})"
            for p in j.params
        )
        t.add_row(escape(j.name), escape(j.title), escape(params) or "—")
    console.print(t)


@dataclass(frozen=True)
class RunPlan:
    """A checked ``run``: the request and where its result goes."""

    request: Request
    fmt: str  # table, csv, parquet or json
    out: Path | None
    chart: Path | None


def parse_params(items: list[str] | None) -> tuple[dict[str, str], list[FieldError]]:
    """``-p NAME=VALUE`` options as a mapping; malformed or repeated ones are errors."""
    given: dict[str, str] = {}
    errors = []
    for item in items or []:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            errors.append(FieldError("/param", "not_name_value", f"{item!r} is not NAME=VALUE"))
        elif name in given:
            errors.append(FieldError(f"/params/{name}", "repeated", f"{name} is given twice"))
        else:
            given[name] = value
    return given, errors


def _check_file(path: Path, where: str) -> list[FieldError]:
    if path.is_dir():
        return [FieldError(where, "is_directory", f"{path} is a directory")]
    if not path.parent.is_dir():
        return [FieldError(where, "no_directory", f"directory {path.parent} does not exist")]
    return []


def check_run(
    name: str,
    params: list[str] | None,
    engine: str,
    compute_country: str | None,
    fmt: str | None,
    out: Path | None,
    chart: Path | None,
    as_json: bool,
) -> RunPlan:
    """Everything ``run`` was given, checked together; ``ValidationFailed`` names each problem."""
    from silkgate.analytics.jobs import charts, output, service
    from silkgate.analytics.jobs.catalogue import JOBS

    given, errors = parse_params(params)
    request = None
    try:
        request = service.check(name, given, engine, compute_country)
    except ValidationFailed as exc:
        errors.extend(exc.errors)
    chosen = fmt.strip().lower() if fmt else None
    known = ("table", *output.FORMATS)
    if chosen is not None and chosen not in known:
        errors.append(
            FieldError("/format", "unknown_format", f"{fmt!r}: choose {', '.join(known)}")
        )
        chosen = None
    by_suffix = output.EXTENSIONS.get(out.suffix.lower()) if out else None
    if out is not None:
        if chosen == "table":
            msg = "a table is printed, not written: choose csv, parquet or json for --out"
            errors.append(FieldError("/format", "not_a_file_format", msg))
        elif chosen is None and by_suffix is None:
            msg = f"cannot tell the format of {out.name!r}: end it in .csv, .parquet or .json"
            errors.append(FieldError("/out", "unknown_extension", msg))
        elif chosen and by_suffix and chosen != by_suffix:
            msg = f"{out.name!r} ends in {out.suffix} but --format is {chosen}"
            errors.append(FieldError("/out", "extension_mismatch", msg))
        errors.extend(_check_file(out, "/out"))
    final = chosen or by_suffix or "table"
    if out is None and (final == "parquet" or (as_json and final == "csv")):
        why = "Parquet is binary" if final == "parquet" else "--json prints the run"
        errors.append(FieldError("/out", "required", f"{why}: name a file with --out"))
    if chart is not None:
        if chart.suffix.lower().lstrip(".") not in charts.FORMATS:
            msg = f"{chart.name!r}: a chart is written as .png or .svg"
            errors.append(FieldError("/chart", "unknown_extension", msg))
        errors.extend(_check_file(chart, "/chart"))
        job = JOBS.get(name)
        if job is not None and job.chart is None:
            errors.append(FieldError("/chart", "no_chart", f"job {name} has no chart"))
    if errors or request is None:
        raise ValidationFailed(errors)
    return RunPlan(request, final, out, chart)


def run(
    job: Annotated[str, typer.Argument(help="Job name (see `silkgate analytics jobs`).")],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="A parameter as NAME=VALUE (repeatable)."),
    ] = None,
    engine: Engine = "duckdb",
    compute_country: ComputeCountry = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="table (printed), csv, parquet or json; default: from --out's extension, "
            "else table.",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the result to this file.")
    ] = None,
    chart: Annotated[
        Path | None, typer.Option("--chart", help="Draw the job's chart to PATH.png or PATH.svg.")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Run one job; exclusions and suppressed cells are named on stderr."""
    from silkgate.analytics.jobs import charts, output, service

    try:  # checked before the platform is built: nothing is read or written on bad options
        plan = check_run(job, param, engine, compute_country, fmt, out, chart, as_json)
    except ValidationFailed as exc:
        _bad_options(exc, as_json, lambda name: f"--param {name}")
        raise typer.Exit(2) from None
    with platform_session() as platform:
        result = service.run(platform, plan.request)
    _tell_left_out(result)
    written = []
    if plan.out is not None:
        output.write(result, plan.fmt, plan.out)
        written.append(str(plan.out))
    if plan.chart is not None:
        image = charts.render(plan.request.job, result, plan.chart.suffix.lower().lstrip("."))
        output.write_atomically(plan.chart, image)
        written.append(str(plan.chart))
    if as_json:
        doc = output.document(result).model_dump(mode="json")
        print(json.dumps({**doc, "files": written}, indent=1, ensure_ascii=False))
    elif plan.fmt == "table":
        console.print(_table(result))
    elif plan.out is None:
        print(output.render(result, plan.fmt).decode(), end="")
    for path in written:
        err_console.print(f"wrote {escape(path)}")


def report(
    out: ReportOut = Path("report.html"),
    since: Annotated[
        str | None, typer.Option(help="First day (YYYY-MM-DD) for jobs that take one.")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Last day (YYYY-MM-DD) for jobs that take one.")
    ] = None,
    compute_country: ComputeCountry = None,
    engine: Engine = "duckdb",
    as_json: AsJson = False,
) -> None:
    """Run every standard job and write one self-contained HTML report (exit 1 if any failed)."""
    from silkgate.analytics.jobs import report as reporting

    try:  # checked before the platform is built, as for `run`
        requests = _check_report(out, since, until, engine, compute_country)
    except ValidationFailed as exc:
        _bad_options(exc, as_json, lambda name: f"--{name}")
        raise typer.Exit(2) from None
    with platform_session() as platform:
        country = compute_country.strip().upper() if compute_country else None
        built = reporting.publish(platform, requests, out, country, engine)
    if as_json:
        print(json.dumps(reporting.summary(built, out), indent=1, ensure_ascii=False))
    else:
        t = Table(title=f"report {escape(str(out))}")
        for c in ("job", "status", "rows"):
            t.add_column(c, justify="right" if c == "rows" else "left")
        for s in built.sections:
            rows = f"{s.result.run.row_count:,}" if s.result else "—"
            t.add_row(escape(s.job.name), s.status, rows)
        console.print(t)
    for s in built.failed:
        for err in s.errors:
            err_console.print(f"[red]{escape(s.job.name)} failed[/red]: {escape(err)}")
    if built.failed:
        raise typer.Exit(1)


def _check_report(
    out: Path, since: str | None, until: str | None, engine: str, compute_country: str | None
) -> list[Request]:
    from silkgate.analytics.jobs import report as reporting

    problems = _check_file(out, "/out")
    try:
        requests = reporting.check(since, until, engine, compute_country)
    except ValidationFailed as exc:
        raise ValidationFailed(problems + exc.errors) from None
    if problems:
        raise ValidationFailed(problems)
    return requests


def _bad_options(exc: ValidationFailed, as_json: bool, param_option: Any) -> None:
    named = []
    for e in exc.errors:
        parts = (e.field or "").strip("/").split("/")
        if parts[0] == "params" and len(parts) > 1:
            option = param_option(parts[1])
        else:
            option = OPTIONS.get(parts[0], parts[0])
        named.append({"option": option, "code": e.code, "message": e.message})
    if as_json:
        print(json.dumps({"title": exc.title, "errors": named}, indent=1))
        return
    for n in named:
        err_console.print(f"[red]{escape(n['option'])}[/red]: {escape(n['message'])}")


def _tell_left_out(result: Result) -> None:
    """Exclusions and suppressed cells on stderr: what the result does not hold, and why."""
    run = result.run
    for x in run.exclusions:
        err_console.print(
            f"excluded {x.dataset} {x.owner_country} {x.crossing}: {x.partitions} partition(s), "
            f"{'?' if x.rows is None else x.rows} row(s): {x.reason}",
            markup=False,
        )
    if run.suppressed_cells:
        err_console.print(
            f"suppressed {run.suppressed_cells} row(s) of data not the reader's own that "
            f"described fewer than {run.min_cell_size} declarations, traders or trucks, in all "
            "or in the part that is another country's",
            markup=False,
        )


def _table(result: Result) -> Table:
    from silkgate.analytics.jobs.output import cell_text

    run, table = result.run, result.table
    t = Table(title=f"{escape(run.title)} · computed in {run.compute_country} on {run.engine}")
    numeric = {f.name for f in table.schema if not _is_text(f.type)}
    for c in table.column_names:
        t.add_column(escape(c), justify="right" if c in numeric else "left")
    for row in table.slice(0, TABLE_ROWS).to_pylist():
        t.add_row(*(escape(cell_text(v)) for v in row.values()))
    shown = min(TABLE_ROWS, table.num_rows)
    more = f"first {shown} of " if shown < table.num_rows else ""
    tail = "; --out FILE for every row" if more else ""
    t.caption = f"{more}{table.num_rows:,} row(s) in {run.seconds:.2f} s{tail}"
    return t


def _is_text(t: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_date(t))
