"""Shared helpers for CLI commands: building the platform and printing errors."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from silkgate.core.errors import SilkgateError
from silkgate.core.platform import Platform
from silkgate.core.settings import Settings
from silkgate.core.signing import MissingPlatformKey

console = Console()
err_console = Console(stderr=True)


def actor() -> str:
    """Audit actor for commands run by an operator at the console."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
    except ValidationError as exc:
        for e in exc.errors(include_url=False):
            err_console.print(
                f"[red]settings error[/red] {'.'.join(map(str, e['loc'])) or '-'}: {e['msg']}"
            )
        raise typer.Exit(2) from None


@contextmanager
def platform_session(**overrides: object) -> Iterator[Platform]:
    """A platform for one command; domain errors become a red message and exit code 1."""
    platform = Platform(load_settings(**overrides))
    try:
        yield platform
    except SilkgateError as exc:
        err_console.print(f"[red]{escape(exc.title)}[/red]: {escape(exc.detail)}")
        for e in exc.errors:
            err_console.print(
                f"  {e.field or '(whole input)'} [{e.code}] {e.message}", markup=False
            )
        raise typer.Exit(1) from None
    except MissingPlatformKey as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    finally:
        platform.close()
