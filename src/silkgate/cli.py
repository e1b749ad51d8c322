"""The `silkgate` command."""

from __future__ import annotations

from typing import Any

import typer

from silkgate.analytics.cli import app as analytics_app
from silkgate.audit.cli import app as audit_app
from silkgate.audit.cli import receipt_app
from silkgate.console.cli import app as console_app
from silkgate.core.cli_support import console, err_console, load_settings, platform_session
from silkgate.declarations.cli import app as declarations_app
from silkgate.exchange.agreements.cli import app as agreements_app
from silkgate.exchange.cli import app as exchange_app
from silkgate.gates.cli import app as gates_app
from silkgate.gates.cli import kpi_app
from silkgate.queue.cli import app as queue_app
from silkgate.registry.cli import key_app, org_app
from silkgate.risk.cli import app as risk_app
from silkgate.twin.cli import app as twin_app

app = typer.Typer(
    help="Silkgate: pre-arrival declarations and border data exchange.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
platform_key_app = typer.Typer(help="The platform's Ed25519 signing key.", no_args_is_help=True)

app.add_typer(db_app, name="db")
app.add_typer(org_app, name="org")
app.add_typer(key_app, name="key")
app.add_typer(declarations_app, name="declarations")
app.add_typer(audit_app, name="audit")
app.add_typer(receipt_app, name="receipt")
app.add_typer(platform_key_app, name="platform-key")
app.add_typer(risk_app, name="risk")
app.add_typer(twin_app, name="twin")
app.add_typer(queue_app, name="queue")
app.add_typer(gates_app, name="gates")
app.add_typer(kpi_app, name="kpi")
app.add_typer(exchange_app, name="exchange")
app.add_typer(agreements_app, name="agreements")
app.add_typer(analytics_app, name="analytics")
app.add_typer(console_app, name="console")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply migrations up to the latest revision and load reference data."""
    from silkgate.bootstrap import prepare_database

    with platform_session() as platform:
        prepare_database(platform)
        console.print(f"database at head: {platform.settings.database_url.split('@')[-1]}")


@platform_key_app.command("generate")
def platform_key_generate(
    force: bool = typer.Option(False, help="Replace an existing key"),
) -> None:
    """Create the platform signing key file (owner-readable only)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from silkgate.core.signing import (
        configured_platform_key,
        pin_public_key,
        platform_key_path,
        public_key_b64,
        write_private_key_file,
    )

    settings = load_settings()
    path = platform_key_path(settings)
    if path.exists() and not force:
        console.print(f"[red]{path} exists[/red]; use --force to replace it")
        raise typer.Exit(1)
    pinned = settings.verify_keys_path
    old = configured_platform_key(settings) if path.exists() else None
    if old is not None:  # rotation: entries signed with the old key must still verify
        pin_public_key(pinned, public_key_b64(old))
    key = Ed25519PrivateKey.generate()
    write_private_key_file(path, key)
    pin_public_key(pinned, public_key_b64(key))
    console.print(f"wrote {path}; public key {public_key_b64(key)}", markup=False)
    console.print(
        f"pinned in {pinned} (keep a copy outside this machine; audit verify trusts only "
        "pinned keys)",
        markup=False,
    )


@app.command("serve")
def serve(
    host: str | None = typer.Option(None, help="Default: SILKGATE_HOST"),
    port: int | None = typer.Option(None, help="Default: SILKGATE_PORT"),
    workers: int = typer.Option(1, min=1, help="Worker processes"),
    access_log: bool = typer.Option(True, "--access-log/--no-access-log"),
) -> None:
    """Serve the API (OpenAPI docs at /docs)."""
    import uvicorn

    from silkgate.core import serving
    from silkgate.core.signing import MissingPlatformKey, load_platform_key

    settings = load_settings()
    try:
        load_platform_key(settings)  # refuse to start without a signing key, before forking
    except MissingPlatformKey as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    options: dict[str, Any] = {
        "factory": True,
        "host": host or settings.host,
        "port": port or settings.port,
        "workers": workers,
        "log_level": settings.log_level.lower(),
        "access_log": access_log,
        # SIGTERM stops the server even with requests in flight: they get this long to finish.
        "timeout_graceful_shutdown": max(1, round(settings.shutdown_grace)),
    }
    if workers > 1 and settings.serve_reuse_port and serving.supports_reuse_port():
        serving.run_workers(uvicorn.Config("silkgate.app:create_app", **options))
        return
    uvicorn.run("silkgate.app:create_app", **options)


@app.command("demo")
def demo(
    days: int = typer.Option(3, min=1, max=60, help="Days of demo traffic"),
    per_day: int = typer.Option(200, min=1, max=5000, help="Declarations per day"),
    seed: int = typer.Option(7, help="Random seed"),
    serve_api: bool = typer.Option(True, "--serve/--no-serve", help="Serve the API afterwards"),
    port: int | None = typer.Option(None),
    play_crossing: bool = typer.Option(
        True,
        "--crossing/--no-crossing",
        help="Book slots and play both checkpoints' gate events (else lodge declarations only)",
    ),
) -> None:
    """Create the database, seed the registry, demo traffic and the crossing played through it
    (bookings, gate events), print demo keys, serve."""
    import os

    os.environ.setdefault("SILKGATE_DEMO_MODE", "true")
    from silkgate.demo.service import run_demo_setup

    with platform_session(demo_mode=True) as platform:
        run_demo_setup(platform, days=days, per_day=per_day, seed=seed, play_crossing=play_crossing)
        url = f"http://{platform.settings.host}:{port or platform.settings.port}"
    console.print(
        f"Try: curl -H 'Authorization: Bearer <key>' '{url}/api/v1/declarations?limit=5'",
        soft_wrap=True,
        markup=False,
    )
    if serve_api:
        serve(host=None, port=port, workers=1, access_log=True)
