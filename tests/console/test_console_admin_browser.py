"""The administrator pages in a real browser, in each language: an organization's administrator
and a platform administrator walk through them (the audit verification run by clicking), another
organization's page answers 404, and axe-core finds no serious or critical violation, on a
desktop and on a phone's screen."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from silkgate.console import i18n
from silkgate.console import service as console
from tests.console.live import LANGS, PASSWORD, Live, _enrol
from tests.console.test_console_browser import axe_violations

pytestmark = pytest.mark.xdist_group("browser")
PLATFORM_ADMIN = "plat.admin"


def _platform_admin(live: Live) -> None:
    """The Karamay center's administrator, made once per live console."""
    if PLATFORM_ADMIN not in live.secrets:
        token = console.create_administrator(
            live.platform, live.ids["karamay"], PLATFORM_ADMIN, "Platform Admin", "test"
        )
        _enrol(live, token, PLATFORM_ADMIN)


def _sign_in(page: Any, live: Live, login: str) -> None:
    page.goto("/console/sign-in")
    page.locator("#login").fill(login)
    page.locator("#password").fill(PASSWORD)
    page.locator("#sign-in-submit").click()
    page.wait_for_url(re.compile(r"/console/sign-in/code"))
    page.locator("#code").fill(live.code(login))
    page.locator("#code-submit").click()
    page.wait_for_url(re.compile(r"/console/$"))


def _follow(page: Any, link: Any) -> None:
    """Click a link or a form's button and wait for the page it leads to (``count`` does not
    wait, so it must not see the page the click left)."""
    with page.expect_navigation():
        link.click()


@pytest.mark.parametrize("lang", list(LANGS))
def test_administrator_pages_in_a_browser(
    live: Live, new_context: Any, axe_source: str, lang: str
) -> None:
    _journey(live, new_context, axe_source, lang)


def _propose_and_revoke(
    page: Any, live: Live, axe_source: str, found: dict[str, Any], words: Any
) -> None:
    """Propose an agreement through the form (its page then asks for the signature), then
    revoke it, so each language's run starts without a live proposal that would overlap."""
    page.goto("/console/admin/agreements")
    _follow(page, page.locator("#propose-agreement"))
    page.locator("#ag-category-choice").select_option("kpi_aggregates")
    _follow(page, page.locator("#category-submit"))
    found["proposal form"] = axe_violations(page, axe_source)
    page.locator("#ag-consumers").fill(live.ids["cn-customs"])
    page.get_by_test_id("field-choices").locator("input").first.check()
    page.locator('input[name="purposes"][value="statistics"]').check()
    _follow(page, page.locator("#agreement-submit"))
    assert page.locator("#sign-form-1").count() == 1, page.content()[:2000]
    assert page.get_by_test_id("agreement-status").first.inner_text() == words.gettext(
        "Proposed, awaiting signatures"
    )
    found["agreement to sign"] = axe_violations(page, axe_source)
    page.locator("#revoke-reason").fill("browser test")
    _follow(page, page.locator("#revoke-submit"))
    assert page.get_by_test_id("agreement-status").first.inner_text() == words.gettext("Revoked")


def _journey(live: Live, new_context: Any, axe_source: str, lang: str) -> None:
    _platform_admin(live)
    found: dict[str, Any] = {}
    words = i18n.translations(lang)
    for size in ({"width": 1280, "height": 900}, {"width": 390, "height": 844}):
        page = new_context(lang, viewport=size).new_page()
        _sign_in(page, live, "kz.admin")
        _follow(page, page.locator("#nav-agreements"))
        assert page.locator("#page-title").inner_text() == words.gettext("Data-sharing agreements")
        builtin = '[data-testid="agreement-row"]:not([data-agreement-id^="agr-"])'
        _follow(page, page.locator(builtin).first.locator("a"))
        assert page.get_by_test_id("signature-row").count() >= 1
        assert page.locator('[data-testid="signature-row"][data-valid="no"]').count() == 0
        found[f"agreement {size['width']}"] = axe_violations(page, axe_source)
        if size["width"] == 1280:
            _propose_and_revoke(page, live, axe_source, found, words)
        own = f"/console/admin/organizations/{live.ids['kz-customs']}"
        for path in ("/console/admin/organizations", own, "/console/admin/subscriptions"):
            answer = page.goto(path)
            assert answer is not None and answer.status == 200, path
            found[f"{path} {size['width']}"] = axe_violations(page, axe_source)
        rows = page.goto("/console/admin/organizations")
        assert rows is not None and page.get_by_test_id("organization-row").count() == 1
        other = page.goto(f"/console/admin/organizations/{live.ids['cn-broker']}")
        assert other is not None and other.status == 404
    page = new_context(lang).new_page()
    _sign_in(page, live, PLATFORM_ADMIN)
    _follow(page, page.locator("#nav-audit"))
    _follow(page, page.locator("#audit-verify"))
    result = page.get_by_test_id("audit-result")  # the run is in the background: the page
    expect(result).to_have_attribute("data-ok", "yes", timeout=60_000)  # refreshes itself
    page.reload()  # the earlier runs' table is outside the refreshed part
    assert page.get_by_test_id("run-person").first.inner_text() == PLATFORM_ADMIN
    found["audit"] = axe_violations(page, axe_source)
    page.goto("/console/admin/organizations")
    assert page.get_by_test_id("organization-row").count() >= len(live.ids)
    _follow(page, page.locator("#register-organization"))
    page.locator("#organization-submit").click()  # nothing filled: refused by input
    expect(page.locator('[data-field="roles"]')).to_be_visible()
    found["registration"] = axe_violations(page, axe_source)
    bad = {k: v for k, v in found.items() if v}
    assert not bad, json.dumps(bad, ensure_ascii=False, indent=1)
