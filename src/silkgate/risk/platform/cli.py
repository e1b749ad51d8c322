"""``silkgate risk`` commands that work on the platform's database (phase 2).

``worker``, ``activate``/``deactivate``, ``assessment``, ``inspection record|show``,
``profile import|list`` and the database forms of ``train --from-platform``, ``models`` and
``profile export --office``.
Imports stay inside the commands so ``silkgate --help`` does not load the model stack.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from silkgate.exchange.agreements.options import PlaceOpt, PurposeOpt

console = Console()
err = Console(stderr=True)

OfficeOpt = Annotated[str, typer.Option("--office", help="customs office code, e.g. CN-KHORGOS")]
DirectionOpt = Annotated[
    str, typer.Option("--direction", help="import, export or transit (the declaration type)")
]
AsOpt = Annotated[
    str, typer.Option("--as", help="member id of the customs organization recording it")
]
inspection_app = typer.Typer(help="Inspection results (training labels).", no_args_is_help=True)


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def register(app: typer.Typer, profile_app: typer.Typer) -> None:
    """Add the platform commands to ``silkgate risk`` and ``silkgate risk profile``."""
    app.command("worker")(worker)
    app.command("activate")(activate)
    app.command("deactivate")(deactivate)
    app.command("verify")(verify)
    app.command("assessment")(assessment_show)
    app.add_typer(inspection_app, name="inspection")
    profile_app.command("import")(profile_import)
    profile_app.command("list")(profile_list)


def worker(
    once: Annotated[bool, typer.Option("--once", help="assess what is waiting, then exit")] = False,
    interval: Annotated[
        float | None, typer.Option(help="seconds between polls [default: setting]")
    ] = None,
) -> None:
    """Assess accepted declarations as they arrive (Ctrl-C stops); several may run at once."""
    from silkgate.core.cli_support import platform_session
    from silkgate.risk.platform.worker import AssessorWorker, assess_pending

    with platform_session() as platform:
        if once:
            console.print(f"{assess_pending(platform)} declarations assessed")
            return
        runner = AssessorWorker(platform, interval, yield_share=0.0)
        console.print(f"assessing every {runner.interval:g} s; Ctrl-C stops")
        with contextlib.suppress(KeyboardInterrupt):
            runner.run()
        console.print(f"{runner.assessed} declarations assessed")


def activate(
    model: Annotated[str, typer.Argument(help="model id under the artifact dir, or a directory")],
    office: OfficeOpt,
) -> None:
    """Make MODEL the office's active model (audited); the assessor switches on its next batch."""
    from silkgate.core.cli_support import actor, platform_session
    from silkgate.risk.platform import model_registry

    with platform_session() as platform:
        model_id = model_registry.activate(platform, actor(), model, office)
    console.print(f"model {model_id} is active at {office}")


def deactivate(office: OfficeOpt) -> None:
    """Stop using a model at the office (audited)."""
    from silkgate.core.cli_support import actor, platform_session
    from silkgate.risk.platform import model_registry

    with platform_session() as platform:
        previous = model_registry.deactivate(platform, actor(), office)
    console.print(f"model {previous} is no longer active at {office}")


def verify() -> None:
    """Check stored assessments, inspection results and profiles against the audit log."""
    from silkgate.core.cli_support import platform_session
    from silkgate.risk.platform import verify as checks

    with platform_session() as platform:
        result = checks.verify(platform)
    counts = ", ".join(f"{n} {kind}" for kind, n in result.checked.items())
    if not result.ok:
        err.print(f"[red]✗[/red] {result.broken}: {result.reason} (checked before it: {counts})")
        raise typer.Exit(code=1)
    console.print(f"[green]✓[/green] {counts} match the audit log")


def train_from_platform(office: str | None, activate_it: bool, threads: int, as_json: bool) -> None:
    """``silkgate risk train --from-platform``."""
    from silkgate.core.cli_support import actor, platform_session
    from silkgate.risk.platform import model_registry

    with platform_session() as platform:
        meta, folder = model_registry.train_from_platform(
            platform, actor(), office, activate_it, num_threads=threads
        )
    if as_json:
        console.print_json(meta.model_dump_json())
        return
    console.print(f"model [bold]{meta.model_id}[/bold] saved to {folder} and registered")
    console.print(
        f"{meta.training.rows} inspected items ({meta.training.positives} with a discrepancy), "
        f"{meta.training.date_from} .. {meta.training.date_to}; trained in {meta.train_seconds} s"
    )
    rep = meta.validation_report
    if rep is not None:
        console.print(
            f"held-out tail: AUC {_fmt(rep.auc)}, Precision@5% {_fmt(rep.at_n(5).precision)}, "
            f"@10% {_fmt(rep.at_n(10).precision)} on {rep.rows} items"
        )
    if activate_it and office:
        console.print(f"active at {office}")


def models_registry(as_json: bool) -> None:
    """``silkgate risk models`` on the platform: artifacts, registration, active offices."""
    from silkgate.core.cli_support import platform_session
    from silkgate.risk.platform import model_registry

    with platform_session() as platform:
        found = model_registry.entries(platform)
    if as_json:
        console.print_json(json.dumps([m.model_dump() for m in found]))
        return
    if not found:
        console.print("no models yet; train one with 'silkgate risk train'")
        return
    table = Table(title="risk models, newest first (--json for every detail)")
    table.add_column("model", no_wrap=True)
    for col in ("for", "AUC", "P@5%"):
        table.add_column(col)
    table.add_column("active at", no_wrap=True)
    for m in found:
        if not m.registered:
            where = "not registered"
        elif not m.artifact_present:
            where = "artifact missing"
        else:
            where = ", ".join(m.active_for) or "—"
        table.add_row(
            m.model_id,
            m.trained_for or "all",
            _fmt(m.auc),
            _fmt(m.precision_at_5),
            where,
        )
    console.print(table)


def profile_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="TOML or JSON")],
    office: OfficeOpt,
    direction: DirectionOpt,
) -> None:
    """Store FILE as the next version of the office's profile for a direction (audited)."""
    from silkgate.core.cli_support import actor, platform_session
    from silkgate.risk.platform import profiles as profile_service

    raw = file.read_bytes()
    with platform_session() as platform:
        data = profile_service.parse_body(raw, as_toml=file.suffix.lower() != ".json")
        out = profile_service.save(platform, actor(), office, direction, data)
    console.print(f"profile {out.office}/{out.direction} version {out.version} stored")


def profile_export_db(office: str, direction: str, version: int | None, out: Path | None) -> None:
    """``silkgate risk profile export --office … --direction …``."""
    from silkgate.core.cli_support import platform_session
    from silkgate.risk.platform import profiles as profile_service

    with platform_session() as platform:
        found = profile_service.get(platform, office, direction, version)
    text = profile_service.as_toml(found)
    if found.builtin:
        text = "# built-in default: no profile saved for this office and direction\n" + text
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"written {out}")


def profile_list(
    office: Annotated[str | None, typer.Option("--office", help="one office only")] = None,
) -> None:
    """Stored profile versions by office and direction."""
    from silkgate.core.cli_support import platform_session
    from silkgate.risk.platform import profiles as profile_service

    with platform_session() as platform:
        found = profile_service.versions(platform, office)
    if not found:
        console.print("no profiles stored; every office uses the built-in default")
        return
    table = Table(title="selectivity profiles")
    for col in ("office", "direction", "version", "criteria", "saved", "by"):
        table.add_column(col)
    for p in found:
        table.add_row(
            p.office,
            p.direction,
            str(p.version),
            str(p.criteria),
            p.created_at.isoformat()[:16],
            p.created_by,
        )
    console.print(table)


def _finding(text: str) -> dict[str, Any]:
    parts = text.split(":", 2)
    if len(parts) == 3 and parts[0].strip().isdigit():
        return {"item": int(parts[0]), "kind": parts[1].strip(), "text": parts[2]}
    kind, _, rest = text.partition(":")
    return {"kind": kind.strip(), "text": rest}


@inspection_app.command("record")
def inspection_record(
    declaration: Annotated[str, typer.Argument(help="declaration id")],
    as_org: AsOpt,
    outcome: Annotated[str, typer.Option(help="no_discrepancy or discrepancy")],
    finding: Annotated[
        list[str] | None,
        typer.Option(help="[ITEM:]KIND:TEXT, e.g. 2:undervaluation:invoice is half the price"),
    ] = None,
    duties: Annotated[float | None, typer.Option(help="additional duties assessed")] = None,
    currency: Annotated[str | None, typer.Option(help="currency of the duties, ISO 4217")] = None,
    note: Annotated[str | None, typer.Option(help="free text")] = None,
) -> None:
    """Record the outcome of inspecting a declaration (audited; becomes a training label)."""
    from silkgate.core.cli_support import platform_session
    from silkgate.core.validation import parse_model
    from silkgate.registry.service import caller_for
    from silkgate.risk.platform import service as declaration_risk
    from silkgate.risk.platform.schemas import InspectionIn

    body: dict[str, Any] = {"outcome": outcome, "findings": [_finding(f) for f in finding or []]}
    if duties is not None or currency is not None:
        body["additional_duties"] = {"amount": duties, "currency": currency}
    if note:
        body["note"] = note
    with platform_session() as platform:
        parsed = parse_model(InspectionIn, body)
        caller = caller_for(platform, as_org)
        out = declaration_risk.record_inspection(platform, caller, declaration, parsed)
    console.print(
        f"inspection of {out.declaration_id} version {out.version} recorded: {out.outcome}"
    )


@inspection_app.command("show")
def inspection_show(
    declaration: Annotated[str, typer.Argument(help="declaration id")],
    as_org: AsOpt,
    purpose: PurposeOpt = None,
    place: PlaceOpt = None,
) -> None:
    """Print the recorded inspection result of a declaration as JSON (what the organization
    may read: whole for the lodging customs, else what its agreements allow)."""
    from silkgate.core.cli_support import platform_session
    from silkgate.exchange.agreements.options import asking_for
    from silkgate.risk.platform import service as declaration_risk
    from silkgate.risk.platform.schemas import InspectionOut

    with platform_session() as platform:
        who = asking_for(platform, as_org, purpose, place)
        out = declaration_risk.get_inspection(platform, who, declaration)
    console.print_json(out.model_dump_json(exclude_unset=not isinstance(out, InspectionOut)))


def assessment_show(
    declaration: Annotated[str, typer.Argument(help="declaration id")],
    as_org: Annotated[str, typer.Option("--as", help="member id of the organization reading")],
    purpose: PurposeOpt = None,
    place: PlaceOpt = None,
) -> None:
    """Print the risk assessment (lane, score, reasons) of a declaration as JSON: whole for
    the lodging customs, else what risk_lane / risk_score agreements allow."""
    from silkgate.core.cli_support import platform_session
    from silkgate.exchange.agreements.options import asking_for
    from silkgate.risk.platform import service as declaration_risk
    from silkgate.risk.platform.schemas import AssessmentOut

    with platform_session() as platform:
        who = asking_for(platform, as_org, purpose, place)
        out = declaration_risk.get_assessment(platform, who, declaration)
    console.print_json(out.model_dump_json(exclude_unset=not isinstance(out, AssessmentOut)))
