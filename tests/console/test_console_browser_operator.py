"""The e-port operator's pages in a real browser (Chromium through Playwright): a supervisor
of the Chinese e-port opens the board of both sides, sets a cap (a bad share answered on its
input first), calls trucks forward, gets a missing plate of a truck without a booking
answered on its input, asks for the text of a gate event to sign; and no serious
or critical accessibility violation (axe-core) on these pages."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from silkgate.console import i18n
from silkgate.console import service as console
from tests.console.live import LANGS, PASSWORD, Live, _enrol, _person
from tests.console.test_console_browser import axe_violations

pytestmark = pytest.mark.xdist_group("browser")
LOGIN = "ops.lead"


def _(lang: str, text: str) -> str:
    return i18n.translations(lang).gettext(text)


def _operator(live: Live) -> None:
    """An administrator and a supervisor of the Chinese e-port, made once per live console."""
    if "operator" in live.made:
        return
    p = live.platform
    invite = console.create_administrator(
        p, live.ids["cn-eport"], "cn.eport.admin", "E-port Admin", "test"
    )
    _enrol(live, invite, "cn.eport.admin")
    boss = _person(live, "cn.eport.admin")
    _enrol(live, console.invite(p, boss, LOGIN, "Li Operator", ["officer", "supervisor"]), LOGIN)
    live.made.add("operator")


def _sign_in(page: Any, live: Live, lang: str) -> None:
    """Password only: the e-port's officers need no second factor unless they choose one."""
    _operator(live)
    page.goto("/console/sign-in")
    page.get_by_label(_(lang, "Login")).fill(LOGIN)
    page.get_by_label(_(lang, "Password")).fill(PASSWORD)
    page.locator("#sign-in-submit").click()
    page.wait_for_url(re.compile(r"/console/$"))


@pytest.mark.parametrize("lang", list(LANGS))
def test_an_operator_sets_a_cap_and_calls_forward(live: Live, new_context: Any, lang: str) -> None:
    _journey(live, new_context, lang)


def test_the_operator_journey_on_postgresql(live_pg: Live, new_context: Any) -> None:
    """The same journey with the console over PostgreSQL (one language)."""
    _journey(live_pg, new_context, "ru_KZ")


def _journey(live: Live, new_context: Any, lang: str) -> None:
    page = new_context(lang, viewport={"width": 390, "height": 844}).new_page()  # a phone
    _sign_in(page, live, lang)
    page.locator("#nav-operator").click()
    page.locator("#board-KHG-NZH").click()
    page.wait_for_url("**/console/operator/KHG-NZH")
    assert page.locator('[data-testid="board-side"]').count() == 2
    assert (
        page.locator('[data-testid="board-side"][data-own="yes"]').get_attribute("data-side")
        == "CN"
    )
    page.locator("#op-caps").click()
    page.locator("#cap-valid_from").fill(f"{2030 + list(LANGS).index(lang)}-01-01")
    page.locator("#cap-daily_cap").fill("300")
    page.locator("#cap-live_share").fill("150")
    page.locator("#cap-submit").click()
    error = page.locator('[data-field="live_share"]')
    assert error.inner_text() == _(lang, "Enter a percentage from 0 to 100.")
    assert page.locator("#cap-live_share").get_attribute("aria-invalid") == "true"
    page.locator("#cap-live_share").fill("10")
    page.locator("#cap-submit").click()
    page.wait_for_url(re.compile(r"done=cap_set"))
    assert page.get_by_test_id("notice").is_visible()
    page.locator("#op-board").click()
    page.locator("#call-forward-submit").click()
    page.wait_for_url(re.compile(r"done=called"))
    assert page.get_by_test_id("notice").is_visible()
    # a truck without a booking: a missing plate is answered on its input (registering one
    # needs today's caps with a share for walk-ins: test_console_operator_walkins.py)
    page.locator("#op-walk-ins").click()
    page.locator("#wi-tractor_nationality").fill("KZ")
    with page.expect_navigation():  # the form comes back whole before it is read
        page.locator("#walk-in-submit").click()
    assert page.locator("#wi-tractor_plate").get_attribute("aria-invalid") == "true"
    assert page.locator('[data-field="tractor_plate"]').inner_text() == _(
        lang, "This field is needed."
    )
    assert page.locator("#wi-tractor_nationality").input_value() == "KZ"  # kept as typed
    page.locator("#op-gates").click()
    page.locator("#ge-read_point").select_option("gate_in")
    page.locator("#ge-plate").fill("ABC123")
    page.locator("#gate-event-submit").click()
    assert '"readPoint":"gate_in"' in page.get_by_test_id("to-sign-text").inner_text()


@pytest.mark.parametrize("lang", list(LANGS))
def test_the_operator_pages_have_no_serious_accessibility_violation(
    live: Live, new_context: Any, axe_source: str, lang: str
) -> None:
    page = new_context(lang).new_page()
    _sign_in(page, live, lang)
    found = {}
    for path in ("/console/operator", "/console/operator/KHG-NZH",
                 "/console/operator/KHG-NZH/caps", "/console/operator/KHG-NZH/gate-events",
                 "/console/operator/KHG-NZH/walk-ins"):  # fmt: skip
        answer = page.goto(path)
        assert answer is not None and answer.status == 200, path
        found[path] = axe_violations(page, axe_source)
    bad = {k: v for k, v in found.items() if v}
    assert not bad, json.dumps(bad, ensure_ascii=False, indent=1)
