"""Helpers for twin tests: small scenarios built in code, and src/ on the path if needed."""

from __future__ import annotations

import sys
from pathlib import Path

try:  # the package may not be installed in the venv yet (the lead owns pyproject)
    import silkgate  # noqa: F401
except ImportError:  # pragma: no cover - depends on the environment
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

import pytest
from twin_builders import two_sided


@pytest.fixture
def small_crossing() -> dict[str, object]:
    return two_sided()
