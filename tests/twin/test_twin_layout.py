"""The twin's modules import each other without cycles (TYPE_CHECKING imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

import silkgate.twin

PKG = Path(silkgate.twin.__file__).parent


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("silkgate.twin"):
            out.add(node.module or "")
            out |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("silkgate.twin")}
    return out


def test_no_import_cycles() -> None:
    modules = {f"silkgate.twin.{p.stem}": p for p in PKG.glob("*.py") if p.stem != "__init__"}
    graph = {m: {i for i in _imports(p) if i in modules and i != m} for m, p in modules.items()}
    assert "silkgate.twin.engine" not in graph["silkgate.twin.stations"]

    def visit(m: str, path: list[str]) -> None:
        assert m not in path, " -> ".join([*path[path.index(m) :], m])
        for n in sorted(graph[m]):
            visit(n, [*path, m])

    for m in sorted(graph):
        visit(m, [])
