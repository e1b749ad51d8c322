"""Live pages in a real browser: the public queue board refreshes its figures in place (no
reload) as the customs change the day's cap, the pause button holds them, and resuming
brings them up to date; the operator's board leaves a form being filled alone."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from silkgate.queue import service as queue
from silkgate.queue import waiting
from silkgate.queue.schemas import CapIn, StageIn
from tests.console.live import Live
from tests.console.test_console_browser_carrier import _broker
from tests.console.test_console_browser_operator import _sign_in as _operator_sign_in
from tests.factories import caller

pytestmark = pytest.mark.xdist_group("browser")
CAP = '[data-testid="queue-direction"][data-exit="CN"] [data-testid="queue-cap"]'
STAGE = '[data-testid="board-side"][data-side="CN"] [data-testid="stage-capacity"]'


def _today(live: Live) -> dt.date:
    p = live.platform
    return queue.local_today(p, p.clock())


def _cap_changes(live: Live, daily_cap: int) -> None:
    """Both customs set a new CN→KZ daily cap from today (the crossing's day)."""
    p = live.platform
    for side in ("cn-customs", "kz-customs"):
        cap = CapIn(crossing="KHG-NZH", exit_country="CN", entry_country="KZ",
                    valid_from=_today(live), daily_cap=daily_cap)  # fmt: skip
        queue.set_cap(p, caller(p, live.ids, side), cap)


def _stage_changes(live: Live, capacity: int) -> None:
    """Chinese customs change the CN→KZ stage's capacity (trucks at the gate at once)."""
    p = live.platform
    stage = StageIn(crossing="KHG-NZH", exit_country="CN", entry_country="KZ", capacity=capacity)
    waiting.set_stage(p, caller(p, live.ids, "cn-customs"), stage)


def _number(page: Any, selector: str) -> int:
    return int(re.sub(r"\D", "", page.locator(selector).inner_text()))


def test_the_public_board_moves_without_a_reload_and_can_be_paused(
    live: Live, new_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live.platform.settings, "console_live_seconds", 1.0)
    _broker(live)
    page = new_context("en").new_page()
    page.goto("/console/queue/KHG-NZH")
    before = _number(page, CAP)
    page.evaluate("window.sameDocument = true")
    toggle = page.locator("#live-toggle")
    assert toggle.is_visible() and toggle.inner_text() == "Pause live updates"
    _cap_changes(live, before + 1)
    expect(page.locator(CAP)).to_have_text(f"{before + 1:,}", timeout=15_000)
    assert page.evaluate("window.sameDocument") is True  # refreshed in place, not reloaded
    toggle.click()
    assert toggle.inner_text() == "Resume live updates"
    assert page.locator("#live-status").inner_text() == "Live updates are paused."
    _cap_changes(live, before + 2)
    page.wait_for_timeout(3_000)  # three refresh periods
    assert _number(page, CAP) == before + 1  # held while paused
    toggle.click()
    expect(page.locator(CAP)).to_have_text(f"{before + 2:,}", timeout=15_000)
    assert page.locator("#live-status").is_hidden()
    assert page.evaluate("window.sameDocument") is True


def test_a_refresh_answered_after_the_pause_is_not_shown(
    live: Live, new_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refresh sent just before the pause used to fill the paused board when its answer came
    in; the answer is held here until after the click, so the race is played every time."""
    monkeypatch.setattr(live.platform.settings, "console_live_seconds", 1.0)
    _broker(live)
    page = new_context("en").new_page()
    page.goto("/console/queue/KHG-NZH")
    before = _number(page, CAP)
    held: list[Any] = []

    def hold_the_first_refresh(route: Any) -> None:
        if route.request.headers.get("x-silkgate-live") == "1" and not held:
            held.append(route)
        else:
            route.continue_()

    board = re.compile(r".*/console/queue/KHG-NZH$")
    page.route(board, hold_the_first_refresh)
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "no live refresh was sent"
    _cap_changes(live, before + 1)
    page.locator("#live-toggle").click()
    held[0].continue_()  # answered now, with the new cap
    page.wait_for_timeout(2_000)
    assert _number(page, CAP) == before  # the board shows what it showed at the pause
    page.unroute(board)
    page.locator("#live-toggle").click()
    expect(page.locator(CAP)).to_have_text(f"{before + 1:,}", timeout=15_000)


def test_the_operator_board_keeps_a_form_being_filled(
    live: Live, new_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live.platform.settings, "console_live_seconds", 1.0)
    page = new_context("en").new_page()
    _operator_sign_in(page, live, "en")
    page.goto("/console/operator/KHG-NZH")
    before = _number(page, STAGE)
    page.locator("#cf-count").fill("2")
    page.locator("#page-title").click()  # focus leaves the form; the typed value stays
    _stage_changes(live, before + 1)
    page.wait_for_timeout(3_000)
    assert _number(page, STAGE) == before  # the board waits for the form
    assert page.locator("#cf-count").input_value() == "2"
    page.locator("#cf-count").fill("")  # back as it came: refreshes resume
    page.locator("#page-title").click()
    expect(page.locator(STAGE)).to_have_text(f"{before + 1:,}", timeout=15_000)
    _stage_changes(live, before)
