"""`silkgate agreements`: propose, sign, revoke, list, show, ODRL export and import."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from silkgate.core.cli_support import actor, console, platform_session
from silkgate.core.signing import b64, load_private_key
from silkgate.core.validation import load_json, parse_model
from silkgate.exchange.agreements import service
from silkgate.exchange.agreements.catalogue import Category
from silkgate.exchange.agreements.schemas import AgreementIn, AgreementOut, AgreementStatus
from silkgate.registry.service import caller_for

app = typer.Typer(
    help="Data-sharing agreements: fields, purposes, places; signed by every party.",
    no_args_is_help=True,
)
AS_ORG = typer.Option(..., "--as", help="Member id of the organization acting")


def _print(a: AgreementOut) -> None:
    console.print(
        f"{a.agreement_id} v{a.version} {a.status.value}"
        + (" (in force)" if a.in_force else "")
        + (f"; awaiting {', '.join(a.awaiting)}" if a.awaiting else ""),
        markup=False,
    )


def _read(path: Path) -> object:
    return load_json(path.read_bytes())


@app.command("propose")
def propose(
    file: Path = typer.Argument(..., exists=True, dir_okay=False), as_org: str = AS_ORG
) -> None:
    """Propose the agreement in FILE (JSON, the API's AgreementIn); parties then sign it."""
    with platform_session() as platform:
        body = parse_model(AgreementIn, _read(file))
        _print(service.propose(platform, caller_for(platform, as_org), body))


@app.command("sign")
def sign(
    agreement_id: str,
    version: int = typer.Option(..., min=1),
    as_org: str = AS_ORG,
    key_file: Path | None = typer.Option(
        None, "--key-file", exists=True, dir_okay=False, help="The org's Ed25519 private key file"
    ),
    signature: str | None = typer.Option(None, help="A base64 signature made elsewhere"),
) -> None:
    """Sign a proposed version: with the org's key file, or by passing a signature made offline."""
    if (key_file is None) == (signature is None):
        console.print("[red]give exactly one of --key-file and --signature[/red]")
        raise typer.Exit(2)
    with platform_session() as platform:
        caller = caller_for(platform, as_org)
        if key_file is not None:
            shown = service.get_version(platform, caller, agreement_id, version)
            key = load_private_key(key_file.read_text().strip())
            signature = b64(key.sign(shown.signing_input.encode("utf-8")))
        assert signature is not None
        _print(service.sign(platform, caller, agreement_id, version, signature))


@app.command("revoke")
def revoke(agreement_id: str, as_org: str = AS_ORG, reason: str = typer.Option(..., min=3)) -> None:
    """Revoke an agreement with immediate effect."""
    with platform_session() as platform:
        h = service.revoke(platform, caller_for(platform, as_org), agreement_id, reason)
        for v in h.versions:
            _print(v)


@app.command("list")
def list_cmd(
    as_org: str = AS_ORG,
    status: AgreementStatus | None = typer.Option(None),
    category: Category | None = typer.Option(None),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Agreement versions the organization is party to."""
    with platform_session() as platform:
        rows = service.list_agreements(platform, caller_for(platform, as_org), status, category)
    if as_json:
        console.print_json(json.dumps([r.model_dump(mode="json") for r in rows]))
        return
    table = Table("agreement", "v", "status", "provider", "consumers", "category", "purposes")
    for r in rows:
        table.add_row(
            r.agreement_id,
            str(r.version),
            r.status.value + (" *" if r.in_force else ""),
            r.provider,
            ", ".join(r.consumers),
            r.category.value,
            ", ".join(r.purposes),
        )
    console.print(table)


@app.command("show")
def show(agreement_id: str, as_org: str = AS_ORG) -> None:
    """An agreement's versions with their terms and signatures (JSON)."""
    with platform_session() as platform:
        h = service.history(platform, caller_for(platform, as_org), agreement_id)
    console.print_json(h.model_dump_json())


@app.command("export-odrl")
def export_odrl(
    agreement_id: str,
    as_org: str = AS_ORG,
    version: int | None = typer.Option(None, min=1, help="Default: the latest"),
    out: Path | None = typer.Option(None, "--out", help="File to write; default stdout"),
) -> None:
    """A version as an ODRL 2.2 Agreement (JSON-LD)."""
    with platform_session() as platform:
        doc = service.export_odrl(platform, caller_for(platform, as_org), agreement_id, version)
    text = json.dumps(doc, ensure_ascii=False, indent=2)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")


@app.command("import-odrl")
def import_odrl(
    file: Path = typer.Argument(..., exists=True, dir_okay=False), as_org: str = AS_ORG
) -> None:
    """Propose the terms of an ODRL Agreement file."""
    with platform_session() as platform:
        _print(service.import_odrl(platform, caller_for(platform, as_org), _read(file)))


@app.command("defaults")
def defaults() -> None:
    """Store or refresh the default agreements of every crossing served by customs."""
    from silkgate.exchange.agreements.defaults import ensure_defaults, served_crossings

    with platform_session() as platform, platform.db.session() as s:
        share = platform.settings.share_driver_data_across_border
        written = ensure_defaults(s, platform.signer, served_crossings(s), share, actor())
    console.print(f"{len(written)} default agreement(s) written: {', '.join(written) or '-'}")


@app.command("catalogue")
def catalogue(category: Category) -> None:
    """The fields an agreement of CATEGORY may name (personal data marked)."""
    c = next(x for x in service.categories() if x.category == category)
    for f in c.fields:
        console.print(f + ("  (personal)" if f in c.personal_fields else ""), markup=False)
