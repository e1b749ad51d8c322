"""Real-browser fixtures: one live console and one Chromium per test session (shared by the
``browser`` xdist group), a new browser context per test.

The browser is Debian's Chromium (``/usr/bin/chromium``, ``apt-get install chromium``;
``SILKGATE_TEST_CHROMIUM`` names another); Playwright never downloads one. Without it the
browser tests skip, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import _postgres_database
from tests.console.live import CHROMIUM, LANGS, Live, live_console

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def _missing(what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} (required under CI=true; .ci/run installs it)")
    pytest.skip(what)


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory, chromium: Any) -> Iterator[Live]:
    """The console served on a free port over a fresh SQLite database, demo data in it
    (after the browser, so a missing browser skips at once)."""
    with live_console(tmp_path_factory.mktemp("live")) as running:
        yield running


@pytest.fixture(scope="session")
def live_pg(tmp_path_factory: pytest.TempPathFactory, chromium: Any) -> Iterator[Live]:
    """The same console over PostgreSQL, in a database of its own (the journeys that run on
    both backends take it)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    url = _postgres_database(f"browser_{worker}")
    with live_console(tmp_path_factory.mktemp("live_pg"), url=url) as running:
        yield running


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless Chromium for the whole session."""
    if not os.access(CHROMIUM, os.X_OK):
        _missing(f"no Chromium at {CHROMIUM}: apt-get install -y chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed: pip install -e '.[dev]'")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def new_context(chromium: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Makes browser contexts (own cookies) speaking a language, pointed at the test's live
    console (``live_pg`` when the test takes it, else ``live``); all closed after the test."""
    which = "live_pg" if "live_pg" in request.fixturenames else "live"
    live: Live = request.getfixturevalue(which)
    made: list[Any] = []

    def make(lang: str = "en", **kw: Any) -> Any:
        kw.setdefault("viewport", {"width": 1280, "height": 900})
        ctx = chromium.new_context(
            base_url=live.url,
            locale=LANGS[lang],
            extra_http_headers={"Accept-Language": LANGS[lang]},
            **kw,
        )
        ctx.set_default_timeout(30_000)  # a loaded 2-core machine is slow
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.exists():
        _missing(f"axe-core is not installed at {AXE}: npm ci (in the repository root)")
    return AXE.read_text(encoding="utf-8")
