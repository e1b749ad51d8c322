"""`silkgate console`: an organization's first administrator, and the console's catalogs."""

from __future__ import annotations

import typer

from silkgate.core.cli_support import actor, console, err_console, platform_session

app = typer.Typer(help="The web console: people and languages.", no_args_is_help=True)


@app.command("create-admin")
def create_admin(
    org: str = typer.Option(..., "--org", help="Member id, e.g. KZ/GOV/123456789012"),
    login: str = typer.Option(..., help="Sign-in name (a-z, 0-9, . _ @ -), never changes"),
    name: str = typer.Option(..., help="The person's name as the console shows it"),
    base_url: str = typer.Option(
        "http://127.0.0.1:8000", help="Where the console is served, for the printed link"
    ),
) -> None:
    """Invite an administrator of an organization; prints the one-time link with which they
    set their password (and, at first sign-in, their second factor)."""
    from silkgate.console import service

    with platform_session() as platform:
        token = service.create_administrator(platform, org, login, name, actor())
        hours = platform.settings.console_invite_hours
    console.print(f"invited [bold]{login.strip().lower()}[/bold] as administrator of {org}")
    link = f"{base_url.rstrip('/')}/console/invite/{token}"
    console.print(f"one-time link (valid {hours:g} h): {link}", soft_wrap=True)


i18n_app = typer.Typer(help="Translation catalogs (Babel).", no_args_is_help=True)
app.add_typer(i18n_app, name="i18n")


@i18n_app.command("extract")
def i18n_extract() -> None:
    """Extract every console string into the template catalog (messages.pot)."""
    from silkgate.console import catalogs

    path = catalogs.extract()
    console.print(f"wrote {path}")


@i18n_app.command("update")
def i18n_update() -> None:
    """Extract, then merge new strings into each language's catalog (to be translated)."""
    from silkgate.console import catalogs

    catalogs.extract()
    for path in catalogs.update():
        console.print(f"updated {path}")


@i18n_app.command("compile")
def i18n_compile() -> None:
    """Compile each language's catalog to the .mo file the console loads."""
    from silkgate.console import catalogs

    for path in catalogs.compile_all():
        console.print(f"compiled {path}")


@i18n_app.command("check")
def i18n_check() -> None:
    """Fail if a catalog lacks a string of the code and templates, or has a fuzzy or empty
    translation."""
    from silkgate.console import catalogs

    problems = catalogs.check()
    for p in problems:
        err_console.print(p, markup=False)
    if problems:
        raise typer.Exit(1)
    console.print("catalogs complete")
