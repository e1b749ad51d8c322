"""`silkgate org` and `silkgate key`: register organizations and manage their API keys."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from silkgate.core.cli_support import actor, console, err_console, platform_session
from silkgate.registry import service
from silkgate.registry.schemas import OrganizationCreate, Role

org_app = typer.Typer(help="Member organizations.", no_args_is_help=True)
key_app = typer.Typer(
    help="API keys of organizations (the token is shown once).", no_args_is_help=True
)


@org_app.command("create")
def org_create(
    member_id: str = typer.Argument(help="COUNTRY/CLASS/CODE, e.g. KZ/COM/180240000039"),
    name: str = typer.Option(..., help="Legal name"),
    role: list[Role] = typer.Option(..., "--role", help="Repeat for several roles"),
    crossing: list[str] = typer.Option([], "--crossing", help="Crossing served (customs)"),
    public_key: str | None = typer.Option(None, help="Base64 Ed25519 public key"),
) -> None:
    """Register an organization of an SCO member state."""
    with platform_session() as platform:
        body = OrganizationCreate(
            member_id=member_id,
            name=name,
            roles=role,
            crossings=crossing,
            signing_public_key=public_key,
        )
        org = service.create_organization(platform, body, actor())
        console.print(f"registered [bold]{org.member_id}[/bold] ({', '.join(org.roles)})")


@org_app.command("list")
def org_list() -> None:
    """List organizations with roles and crossings."""
    with platform_session() as platform:
        table = Table("member id", "name", "roles", "crossings", "signing key")
        for org, crossings in service.list_organizations(platform):
            table.add_row(
                org.member_id,
                org.name,
                ", ".join(org.roles),
                ", ".join(crossings),
                "yes" if org.signing_public_key else "-",
            )
        console.print(table)


@org_app.command("set-key")
def org_set_key(
    member_id: str,
    public_key_file: Path = typer.Argument(help="File holding the base64 Ed25519 public key"),
) -> None:
    """Register an organization's Ed25519 signing public key."""
    with platform_session() as platform:
        service.register_signing_key(
            platform, member_id, public_key_file.read_text().strip(), actor()
        )
        console.print(f"signing key registered for {member_id}")


@org_app.command("keygen")
def org_keygen(
    member_id: str,
    private_key_file: Path = typer.Option(
        ..., "--private-key-file", help="Where to write the private key (mode 0600)"
    ),
) -> None:
    """Generate an organization's Ed25519 key pair and register its public half.

    The private key is written for the organization to keep; Silkgate stores only the public key.
    """
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from silkgate.core.signing import public_key_b64, write_private_key_file

    if private_key_file.exists():
        console.print(f"[red]{private_key_file} exists[/red]; refusing to overwrite a private key")
        raise typer.Exit(1)
    key = Ed25519PrivateKey.generate()
    with platform_session() as platform:
        service.register_signing_key(platform, member_id, public_key_b64(key), actor())
        write_private_key_file(private_key_file, key)
        console.print(f"registered public key {public_key_b64(key)} for {member_id}")
        console.print(f"private key written to {private_key_file}")


@org_app.command("sign-request")
def org_sign_request(
    method: str = typer.Option(..., "--method", help="POST, PUT, PATCH or DELETE"),
    target: str = typer.Option(
        ..., "--target", help="Path and query exactly as sent, e.g. /api/v1/declarations"
    ),
    body: Path = typer.Option(..., "--body", help="The body file exactly as sent (- for stdin)"),
    key_file: Path = typer.Option(..., "--key-file", help="The organization's private key"),
    unencoded: bool = typer.Option(
        False, "--unencoded", help="RFC 7797 form (b64 false) instead of the standard one"
    ),
) -> None:
    """Print the X-JWS-Signature value for a write (signed locally; nothing is sent)."""
    import sys

    from silkgate.audit.submissions import sign_request
    from silkgate.core.signing import load_private_key

    try:
        key = load_private_key(key_file.read_text().strip())
        data = sys.stdin.buffer.read() if str(body) == "-" else body.read_bytes()
    except (OSError, ValueError) as exc:
        err_console.print(f"[red]cannot read[/red]: {exc}")
        raise typer.Exit(1) from None
    print(sign_request(key, method.upper(), target, data, encoded=not unencoded))


@org_app.command("sign-text")
def org_sign_text(
    file: Path = typer.Argument(..., help="The exact text to sign (- for stdin)"),
    key_file: Path = typer.Option(..., "--key-file", help="The organization's private key"),
) -> None:
    """Print the base64 Ed25519 signature of FILE's bytes (signed locally; nothing is sent):
    an agreement's terms or a gate event the console shows, to paste back into it."""
    import sys

    from silkgate.core.signing import b64, load_private_key

    try:
        key = load_private_key(key_file.read_text().strip())
        data = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
    except (OSError, ValueError) as exc:
        err_console.print(f"[red]cannot read[/red]: {exc}")
        raise typer.Exit(1) from None
    print(b64(key.sign(data)))


@key_app.command("create")
def key_create(
    member_id: str, label: str = typer.Option("default", help="What the key is for")
) -> None:
    """Issue an API key; the token is printed once and stored only as a hash."""
    with platform_session() as platform:
        key, token = service.issue_api_key(platform, member_id, label, actor())
        console.print(
            f"API key {key.prefix} for {member_id} ({label}). Store it now; it is not shown again:"
        )
        console.print(token, markup=False, highlight=False)


@key_app.command("list")
def key_list(member_id: str) -> None:
    """List an organization's keys with their last use."""
    with platform_session() as platform:
        table = Table("prefix", "label", "created", "last used", "revoked")
        for k in service.list_api_keys(platform, member_id):
            table.add_row(
                k.prefix,
                k.label,
                f"{k.created_at:%Y-%m-%d %H:%M}",
                f"{k.last_used_at:%Y-%m-%d %H:%M}" if k.last_used_at else "-",
                f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "-",
            )
        console.print(table)


@key_app.command("revoke")
def key_revoke(prefix: str) -> None:
    """Revoke a key by its prefix; requests with it fail from now on."""
    with platform_session() as platform:
        service.revoke_api_key(platform, prefix, actor())
        console.print(f"revoked {prefix}")
