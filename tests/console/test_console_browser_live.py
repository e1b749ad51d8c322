"""Live pages in a real browser: the public queue board refreshes its figures in place (no
reload) as trucks book and check in, the pause button holds them, and resuming
brings them up to date; the operator's board leaves a form being filled alone."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from silkgate.queue import service as queue
from silkgate.queue import waiting
from silkgate.queue.schemas import BookingIn
from tests.console.live import Live
from tests.console.test_console_browser_carrier import _broker, _declaration
from tests.console.test_console_browser_operator import _sign_in as _operator_sign_in
from tests.factories import caller

pytestmark = pytest.mark.xdist_group("browser")
BOOKED = '[data-testid="queue-direction"][data-exit="CN"] [data-testid="queue-booked"]'
_N = iter(range(40, 10_000))


def _truck_checks_in(live: Live) -> None:
    """A CN→KZ booking of today (the crossing's day), checked in at the waiting area."""
    p = live.platform
    decl, plate = _declaration(live, next(_N))
    body = BookingIn.model_validate(
        {
            "crossing": "KHG-NZH",
            "exit_country": "CN",
            "entry_country": "KZ",
            "slot": {"day": queue.local_today(p, p.clock()).isoformat(), "hour": 23},
            "truck": {"tractor_plate": plate, "tractor_nationality": "CN",
                      "vin": f"LZZ1CCND0J{next(_N):07d}"},
            "driver": {"name": "Wang Lei", "document_number": f"E{next(_N):08d}"},
            "declaration_ids": [decl],
        }
    )  # fmt: skip
    booking = queue.book(p, caller(p, live.ids, "cn-broker"), body)
    waiting.move(p, caller(p, live.ids, "cn-customs"), booking.id, "check_in", p.clock())


def _booked(page: Any) -> int:
    """The CN→KZ places booked today, as the page shows them ("N of M")."""
    return int(page.locator(BOOKED).inner_text().split()[0].replace(",", ""))


def _shows_booked(n: int) -> re.Pattern[str]:
    return re.compile(rf"^\s*{n:,} of ")


def test_the_public_board_moves_without_a_reload_and_can_be_paused(
    live: Live, new_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live.platform.settings, "console_live_seconds", 1.0)
    _broker(live)
    page = new_context("en").new_page()
    page.goto("/console/queue/KHG-NZH")
    before = _booked(page)
    page.evaluate("window.sameDocument = true")
    toggle = page.locator("#live-toggle")
    assert toggle.is_visible() and toggle.inner_text() == "Pause live updates"
    _truck_checks_in(live)
    expect(page.locator(BOOKED)).to_have_text(_shows_booked(before + 1), timeout=15_000)
    assert page.evaluate("window.sameDocument") is True  # refreshed in place, not reloaded
    toggle.click()
    assert toggle.inner_text() == "Resume live updates"
    assert page.locator("#live-status").inner_text() == "Live updates are paused."
    _truck_checks_in(live)
    page.wait_for_timeout(3_000)  # three refresh periods
    assert _booked(page) == before + 1  # held while paused
    toggle.click()
    expect(page.locator(BOOKED)).to_have_text(_shows_booked(before + 2), timeout=15_000)
    assert page.locator("#live-status").is_hidden()
    assert page.evaluate("window.sameDocument") is True


def test_the_operator_board_keeps_a_form_being_filled(
    live: Live, new_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live.platform.settings, "console_live_seconds", 1.0)
    _broker(live)
    page = new_context("en").new_page()
    _operator_sign_in(page, live, "en")
    page.goto("/console/operator/KHG-NZH")
    trucks = page.locator('[data-testid="board-side"][data-side="CN"] [data-testid="board-truck"]')
    before = trucks.count()  # waiting, called or in the stage
    page.locator("#cf-count").fill("2")
    page.locator("#page-title").click()  # focus leaves the form; the typed value stays
    _truck_checks_in(live)
    page.wait_for_timeout(3_000)
    assert trucks.count() == before  # the board waits for the form
    assert page.locator("#cf-count").input_value() == "2"
    page.locator("#cf-count").fill("")  # back as it came: refreshes resume
    page.locator("#page-title").click()
    expect(trucks).to_have_count(before + 1, timeout=15_000)
