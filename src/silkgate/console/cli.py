"""`silkgate console`: an organization's first administrator."""

from __future__ import annotations

import typer

from silkgate.core.cli_support import actor, console, platform_session

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
