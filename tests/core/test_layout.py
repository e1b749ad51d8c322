"""core/ stays at the bottom: it imports no domain package (authentication is the registry's)."""

from __future__ import annotations

import ast
from pathlib import Path

import silkgate

CORE = Path(silkgate.__file__).parent / "core"
DOMAINS = ("registry", "declarations", "risk", "twin", "demo", "codelists")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_core_imports_no_domain_package() -> None:
    bad = {
        f"{path.name}: {module}"
        for path in CORE.glob("*.py")
        for module in _imports(path)
        if any(module == f"silkgate.{d}" or module.startswith(f"silkgate.{d}.") for d in DOMAINS)
    }
    assert not bad, sorted(bad)


def test_bearer_authentication_lives_in_the_registry() -> None:
    from silkgate.core import http
    from silkgate.registry import auth

    assert not hasattr(http, "current_caller")
    assert auth.current_caller.__module__ == "silkgate.registry.auth"
