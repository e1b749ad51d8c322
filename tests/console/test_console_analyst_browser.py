"""The analyst pages in a real browser (Chromium through Playwright), in each language: an
officer of the Karamay analysis centre signs in with a password and a TOTP code, runs a job
(a bad day answered on its input first) and sees its chart and rows; and no serious or
critical accessibility violation (axe-core) on the jobs list, a job's result and the twin."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from silkgate.console import i18n
from silkgate.console import service as console
from silkgate.console.analyst_labels import ERRORS, JOB_TITLES
from tests.analytics.jobs.small_lake import small_lake
from tests.console.live import LANGS, PASSWORD, Live, _enrol, _person
from tests.console.test_console_browser import axe_violations

pytestmark = pytest.mark.xdist_group("browser")
LOGIN = "ana.lyst"


def _(lang: str, text: str) -> str:
    return i18n.translations(lang).gettext(text)


def _analyst(live: Live, tmp_path_factory: pytest.TempPathFactory) -> None:
    """An administrator and an officer of the Karamay centre, and a small lake, made once
    per live console."""
    if "analyst" in live.made:
        return
    p = live.platform
    p.settings.analytics_lake_dir = small_lake(tmp_path_factory.mktemp("lake"))
    p.settings.analytics_min_cell_size = 1  # an analyst sees no smaller group: the lake is tiny
    invite = console.create_administrator(p, live.ids["karamay"], "ana.admin", "Ana Admin", "t")
    _enrol(live, invite, "ana.admin")
    boss = _person(live, "ana.admin")
    _enrol(live, console.invite(p, boss, LOGIN, "Ana Lyst", ["officer"]), LOGIN)
    live.made.add("analyst")


def _sign_in(page: Any, live: Live, lang: str) -> None:
    """Login and password, then the authenticator's code (the centre requires it)."""
    page.goto("/console/sign-in")
    page.get_by_label(_(lang, "Login")).fill(LOGIN)
    page.get_by_label(_(lang, "Password")).fill(PASSWORD)
    page.locator("#sign-in-submit").click()
    page.wait_for_url(re.compile(r"/console/sign-in/code"))
    page.locator("#code").fill(live.code(LOGIN))
    page.locator("#code-submit").click()
    page.wait_for_url(re.compile(r"/console/$"))


@pytest.mark.parametrize("lang", list(LANGS))
def test_an_analyst_runs_a_job_and_sees_its_chart(
    live: Live,
    new_context: Any,
    axe_source: str,
    tmp_path_factory: pytest.TempPathFactory,
    lang: str,
) -> None:
    _journey(live, new_context, axe_source, tmp_path_factory, lang)


def test_the_analyst_journey_on_postgresql(
    live_pg: Live, new_context: Any, axe_source: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The same journey with the console over PostgreSQL (one language)."""
    _journey(live_pg, new_context, axe_source, tmp_path_factory, "en")


def _journey(
    live: Live,
    new_context: Any,
    axe_source: str,
    tmp_path_factory: pytest.TempPathFactory,
    lang: str,
) -> None:
    _analyst(live, tmp_path_factory)
    page = new_context(lang).new_page()
    _sign_in(page, live, lang)
    found = {}
    page.locator("#nav-analytics").click()
    page.wait_for_url("**/console/analytics")
    assert page.locator('[data-testid="analytics-job"]').count() == len(JOB_TITLES)
    found["jobs"] = axe_violations(page, axe_source)
    page.locator("#job-trade_flows").click()
    page.wait_for_url("**/console/analytics/trade_flows")
    assert page.locator("#page-title").inner_text() == _(lang, JOB_TITLES["trade_flows"])
    page.locator("#param-hs").fill("8")
    page.locator("#run-submit").click()
    error = page.locator('[data-field="hs"]')
    assert error.inner_text() == _(lang, ERRORS["unknown_hs"])
    assert page.locator("#param-hs").get_attribute("aria-invalid") == "true"
    page.locator("#param-hs").fill("")
    page.locator("#param-since").fill("2025-01-01")
    page.locator("#run-submit").click()
    chart = page.get_by_test_id("chart").locator("img")
    chart.wait_for()
    assert chart.is_visible() and chart.get_attribute("alt")
    assert chart.evaluate("img => img.complete && img.naturalWidth > 0")
    assert page.locator('[data-testid="result-row"]').count() == 3
    assert page.get_by_test_id("row-count").inner_text() == "3"
    found["result"] = axe_violations(page, axe_source)
    page.locator("#nav-twin").click()
    page.wait_for_url("**/console/twin")
    found["twin"] = axe_violations(page, axe_source)
    bad = {k: v for k, v in found.items() if v}
    assert not bad, json.dumps(bad, ensure_ascii=False, indent=1)
