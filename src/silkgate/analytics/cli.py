"""`silkgate analytics …`: export the operational tables to the Parquet lake, verify the lake
against them; the analysis jobs over it (`jobs`, `run`, `report`) live in
``silkgate.analytics.jobs.cli``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from silkgate.analytics.jobs import cli as jobs_cli
from silkgate.core.cli_support import console, err_console, platform_session
from silkgate.core.errors import ValidationFailed

app = typer.Typer(
    help="The analytics lake (Parquet), its exports and the analysis jobs over it.",
    no_args_is_help=True,
)

#: JSON pointers of the export's parameters → the options that carry them.
OPTIONS = {"datasets": "--dataset", "until": "--until", "settle": "--settle",
           "min_files": "--min-files"}  # fmt: skip

#: Exit code when the export committed but some rows were rejected (named in the report).
EXIT_REJECTED = 3
#: Exit code when verification finds rows missing from the lake (named in the report).
EXIT_MISSING = 3


@app.command("export")
def export(
    dataset: Annotated[
        list[str] | None,
        typer.Option(
            "--dataset",
            "-d",
            help="Dataset to export (repeatable): declarations, goods_items, lanes, inspections, "
            "bookings, gate_events. Default: all.",
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="Export changes up to the end of this day (YYYY-MM-DD, crossing time)."),
    ] = None,
    settle: Annotated[
        float | None,
        typer.Option(
            help="Leave rows changed in the last SECONDS for the next run (default "
            "SILKGATE_ANALYTICS_SETTLE_SECONDS; 0: export every committed change)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Export what changed since the last run to Parquet under SILKGATE_ANALYTICS_LAKE_DIR."""
    from silkgate.analytics import service

    try:  # checked before the platform is built: nothing is read or written on bad options
        names = service.check_datasets(dataset)
        day = service.check_until(until)
        service.check_settle(settle)
    except ValidationFailed as exc:
        _bad_options(exc, as_json)
        raise typer.Exit(2) from None
    with platform_session() as platform:
        if quiet or as_json:
            report = service.export(platform, names, day, settle)
        else:
            with _progress() as on_progress:
                report = service.export(platform, names, day, settle, on_progress)
    if as_json:
        print(report.model_dump_json(indent=1))
    else:
        console.print(_table(report))
    if report.rejected_total:
        err_console.print(
            f"[yellow]{report.rejected_total} row(s) rejected[/yellow] (not in the lake; "
            "named in the report and in each dataset's _manifest.json)"
        )
        for r in report.rejected[:20]:
            err_console.print(f"  {r.dataset} {r.key} {r.column or ''}: {r.reason}", markup=False)
        raise typer.Exit(EXIT_REJECTED)


@app.command("verify")
def verify(
    dataset: Annotated[
        list[str] | None,
        typer.Option("--dataset", "-d", help="Dataset to verify (repeatable). Default: all."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Check that every database row is in the lake, left for the next export, or named as
    rejected; exit 3 naming the rows that are none of these (missing)."""
    from silkgate.analytics import service

    try:
        names = service.check_datasets(dataset)
    except ValidationFailed as exc:
        _bad_options(exc, as_json)
        raise typer.Exit(2) from None
    with platform_session() as platform:
        if quiet or as_json:
            report = service.verify(platform, names)
        else:
            with _progress() as on_progress:
                report = service.verify(platform, names, on_progress)
    if as_json:
        print(report.model_dump_json(indent=1))
    else:
        t = Table(title=f"lake {escape(report.lake)} · verified against the database")
        heads = ("dataset", "rows", "in lake", "pending", "rejected", "missing")
        for c in heads:
            t.add_column(c, justify="left" if c == "dataset" else "right")
        for d in report.datasets:
            counts = (d.rows, d.in_lake, d.pending, d.rejected, d.missing)
            style = "red" if d.missing else None
            t.add_row(d.dataset, *(f"{n:,}" for n in counts), style=style)
        t.caption = f"{report.rows:,} rows in {report.seconds:.1f} s"
        console.print(t)
    if not report.ok:
        err_console.print(
            f"[red]{report.missing:,} row(s) missing[/red] from the lake: changed at or below "
            "the watermark or unreadable, never exported nor reported by an export"
        )
        named = [r for d in report.datasets for r in d.missing_rows][:20]
        for r in named:
            key = ", ".join(f"{k}={v}" for k, v in r.key.items())
            err_console.print(f"  {r.dataset} {key} marker {r.marker}: {r.reason}", markup=False)
        raise typer.Exit(EXIT_MISSING)


@app.command("compact")
def compact(
    dataset: Annotated[
        list[str] | None,
        typer.Option("--dataset", "-d", help="Dataset to compact (repeatable). Default: all."),
    ] = None,
    min_files: Annotated[
        int,
        typer.Option(help="Rewrite a partition holding at least this many files (1: every one)."),
    ] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Rewrite each partition's files as one file (and daily partitions of older lakes as
    monthly ones): readers open fewer files; no row changes."""
    from silkgate.analytics import service
    from silkgate.core.cli_support import load_settings
    from silkgate.core.errors import Conflict

    try:
        names = service.check_datasets(dataset)
        service.check_min_files(min_files)
    except ValidationFailed as exc:
        _bad_options(exc, as_json)
        raise typer.Exit(2) from None
    try:
        report = service.compact(load_settings().lake_dir, names, min_files)
    except Conflict as exc:
        err_console.print(f"[red]{escape(exc.title)}[/red]: {escape(exc.detail)}")
        raise typer.Exit(1) from None
    if as_json:
        print(report.model_dump_json(indent=1))
        return
    t = Table(title=f"lake {escape(report.lake)} · run {report.run}")
    heads = ("dataset", "partitions compacted", "rows", "files before", "files after", "moved")
    for c in heads:
        t.add_column(c, justify="left" if c == "dataset" else "right")
    for d in report.datasets:
        counts = (d.partitions_compacted, d.rows, d.files_before, d.files_after, d.markers_written)
        t.add_row(d.dataset, *(f"{n:,}" for n in counts))
    t.caption = f"{report.seconds:.1f} s"
    console.print(t)


app.command("jobs")(jobs_cli.jobs)
app.command("run")(jobs_cli.run)
app.command("report")(jobs_cli.report)


def _bad_options(exc: ValidationFailed, as_json: bool) -> None:
    named = []
    for e in exc.errors:
        head = (e.field or "").strip("/").split("/")[0]
        named.append({"option": OPTIONS.get(head, head), "code": e.code, "message": e.message})
    if as_json:
        print(json.dumps({"title": exc.title, "errors": named}, indent=1))
        return
    for n in named:
        err_console.print(f"[red]{n['option']}[/red]: {escape(n['message'])}")


@contextmanager
def _progress() -> Iterator[Any]:
    """A Rich progress bar with one task per dataset, fed by the export's callback."""
    columns = (
        TextColumn("{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    tasks: dict[str, Any] = {}
    with Progress(*columns, console=err_console, transient=True) as bar:

        def on_progress(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.advance(tasks[name], done)

        yield on_progress


def _table(report: Any) -> Table:
    t = Table(title=f"lake {escape(report.lake)} · run {report.run}")
    heads = ("dataset", "rows", "rejected", "held back", "partitions", "unchanged", "moved")
    for c in (*heads, "rows/s"):
        t.add_column(c, justify="left" if c == "dataset" else "right")
    for d in report.datasets:
        t.add_row(
            d.dataset,
            f"{d.rows:,}",
            f"{d.rejected:,}",
            f"{d.held_back:,}",
            f"{d.partitions_written:,}",
            f"{d.partitions_unchanged:,}",
            f"{d.markers_written:,}",
            f"{d.rows_per_second:,.0f}",
        )
    t.caption = f"{report.rows:,} rows in {report.seconds:.1f} s ({report.rows_per_second:,.0f}/s)"
    return t


# ---------------------------------------------------------------- generate (demo-scale lake)

from pathlib import Path  # noqa: E402  (this section was added last: kept together)

OPTIONS.update(goods_items="--goods-items", year="--year", seed="--seed", lake="--lake")


@app.command("generate")
def generate(
    goods_items: Annotated[
        int, typer.Option("--goods-items", help="Goods-item rows to generate (exactly).")
    ] = 10_000_000,
    year: Annotated[int, typer.Option(help="Calendar year of the traffic (2018-2035).")] = 2025,
    seed: Annotated[int, typer.Option(help="Same seed, same data (0-2147483647).")] = 7,
    lake: Annotated[
        Path | None,
        typer.Option(help="Lake directory (default SILKGATE_ANALYTICS_LAKE_DIR)."),
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Delete the lake's datasets first.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Write a realistic demo year (both directions, five crossings) straight into the lake."""
    from silkgate.analytics import generator
    from silkgate.core.cli_support import load_settings
    from silkgate.core.errors import Conflict

    settings = load_settings()
    folder = lake if lake is not None else settings.lake_dir
    try:  # checked before anything is written
        generator.check(goods_items, year, seed, folder, replace)
    except ValidationFailed as exc:
        _bad_options(exc, as_json)
        raise typer.Exit(2) from None
    args = (folder, goods_items, year, seed, replace, settings.queue_utc_offset_hours)
    try:
        if quiet or as_json:
            report = generator.generate(*args)
        else:
            columns = (TextColumn("{task.description:<16}"), BarColumn(),
                       MofNCompleteColumn(), TimeElapsedColumn())  # fmt: skip
            with Progress(*columns, console=err_console, transient=True) as bar:
                task = bar.add_task("goods items", total=goods_items)

                def on_progress(done: int, total: int, what: str) -> None:
                    bar.update(task, completed=done, description=f"generated {what}")

                report = generator.generate(*args, on_progress=on_progress)
    except Conflict as exc:
        err_console.print(f"[red]{escape(exc.title)}[/red]: {escape(exc.detail)}")
        raise typer.Exit(1) from None
    if as_json:
        print(report.model_dump_json(indent=1))
        return
    t = Table(title=f"lake {escape(report.lake)} · run {report.run}")
    for c in ("dataset", "rows", "partitions", "files", "MB"):
        t.add_column(c, justify="left" if c == "dataset" else "right")
    for d in report.datasets:
        t.add_row(d.dataset, f"{d.rows:,}", f"{d.partitions:,}", f"{d.files:,}",
                  f"{d.bytes / 1e6:,.1f}")  # fmt: skip
    t.caption = (f"{report.rows:,} rows in {report.seconds:.1f} s, "
                 f"peak memory {report.peak_rss_mb:,.0f} MB")  # fmt: skip
    console.print(t)
