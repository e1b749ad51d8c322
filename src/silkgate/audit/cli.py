"""`silkgate audit verify`: recompute the chain and the signatures."""

from __future__ import annotations

import typer
from rich.progress import Progress

from silkgate.audit import service
from silkgate.core.cli_support import console, err_console, platform_session

app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@app.command("verify")
def verify() -> None:
    """Check the chain (hash links, signatures), then that stored declarations match it.

    Exits 1 naming the first broken entry or declaration version.
    """
    with platform_session() as platform, Progress(console=err_console, transient=True) as progress:
        task = progress.add_task("verifying", total=None)

        def advance(n: int, total: int) -> None:
            progress.update(task, total=total, advance=n)

        _total, result = service.verify_log(platform.db, advance)
    if not result.ok:
        err_console.print(
            f"[red]audit log broken at entry {result.broken_seq}[/red]: {result.reason} "
            f"({result.checked} entries before it are intact)"
        )
        raise typer.Exit(1)
    console.print(f"audit log intact: {result.checked} entries, every hash and signature verified")
    from silkgate.declarations.reading import verify_versions

    with platform_session() as platform:
        versions = verify_versions(platform)
    if versions.broken is not None:
        err_console.print(f"[red]{versions.broken}[/red]: {versions.reason}")
        raise typer.Exit(1)
    console.print(f"declarations match the log: {versions.checked} versions re-hashed and found")
