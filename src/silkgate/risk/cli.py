"""``silkgate risk``: train, evaluate, backtest, list models and manage profile files.

The file commands need no database; the platform ones (worker, activate, inspection, profile
import/list, ``train --from-platform``, ``models`` without ``--artifacts``) are defined in
``platform_cli`` and registered here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from silkgate.risk.platform import cli as platform_cli

if TYPE_CHECKING:
    from types import ModuleType

app = typer.Typer(
    help="Risk engine: lanes from criteria, value controls, random quotas and a learned model.",
    no_args_is_help=True,
)
profile_app = typer.Typer(
    help="Selectivity profiles: TOML files, and the versions stored on the platform.",
    no_args_is_help=True,
)
app.add_typer(profile_app, name="profile")

console = Console()
err = Console(stderr=True)

MappingOpt = Annotated[
    str | None,
    typer.Option("--mapping", help="column mapping: a TOML path or a shipped name such as 'kcs'"),
]
ArtifactsOpt = Annotated[
    Path | None,
    typer.Option("--artifacts", help="model directory [default: $SILKGATE_RISK_ARTIFACTS]"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]


def _service() -> ModuleType:
    """The operations module, imported on first use so ``--help`` stays fast (no pandas)."""
    from silkgate.risk.learning import service

    return service


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=1)


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def _print_report(report: Any, title: str) -> None:
    table = Table(title=title)
    for col in ("n%", "selected", "precision", "recall", "revenue"):
        table.add_column(col, justify="right")
    for a in report.at:
        table.add_row(
            f"{a.n:g}", str(a.selected), _fmt(a.precision), _fmt(a.recall), _fmt(a.revenue)
        )
    console.print(table)
    console.print(f"AUC {_fmt(report.auc)} on {report.rows} rows, {report.positives} discrepancies")
    _print_slices(report)


def _print_slices(report: Any) -> None:
    """Model beside the plain baseline on all rows and on the never-seen goods lines."""
    if not report.slices:
        return
    table = Table(title="model vs plain LightGBM (no history), difference with bootstrap interval")
    for col in ("rows", "figure", "model", "baseline", "difference", "interval"):
        table.add_column(col, justify="right")
    for sl in report.slices:
        label = f"{sl.name}: {sl.rows} ({sl.positives} disc.)"
        if not sl.differences:
            table.add_row(label, "AUC", _fmt(sl.model.auc), "—", "—", "—")
            continue
        for i, d in enumerate(sl.differences):
            interval = "—" if d.low is None or d.high is None else f"[{d.low:+.3f}, {d.high:+.3f}]"
            diff = "—" if d.difference is None else f"{d.difference:+.3f}"
            table.add_row(
                label if i == 0 else "",
                d.metric,
                _fmt(d.model),
                _fmt(d.baseline),
                diff,
                interval,
            )
    console.print(table)
    first = next((s for s in report.slices if s.resamples), None)
    if first is not None:
        console.print(
            f"intervals: {first.confidence:.0%}, paired bootstrap over {first.resamples} "
            "resamples; never-seen = (HS6, net mass, value) triple not in the training period"
        )


@app.command()
def train(
    data: Annotated[
        Path | None, typer.Option("--data", help="labelled CSV or Parquet file")
    ] = None,
    from_platform: Annotated[
        bool,
        typer.Option(
            "--from-platform",
            help="train on the platform's declarations with recorded inspection results",
        ),
    ] = False,
    mapping: MappingOpt = None,
    valid: Annotated[
        Path | None,
        typer.Option("--valid", help="later labelled file to choose hyper-parameters on"),
    ] = None,
    artifacts: ArtifactsOpt = None,
    valid_fraction: Annotated[
        float, typer.Option(help="without --valid: latest share of rows held out for the choice")
    ] = 0.2,
    refit: Annotated[
        bool, typer.Option(help="without --valid: refit on all rows after the choice")
    ] = True,
    office: Annotated[str | None, typer.Option(help="train on one office's rows only")] = None,
    threads: Annotated[
        int, typer.Option(help="LightGBM threads (1 is fastest on a shared 2-core machine)")
    ] = 1,
    activate: Annotated[
        bool, typer.Option("--activate", help="with --from-platform --office: activate it")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Train a model; hyper-parameters are chosen on the validation period only."""
    if from_platform:
        if data is not None or valid is not None or mapping is not None:
            raise _fail("--from-platform reads the database; drop --data, --valid and --mapping")
        platform_cli.train_from_platform(office, activate, threads, json_out)
        return
    if data is None:
        raise _fail("give --data FILE, or --from-platform")
    service = _service()
    try:
        meta, folder = service.train(
            data, mapping, valid, artifacts, valid_fraction, refit, office, num_threads=threads
        )
    except (ValueError, FileNotFoundError) as exc:
        raise _fail(str(exc)) from exc
    if json_out:
        console.print_json(meta.model_dump_json())
        return
    console.print(f"model [bold]{meta.model_id}[/bold] saved to {folder}")
    console.print(
        f"chosen: {meta.params.get('num_leaves')} leaves, "
        f"{meta.params.get('min_data_in_leaf')} min rows per leaf, "
        f"trader ids as categories: {meta.params.get('trader_categoricals')}, "
        f"{meta.best_iteration} trees; trained in {meta.train_seconds} s"
    )
    if meta.validation_report is not None:
        _print_report(meta.validation_report, "validation period")


@app.command()
def evaluate(
    model: Annotated[str, typer.Option("--model", help="model id, directory or 'latest'")],
    data: Annotated[Path, typer.Option("--data", help="labelled CSV or Parquet file")],
    mapping: MappingOpt = None,
    artifacts: ArtifactsOpt = None,
    history: Annotated[
        str, typer.Option(help="'frozen' (stored history only) or 'online' (daily updates)")
    ] = "frozen",
    json_out: JsonOpt = False,
) -> None:
    """Precision@n%, Recall@n%, Revenue@n% and AUC (n = 1, 2, 5, 10) as in DATE (KDD 2020)."""
    service = _service()
    if history not in ("frozen", "online"):
        raise _fail("--history is 'frozen' or 'online'")
    try:
        report = service.evaluate(model, data, mapping, artifacts, history)
    except (ValueError, FileNotFoundError) as exc:
        raise _fail(str(exc)) from exc
    if json_out:
        console.print_json(report.model_dump_json())
        return
    _print_report(report, f"{Path(data).name} ({history} history)")


@app.command()
def backtest(
    data: Annotated[
        list[Path], typer.Option("--data", help="labelled file(s), replayed in date order")
    ],
    mapping: MappingOpt = None,
    rate: Annotated[float, typer.Option(help="share of declarations inspected, percent")] = 10.0,
    exploration: Annotated[
        list[float] | None,
        typer.Option(help="exploration share(s) to compare [default: 0.1 and 0]"),
    ] = None,
    strategy: Annotated[
        str, typer.Option(help="exploration: 'random' or 'uncertainty'")
    ] = "random",
    warmup_weeks: Annotated[int, typer.Option(help="weeks fully labelled at the start")] = 4,
    max_weeks: Annotated[int | None, typer.Option(help="stop after this many weeks")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Replay weeks with weekly retraining at a fixed inspection rate; compare exploration."""
    service = _service()
    shares = exploration if exploration else [0.1, 0.0]
    try:
        reports = service.run_backtest(
            data, mapping, rate, shares, warmup_weeks, max_weeks, strategy
        )
    except (ValueError, FileNotFoundError) as exc:
        raise _fail(str(exc)) from exc
    if json_out:
        console.print_json(json.dumps([r.model_dump() for r in reports]))
        return
    table = Table(title=f"backtest at {rate:g}% inspected (precision / model AUC per week)")
    table.add_column("week")
    table.add_column("rows", justify="right")
    for r in reports:
        table.add_column(f"expl {r.exploration:.0%}", justify="right")
    for i, week in enumerate(reports[0].weeks):
        cells = [f"{_fmt(r.weeks[i].precision)} / {_fmt(r.weeks[i].model_auc)}" for r in reports]
        table.add_row(week.week, str(week.rows), *cells)
    console.print(table)
    for r in reports:
        console.print(
            f"exploration {r.exploration:.0%}: mean precision {_fmt(r.mean_precision)}, "
            f"last quarter {_fmt(r.mean_precision_last_quarter)}, mean recall "
            f"{_fmt(r.mean_recall)}, mean AUC {_fmt(r.mean_auc)} ({r.seconds} s)"
        )


@app.command()
def explain(
    model: Annotated[str, typer.Option("--model", help="model id, directory or 'latest'")],
    data: Annotated[Path, typer.Option("--data", help="CSV or Parquet holding the declarations")],
    declaration: Annotated[list[str], typer.Option("--id", help="declaration id (repeatable)")],
    mapping: MappingOpt = None,
    artifacts: ArtifactsOpt = None,
    top: Annotated[int, typer.Option(help="how many reasons to show")] = 5,
    json_out: JsonOpt = False,
) -> None:
    """Why the model scores declarations as it does, in words (from LightGBM pred_contrib)."""
    service = _service()
    try:
        found = service.explain_declarations(model, data, declaration, mapping, artifacts, top)
    except (ValueError, KeyError, FileNotFoundError) as exc:
        raise _fail(str(exc).strip("'\"")) from exc
    if json_out:
        console.print_json(json.dumps(found))
        return
    for item in found:
        console.print(f"[bold]{item['declaration_id']}[/bold]: risk {item['score']:.3f}")
        for reason in item["reasons"]:
            console.print(f"  {reason['contribution']:+.2f}  {reason['text']}")


@app.command()
def models(artifacts: ArtifactsOpt = None, json_out: JsonOpt = False) -> None:
    """The model registry: artifacts, registration and the active model per office.

    With --artifacts DIR: only the artifacts in DIR, without the database.
    """
    if artifacts is None:
        platform_cli.models_registry(json_out)
        return
    service = _service()
    found = service.list_models(artifacts)
    if json_out:
        console.print_json(json.dumps([m.model_dump() for m in found]))
        return
    if not found:
        console.print("no models yet; train one with 'silkgate risk train'")
        return
    table = Table(title="risk models")
    table.add_column("model", no_wrap=True)
    for col in ("created", "office", "rows", "AUC", "P@5%", "P@10%"):
        table.add_column(col)
    for m in found:
        table.add_row(
            m.model_id,
            m.created_at[:16],
            m.office or "all",
            str(m.training_rows),
            _fmt(m.auc),
            _fmt(m.precision_at_5),
            _fmt(m.precision_at_10),
        )
    console.print(table)


@app.command()
def assess(
    profile: Annotated[Path, typer.Option("--profile", help="selectivity profile TOML")],
    data: Annotated[Path, typer.Option("--data", help="declarations CSV or Parquet")],
    mapping: MappingOpt = None,
    model: Annotated[
        str | None, typer.Option("--model", help="model id, directory or 'latest'")
    ] = None,
    artifacts: ArtifactsOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="write lanes to this CSV")] = None,
) -> None:
    """Give every declaration of a file a lane (one batch per day), print the lane shares."""
    service = _service()
    from silkgate.risk.selectivity.profiles import ProfileError

    try:
        prof = service.validate_profile(profile)
        lanes = service.assess_file(prof, data, mapping, model, artifacts)
    except ProfileError as exc:
        raise _fail("\n".join(exc.problems)) from exc
    except (ValueError, FileNotFoundError) as exc:
        raise _fail(str(exc)) from exc
    if out is not None:
        lanes.to_csv(out, index=False)
        console.print(f"{len(lanes)} lanes written to {out}")
    shares = lanes.groupby(["lane", "source"]).size().rename("declarations").reset_index()
    table = Table(title="lanes")
    for col in ("lane", "source", "declarations", "share"):
        table.add_column(col)
    for row in shares.itertuples(index=False):
        table.add_row(
            row.lane, row.source, str(row.declarations), f"{row.declarations / len(lanes):.1%}"
        )
    console.print(table)


@profile_app.command("validate")
def profile_validate(path: Annotated[Path, typer.Argument(help="profile TOML file")]) -> None:
    """Check a profile; every refused rule is reported with its position and reason."""
    service = _service()
    from silkgate.risk.selectivity.profiles import ProfileError

    try:
        prof = service.validate_profile(path)
    except ProfileError as exc:
        for problem in exc.problems:
            err.print(f"[red]✗[/red] {problem}")
        raise typer.Exit(code=1) from exc
    except OSError as exc:
        raise _fail(str(exc)) from exc
    console.print(
        f"[green]✓[/green] profile {prof.office}/{prof.direction.value} v{prof.version}: "
        f"{len(prof.criteria)} criteria, {len(prof.lists)} lists, "
        f"{len(prof.value_controls.bands)} value bands"
    )


@profile_app.command("export")
def profile_export(
    path: Annotated[Path | None, typer.Argument(help="profile TOML file")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="write here instead of stdout")] = None,
    office: Annotated[
        str | None, typer.Option("--office", help="export the office's stored profile")
    ] = None,
    direction: Annotated[
        str | None, typer.Option("--direction", help="with --office: import, export or transit")
    ] = None,
    version: Annotated[
        int | None, typer.Option("--version", help="with --office: a stored version")
    ] = None,
) -> None:
    """Print (or write) a profile in canonical TOML: a file after validating it, or with
    --office the stored profile in force (the built-in default where none is saved)."""
    if office is not None:
        if direction is None:
            raise _fail("--office needs --direction (import, export or transit)")
        platform_cli.profile_export_db(office, direction, version, out)
        return
    if path is None:
        raise _fail("give a profile FILE, or --office and --direction")
    service = _service()
    from silkgate.risk.selectivity.profiles import ProfileError

    try:
        text = service.export_profile(path)
    except ProfileError as exc:
        raise _fail("\n".join(exc.problems)) from exc
    except OSError as exc:
        raise _fail(str(exc)) from exc
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"written {out}")


@profile_app.command("bands")
def profile_bands(
    path: Annotated[Path, typer.Argument(help="profile TOML file")],
    data: Annotated[Path, typer.Option("--data", help="history: CSV or Parquet")],
    mapping: MappingOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="write here instead of stdout")] = None,
) -> None:
    """Recompute value-control bands from history (robust quantiles); manual bands are kept."""
    service = _service()
    from silkgate.risk.selectivity.profiles import ProfileError, profile_to_toml

    try:
        prof = service.compute_profile_bands(service.validate_profile(path), data, mapping)
    except ProfileError as exc:
        raise _fail("\n".join(exc.problems)) from exc
    except (ValueError, OSError) as exc:
        raise _fail(str(exc)) from exc
    text = profile_to_toml(prof)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"{len(prof.value_controls.bands)} bands written to {out}")


platform_cli.register(app, profile_app)
