"""`silkgate twin …`: run, compare and calibrate the digital twin from the command line."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

app = typer.Typer(help="Digital twin of a road border crossing (both sides).", no_args_is_help=True)
console = Console()
err = Console(stderr=True)

KEY_FIGURES = (
    "demand_per_day",
    "released_per_day",
    "time_in_system_h.mean",
    "time_in_system_h.p50",
    "time_in_system_h.p90",
    "time_in_system_h.p99",
    "time_in_system_released_h.mean",
    "censored_share",
    "over_24h_share",
    "waiting_h.mean",
    "service_h.mean",
    "time_at_border_h.mean",
    "equeue_wait_h.mean",
    "in_system_end",
    "unreleased_end",
    "unreleased_wait_h.mean",
    "unreleased_wait_h.max",
    "unreleased_over_24h_end",
)

Days = Annotated[int | None, typer.Option("--days", "-d", min=1, help="Simulated days.")]
Reps = Annotated[int | None, typer.Option("--replications", "-r", min=1, help="Replications.")]
Seed = Annotated[int | None, typer.Option(help="Base seed (default: the scenario's).")]
Warmup = Annotated[int | None, typer.Option("--warmup-days", min=0, help="Days not measured.")]
Workers = Annotated[int | None, typer.Option(min=1, help="Worker processes (default: cores).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
Html = Annotated[Path | None, typer.Option("--html", help="Write an HTML report here.")]
Series = Annotated[
    bool, typer.Option("--series", help="With --json: add queue lengths over time (mean of runs).")
]
Factor = Annotated[
    float | None,
    typer.Option("--demand-factor", min=0.0, help="Multiply every direction's demand."),
]


class TrafficSource(StrEnum):
    """Where arrivals come from: the scenario's profiles or silkgate.demo's generator."""

    profile = "profile"
    demo = "demo"


TrafficOpt = Annotated[
    TrafficSource | None,
    typer.Option(
        "--traffic",
        help="Arrivals from the scenario's profiles or from the demo traffic generator "
        "(silkgate.demo); default: the scenario's [demand] source.",
    ),
]
TrafficSeed = Annotated[
    int | None,
    typer.Option("--traffic-seed", min=0, help="Seed of the demo traffic generator (default 7)."),
]


def _traffic(value: TrafficSource | None) -> str | None:
    return None if value is None else value.value


def _fail(exc: Exception) -> typer.Exit:
    """Print the error as plain text (a file named data[1].csv must stay literal) and exit 2."""
    err.print(str(exc), style="red", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def _say(text: str, to: Console = console) -> None:
    """Print text that may hold file or scenario names literally: no Rich markup."""
    to.print(text, markup=False, highlight=False, soft_wrap=True)


def _progress_run(total_days: int, quiet: bool, fn: Any) -> Any:
    """Call fn(on_progress) under a Rich progress bar counting simulated days."""
    if quiet:
        return fn(None)
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} days"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("simulating", total=total_days)
        return fn(lambda n: bar.advance(task, n))


def _figures_table(title: str, reports: list[Any], diff: dict[str, Any] | None) -> Table:
    from silkgate.twin.report import fmt_estimate

    table = Table(title=escape(title))
    table.add_column("figure", no_wrap=True)
    for r in reports:
        table.add_column(f"{escape(r.scenario.name)}\nmean ± 95% CI", justify="right")
    if diff is not None:
        table.add_column("B − A\n(paired 95% CI)", justify="right")
        table.add_column("change", justify="right")
    for d in reports[0].scenario.directions:
        for fig in KEY_FIGURES:
            k = f"{d}.{fig}"
            if k not in reports[0].estimates:
                continue
            row = [k] + [fmt_estimate(r.estimates[k]) if k in r.estimates else "–" for r in reports]
            if diff is not None:
                e = diff.get(k)
                a = reports[0].estimates[k].mean
                row.append(fmt_estimate(e) if e is not None else "–")
                row.append(f"{e.mean / a:+.0%}" if e is not None and a else "–")
            table.add_row(*row)
    return table


def _stage_table(rep: Any) -> Table:
    from silkgate.twin.report import fmt_estimate

    table = Table(title=escape(f"{rep.scenario.name}: stages"))
    for col in ("stage", "utilization", "wait h / truck", "mean queue", "trucks / day"):
        table.add_column(col, justify="left" if col == "stage" else "right", no_wrap=col == "stage")
    for s in sorted({k[6:].rsplit(".", 1)[0] for k in rep.estimates if k.startswith("stage.")}):
        e = rep.estimates
        table.add_row(
            s,
            fmt_estimate(e[f"stage.{s}.utilization"]),
            fmt_estimate(e[f"stage.{s}.wait_h"]),
            fmt_estimate(e[f"stage.{s}.queue_mean"]),
            fmt_estimate(e[f"stage.{s}.visits_per_day"]),
        )
    return table


def _unreleased_table(rep: Any) -> Table | None:
    """Where the trucks not released at the end of the run stand, by direction and place."""
    from silkgate.twin.report import fmt_estimate, unreleased_rows

    rows = unreleased_rows([rep])
    if not rows:
        return None
    table = Table(title=escape(f"{rep.scenario.name}: trucks not released at the end"))
    for col in ("direction", "where", "trucks (mean ± 95% CI)"):
        table.add_column(col, justify="right" if col.startswith("trucks") else "left")
    for d, place, values in rows:
        table.add_row(d, escape(place), fmt_estimate(values[0]) if values[0] else "–")
    return table


def _print_run(rep: Any) -> None:
    from silkgate.twin import labels

    console.print(_stage_table(rep))
    unreleased = _unreleased_table(rep)
    if unreleased is not None:
        console.print(unreleased)
    for d, b in rep.bottleneck.items():
        _say(f"bottleneck {labels.direction(d)}: {labels.humanize(rep.scenario, b)}")


@app.command("run")
def run_cmd(
    scenario: Annotated[str, typer.Argument(help="Shipped scenario name or path to a TOML file.")],
    days: Days = None,
    replications: Reps = None,
    seed: Seed = None,
    warmup_days: Warmup = None,
    workers: Workers = None,
    demand_factor: Factor = None,
    traffic: TrafficOpt = None,
    traffic_seed: TrafficSeed = None,
    as_json: AsJson = False,
    series: Series = False,
    html: Html = None,
) -> None:
    """Simulate a scenario: throughput, time in system, queues, utilization, bottleneck."""
    from silkgate.twin import service
    from silkgate.twin.scenario import ScenarioError, load_scenario, with_run

    try:
        sc = with_run(load_scenario(scenario), days=days, replications=replications, seed=seed)
        total = sc.run.days * sc.run.replications
        rep = _progress_run(
            total,
            as_json,
            lambda cb: service.run(
                sc,
                warmup_days=warmup_days,
                workers=workers,
                demand_factor=demand_factor,
                traffic=_traffic(traffic),
                traffic_seed=traffic_seed,
                on_progress=cb,
            ),
        )
    except (ScenarioError, ValueError) as exc:
        raise _fail(exc) from None
    rep.source = scenario
    if html is not None:
        from silkgate.twin.report import render_run

        html.write_text(render_run(rep), encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(rep.to_dict(series), indent=2))
        return
    console.print(
        _figures_table(f"{sc.name}: {rep.days} days, {len(rep.replications)} runs", [rep], None)
    )
    _print_run(rep)
    _say(f"traffic: {service.traffic_label(rep.scenario)}")
    _say(f"{rep.wall_seconds:.1f} s on {rep.workers} worker(s)")
    if html is not None:
        _say(f"report written to {html}")


@app.command("compare")
def compare_cmd(
    a: Annotated[str, typer.Argument(help="Scenario A (e.g. khorgos-2023-baseline).")],
    b: Annotated[str, typer.Argument(help="Scenario B (e.g. khorgos-digital).")],
    days: Days = None,
    replications: Reps = None,
    seed: Seed = None,
    warmup_days: Warmup = None,
    workers: Workers = None,
    demand_factor: Factor = None,
    traffic: TrafficOpt = None,
    traffic_seed: TrafficSeed = None,
    as_json: AsJson = False,
    series: Series = False,
    html: Html = None,
) -> None:
    """Run A and B under the same seeds; print B − A with paired 95% intervals."""
    from silkgate.twin import service
    from silkgate.twin.scenario import ScenarioError, load_scenario, with_run

    try:
        sa = with_run(load_scenario(a), days=days, replications=replications, seed=seed)
        sb = load_scenario(b)
        total = 2 * sa.run.days * sa.run.replications
        cmp = _progress_run(
            total,
            as_json,
            lambda cb: service.compare(
                sa,
                sb,
                warmup_days=warmup_days,
                workers=workers,
                demand_factor=demand_factor,
                traffic=_traffic(traffic),
                traffic_seed=traffic_seed,
                on_progress=cb,
            ),
        )
    except (ScenarioError, ValueError) as exc:
        raise _fail(exc) from None
    if html is not None:
        from silkgate.twin.report import render_compare

        html.write_text(render_compare(cmp), encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(cmp.to_dict(series), indent=2))
        return
    console.print(
        _figures_table(f"{sa.name} (A) vs {sb.name} (B)", [cmp.a, cmp.b], cmp.differences)
    )
    for label, rep in (("A", cmp.a), ("B", cmp.b)):
        for d, bn in rep.bottleneck.items():
            _say(f"bottleneck {label} {d}: {bn}")
        _say(f"traffic {label}: {service.traffic_label(rep.scenario)}")
    if html is not None:
        _say(f"report written to {html}")


@app.command("calibrate")
def calibrate_cmd(
    events: Annotated[Path, typer.Argument(help="CSV with columns stage,truck,start,end.")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the fragment here.")
    ] = None,
    family: Annotated[str, typer.Option(help="auto, lognormal, triangular or empirical.")] = "auto",
) -> None:
    """Fit each stage's service time from gate events; print (or write) a scenario fragment."""
    from silkgate.twin import service

    try:
        result = service.calibrate(events, out=out, family=family)
    except ValueError as exc:
        raise _fail(exc) from None
    for w in result.warnings:
        err.print(f"warning: {w}", style="yellow", markup=False, highlight=False, soft_wrap=True)
    if out is None:
        typer.echo(result.text)
    else:
        _say(f"scenario fragment written to {out}")


@app.command("scenarios")
def scenarios_cmd() -> None:
    """List the scenarios shipped with Silkgate."""
    from silkgate.twin.scenario import load_scenario, shipped_scenarios

    for name in shipped_scenarios():
        console.print(f"[bold]{escape(name)}[/bold]: {escape(load_scenario(name).description)}")


@app.command("validate")
def validate_cmd(scenario: Annotated[str, typer.Argument(help="Name or TOML path.")]) -> None:
    """Check a scenario file without running it."""
    from silkgate.twin.scenario import ScenarioError, load_scenario

    try:
        sc = load_scenario(scenario)
    except ScenarioError as exc:
        raise _fail(exc) from None
    _say(f"{scenario}: valid ({sc.name}, directions {', '.join(sc.directions)})")


@app.command("export-events")
def export_events_cmd(
    scenario: Annotated[str, typer.Argument(help="Shipped scenario name or path to a TOML file.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="CSV file to write.")],
    days: Days = None,
    seed: Seed = None,
    time_format: Annotated[
        str, typer.Option("--time-format", help="minutes (model clock) or iso.")
    ] = "minutes",
    epoch: Annotated[
        str, typer.Option(help="With --time-format iso: the model's day 0, 00:00 (a Monday).")
    ] = "2023-01-02T00:00:00+08:00",
) -> None:
    """Simulate one replication and write its gate events in the format `calibrate` reads."""
    from silkgate.twin import service
    from silkgate.twin.scenario import ScenarioError

    try:
        done = service.export_events(
            scenario, out, days=days, seed=seed, time_format=time_format, epoch=epoch
        )
    except (ScenarioError, ValueError, OSError) as exc:
        raise _fail(exc) from None
    _say(
        f"{done.events:,} gate events of {done.trucks:,} trucks ({done.days} days, seed "
        f"{done.seed}) written to {done.path}"
    )


@app.command("sensitivity")
def sensitivity_cmd(
    scenario: Annotated[str, typer.Argument(help="Scenario (e.g. khorgos-2023-baseline).")],
    kind: Annotated[str, typer.Option("--stage", help="Stage kind whose time is scaled.")] = (
        "documents"
    ),
    factors: Annotated[
        str, typer.Option(help="Comma-separated factors on the full-check service time.")
    ] = "0.5,0.75,1,1.25,1.5",
    days: Days = None,
    replications: Reps = None,
    seed: Seed = None,
    workers: Workers = None,
    as_json: AsJson = False,
) -> None:
    """Time in system against a stage kind's service time, beside each observed year."""
    from silkgate.twin import labels, service
    from silkgate.twin.observed import CROSSING_TIME_H
    from silkgate.twin.report import fmt_estimate
    from silkgate.twin.scenario import ScenarioError

    try:
        values = [float(x) for x in factors.split(",") if x.strip()]
    except ValueError:
        raise _fail(ValueError(f"--factors: not a list of numbers: {factors!r}")) from None
    if not values:
        raise _fail(ValueError("--factors: give at least one factor"))
    try:
        rows = service.sensitivity(
            scenario,
            kind=kind,
            factors=values,
            days=days,
            replications=replications,
            seed=seed,
            workers=workers,
        )
    except (ScenarioError, ValueError) as exc:
        raise _fail(exc) from None
    dirs = list(rows[0].report.scenario.directions)
    if as_json:
        out = [
            {
                "factor": r.factor,
                "mean_service_min": r.mean_service_min,
                "metrics": {
                    k: r.report.estimates[k].as_dict()
                    for d in dirs
                    for k in (f"{d}.time_in_system_h.mean", f"{d}.released_per_day")
                },
            }
            for r in rows
        ]
        typer.echo(json.dumps({"observed_h": CROSSING_TIME_H, "rows": out}, indent=2))
        return
    rep0 = rows[0].report
    table = Table(
        title=escape(
            f"{scenario}: mean time in system (h) against the {kind} "
            f"time; {rep0.days} days, {len(rep0.replications)} runs"
        )
    )
    table.add_column("factor", justify="right")
    table.add_column(f"mean {kind} min", justify="right")
    for d in dirs:
        table.add_column(f"{labels.direction(d, short=True)} h", justify="right")
    for year, h in CROSSING_TIME_H.items():
        table.add_column(f"vs {year}\n({h} h)", justify="right")
    for r in rows:
        means = [r.report.estimates[f"{d}.time_in_system_h.mean"] for d in dirs]
        weights = [r.report.estimates[f"{d}.released_per_day"].mean for d in dirs]
        both = sum(e.mean * w for e, w in zip(means, weights, strict=True)) / sum(weights)
        gaps = [f"{both - h:+.1f}" for h in CROSSING_TIME_H.values()]
        table.add_row(
            f"{r.factor:g}", f"{r.mean_service_min:.1f}", *(fmt_estimate(e) for e in means), *gaps
        )
    console.print(table)
    _say(
        "vs YEAR: the mean over all trucks (both directions, weighted by trucks released) "
        "minus the ADB CAREC average time to cross that year."
    )
