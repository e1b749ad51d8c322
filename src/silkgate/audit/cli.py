"""`silkgate audit verify` and `silkgate audit checkpoint`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import Progress

from silkgate.core.cli_support import console, err_console, platform_session

app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@app.command("verify")
def verify(
    checkpoint: list[Path] = typer.Option(
        [],
        "--checkpoint",
        help="A signed checkpoint (JSON, or JSON Lines of several) to hold the log against; "
        "the platform's own checkpoint file is always used when it exists. Repeatable.",
    ),
) -> None:
    """Check the chain (links, hashes, signatures by pinned keys, signed checkpoints), then
    that every stored declaration, item, assessment, inspection, profile, model,
    organization, e-queue cap, slot, booking (with its deposits), stage, webhook subscription
    and outbox message matches the log (see docs/audit.md).

    Exits 1 naming the first broken entry, or each entity whose rows differ from the log.
    """
    from silkgate.audit.verify import CannotVerify, verify_all

    with platform_session() as platform, Progress(console=err_console, transient=True) as progress:
        task = progress.add_task("verifying", total=None)

        def advance(n: int, total: int | None) -> None:
            if total is not None:
                progress.update(task, total=total)
            progress.update(task, advance=n)

        try:
            outcome = verify_all(platform, checkpoint, advance)
        except CannotVerify as exc:
            err_console.print(f"[red]cannot verify[/red]: {escape(str(exc))}")
            raise typer.Exit(2) from None
    chain = outcome.chain
    if not chain.ok:
        err_console.print(
            f"[red]audit log broken at entry {chain.broken_seq}[/red]: {escape(chain.reason)} "
            f"({chain.checked} entries before it are intact)"
        )
        raise typer.Exit(1)
    held = ""
    if outcome.checkpoints:
        held = (
            f"; held against {len(outcome.checkpoints)} signed checkpoint(s), newest at entry "
            f"{max(outcome.checkpoints)}"
        )
    console.print(
        f"audit log intact: {chain.checked} entries, every hash and signature verified{held}"
    )
    tables = outcome.tables
    assert tables is not None
    for p in tables.problems:
        err_console.print(f"[red]{escape(p.entity)}[/red]: {escape(p.what)}")
    if tables.more:
        err_console.print(f"… and {tables.more} more problem(s)")
    counts = ", ".join(f"{n} {kind}" for kind, n in sorted(tables.checked.items()))
    if not tables.ok:
        raise typer.Exit(1)
    console.print(f"stored records match the log: {counts or 'nothing stored yet'}")


@app.command("checkpoint")
def checkpoint() -> None:
    """Sign the chain's head now and append it to the checkpoint file; print it as JSON."""
    from silkgate.audit import checkpoints

    with platform_session() as platform:
        cp = checkpoints.make(platform)
        path = platform.settings.checkpoint_path
        written = checkpoints.append(path, cp)
    console.print_json(json.dumps(cp.as_dict()))
    note = f"appended to {path}" if written else f"{path} already ends with this head"
    err_console.print(escape(note))
