"""`silkgate audit verify`, `silkgate audit checkpoint` and `silkgate receipt verify`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

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


receipt_app = typer.Typer(help="Signed receipts of writes and records.", no_args_is_help=True)


def _read_input(path: Path) -> bytes:
    try:
        return sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
    except OSError as exc:
        err_console.print(f"[red]cannot read[/red] {escape(str(path))}: {escape(str(exc))}")
        raise typer.Exit(1) from None


@receipt_app.command("verify")
def receipt_verify(
    file: Path = typer.Argument(
        ...,
        help="The receipt: a Silkgate-Receipt header value (compact JWS, with or without the "
        "header name) or a JSON receipt from …/receipt; - reads standard input.",
    ),
    key: list[str] = typer.Option(
        [], "--key", help="A trusted platform public key (base64 raw Ed25519). Repeatable."
    ),
    keys_file: Path | None = typer.Option(
        None, "--keys-file", help="Trusted platform public keys, one per line (# comments)."
    ),
    request: Path | None = typer.Option(
        None, "--request", help="The request body as sent: its SHA-256 must be the receipt's."
    ),
    response: Path | None = typer.Option(
        None, "--response", help="The response body as received: its SHA-256 must match too."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the receipt's claims as JSON."),
) -> None:
    """Check a receipt offline with the platform's public key only (no database, no server).

    Exits 0 when the signature, the checkpoint inside and the given bodies all match; 1 naming
    what does not (or what could not be read).
    """
    from silkgate.audit.keys import BadPinnedKey, check_key
    from silkgate.audit.receipts import BadReceipt, check_receipt
    from silkgate.core.signing import key_id, read_pinned_keys

    try:
        raw: list[str] = [check_key(k, "--key") for k in key]
        if keys_file is not None:
            if not keys_file.exists():
                err_console.print(f"[red]no such keys file[/red] {escape(str(keys_file))}")
                raise typer.Exit(1)
            raw += [check_key(k, f"{keys_file} line {n}") for n, k in read_pinned_keys(keys_file)]
        if not raw:  # this platform's own pinned keys
            from silkgate.audit.keys import trusted_keys
            from silkgate.core.cli_support import load_settings

            trusted = trusted_keys(load_settings())
        else:
            trusted = {key_id(k): k for k in raw}
    except BadPinnedKey as exc:
        err_console.print(f"[red]bad key[/red]: {escape(str(exc))}")
        raise typer.Exit(1) from None
    if not trusted:
        err_console.print("[red]no trusted key[/red]: pass --key or --keys-file")
        raise typer.Exit(1)
    text = _read_input(file).decode("utf-8", "replace")
    try:
        result = check_receipt(
            text,
            trusted,
            _read_input(request) if request is not None else None,
            _read_input(response) if response is not None else None,
        )
    except BadReceipt as exc:
        err_console.print(f"[red]receipt not valid[/red]: {escape(str(exc))}")
        raise typer.Exit(1) from None
    if as_json:
        console.print_json(json.dumps(result.claims))
    if not result.ok:
        for problem in result.problems:
            err_console.print(f"[red]receipt not valid[/red]: {escape(problem)}")
        raise typer.Exit(1)
    console.print(escape(_summary(result.kind, result.claims, request, response)))


def _summary(kind: str, claims: dict[str, Any], request: Path | None, response: Path | None) -> str:
    cp = claims.get("checkpoint") or {}
    held = f"; checkpoint at entry {cp.get('seq')} verified" if cp else ""
    if kind == "record":
        return (
            f"receipt valid: declaration {claims.get('declaration_id')} version "
            f"{claims.get('version')} {claims.get('status')}, audit entry "
            f"{(claims.get('entry') or {}).get('seq')}, issued {claims.get('issued_at')}{held}"
        )
    req = claims.get("request") or {}
    resp = claims.get("response") or {}
    audit = claims.get("audit") or {}
    signed = " (signed by the organization)" if req.get("signature") else ""
    entries = (
        f"audit entries {audit.get('first_seq')}–{audit.get('last_seq')}"
        if audit
        else "no audit entry"
    )
    bodies = [f"{n} body matches" for n, f in (("request", request), ("response", response)) if f]
    return (
        f"receipt valid: {claims.get('organization')} {req.get('method')} {req.get('target')}"
        f"{signed} → {resp.get('status')}, {entries}, issued {claims.get('issued_at')}{held}"
        + (f"; {', '.join(bodies)}" if bodies else "")
    )
