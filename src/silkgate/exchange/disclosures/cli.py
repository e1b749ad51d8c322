"""`silkgate exchange disclosures` and `silkgate exchange personal-transfers`."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from silkgate.core.cli_support import console, platform_session
from silkgate.exchange.agreements.catalogue import Category
from silkgate.exchange.disclosures import service
from silkgate.registry.service import caller_for


def disclosures(
    as_org: str | None = typer.Option(
        None, "--as", help="The providing organization; default: every row (operator)"
    ),
    record: str | None = typer.Option(None, "--record", help="One record id (a declaration)"),
    consumer: str | None = typer.Option(None, help="Member id of the receiving organization"),
    category: Category | None = typer.Option(None),
    limit: int = typer.Option(100, min=1, max=500),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Who received what about an organization's records, newest first."""
    with platform_session() as platform:
        caller = caller_for(platform, as_org) if as_org else None
        f = service.DisclosureFilter(record, consumer, category)
        page = service.list_disclosures(platform, caller, f, None, limit)
    if as_json:
        print(json.dumps([r.model_dump(mode="json") for r in page.items], indent=1))
        return
    table = Table(
        "at", "consumer", "category", "record", "purpose", "place", "agreements", "fields"
    )
    for r in page.items:
        table.add_row(
            r.at.isoformat(timespec="seconds"),
            r.consumer,
            r.category.value,
            r.record_id,
            r.purpose or "-",
            r.place,
            ", ".join(f"{a.agreement_id} v{a.version}" for a in r.agreements) or r.basis,
            str(len(r.fields)) + (" (personal)" if r.personal else ""),
        )
    console.print(table)


def personal_transfers(
    as_org: str | None = typer.Option(
        None, "--as", help="A party to the agreements; default: every agreement (operator)"
    ),
    year: int | None = typer.Option(None, min=2000, max=2999),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Distinct persons whose personal data crossed a border, per agreement and year."""
    with platform_session() as platform:
        caller = caller_for(platform, as_org) if as_org else None
        rows = service.personal_counts(platform, caller, year)
    if as_json:
        print(json.dumps([r.model_dump(mode="json") for r in rows], indent=1))
        return
    table = Table("agreement", "year", "persons", "from", "processed in")
    for r in rows:
        table.add_row(
            r.agreement_id, str(r.year), str(r.persons), ", ".join(r.origins), ", ".join(r.places)
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add the commands to ``silkgate exchange``."""
    app.command("disclosures")(disclosures)
    app.command("personal-transfers")(personal_transfers)
