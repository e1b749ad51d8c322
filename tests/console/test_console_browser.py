"""The console in a real browser (Chromium through Playwright), in each of its four
languages: signing in with a password and a TOTP code, a customs officer's journey, a
supervisor's lane change, CSRF refusal, session expiry, one organization never reaching
another's declarations, and no serious or critical accessibility violation (axe-core)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from silkgate.console import i18n, labels
from silkgate.console.web import CSRF_REFUSED
from tests.console.live import LANGS, NAMES, PASSWORD, Live

pytestmark = pytest.mark.xdist_group("browser")


def _(lang: str, text: str) -> str:
    """``text`` as the page shows it in ``lang``."""
    return i18n.translations(lang).gettext(text)


def sign_in(page: Any, live: Live, login: str, lang: str = "en") -> None:
    """Sign in through the pages: login and password, then the authenticator's code."""
    page.goto("/console/sign-in")
    assert page.locator("html").get_attribute("lang") == i18n.html_lang(lang)
    page.get_by_label(_(lang, "Login")).fill(login)
    page.get_by_label(_(lang, "Password")).fill(PASSWORD)
    page.locator("#sign-in-submit").click()
    page.wait_for_url(re.compile(r"/console/sign-in/code"))
    page.locator("#code").fill(live.code(login))
    page.locator("#code-submit").click()
    page.wait_for_url(re.compile(r"/console/$"))
    assert NAMES[login] in page.get_by_test_id("signed-in-as").inner_text()


@pytest.mark.parametrize("lang", list(LANGS))
def test_an_officer_inspects_and_a_supervisor_changes_the_lane(
    live: Live, new_context: Any, lang: str
) -> None:
    _officer_and_supervisor(live, new_context, lang)


def test_the_officer_journey_on_postgresql(live_pg: Live, new_context: Any) -> None:
    """The same journey with the console over PostgreSQL (one language: the pages are the
    same; what differs is the database under them)."""
    _officer_and_supervisor(live_pg, new_context, "kk_KZ")


def _officer_and_supervisor(live: Live, new_context: Any, lang: str) -> None:
    decl = live.imports[lang]
    officer = new_context(lang).new_page()
    sign_in(officer, live, "asel.officer", lang)
    with officer.expect_navigation():  # loaded whole before its rows are counted
        officer.locator("#nav-declarations").click()
    assert officer.locator("#page-title").inner_text() == _(lang, "Declarations at your crossings")
    row = officer.locator(f'[data-testid="declaration-row"][data-declaration-id="{decl}"]')
    assert row.count() == 1  # incoming to Kazakhstan at Nur Zholy, by default
    assert officer.locator('[data-testid="declaration-row"]').count() >= len(LANGS) + 3
    row.locator("a").first.click()
    officer.wait_for_url(f"**/console/declarations/{decl}")
    # the assessed lane (random selection may make it any lane; the supervisor then picks
    # another)
    assessed = officer.get_by_test_id("lane").locator("span.lane").get_attribute("class") or ""
    lane = assessed.removeprefix("lane lane-")
    assert lane in labels.LANES
    assert _(lang, labels.LANES[lane]) in officer.get_by_test_id("lane").inner_text()
    target = "yellow" if lane == "red" else "red"
    assert officer.get_by_test_id("lane-reasons").locator("li").count() >= 1
    assert officer.locator("#override-form").count() == 0  # officers do not change lanes
    officer.locator("#outcome-discrepancy").check()
    officer.locator("#kind-1").select_option("misdescribed_goods")
    officer.locator("#text-1").fill("Cartons hold a different grade of steel")
    officer.locator("#item-1").fill("1")
    officer.locator("#inspection-submit").click()
    officer.wait_for_url(f"**/console/declarations/{decl}*")
    assert officer.get_by_test_id("inspection-outcome").inner_text() == _(
        lang, labels.OUTCOMES["discrepancy"]
    )

    supervisor = new_context(lang).new_page()
    sign_in(supervisor, live, "marat.supervisor", lang)
    supervisor.goto(f"/console/declarations/{decl}")
    supervisor.locator(f"#override-lane-{target}").check()
    supervisor.locator("#override-reason").fill("Inspection found misdescribed goods")
    supervisor.locator("#override-submit").click()
    supervisor.wait_for_url(f"**/console/declarations/{decl}*")
    assert _(lang, labels.LANES[target]) in supervisor.get_by_test_id("lane").inner_text()
    assert (
        "Inspection found misdescribed goods" in supervisor.get_by_test_id("override").inner_text()
    )
    # the officer's page, reloaded, shows the supervisor's lane too
    officer.reload()
    assert _(lang, labels.LANES[target]) in officer.get_by_test_id("lane").inner_text()


def test_a_form_with_a_wrong_csrf_token_is_refused(live: Live, new_context: Any) -> None:
    page = new_context("ru_KZ").new_page()
    sign_in(page, live, "marat.supervisor", "ru_KZ")
    decl = live.imports["en"]
    page.goto(f"/console/declarations/{decl}")
    before = page.get_by_test_id("lane").inner_text()
    page.locator('#override-form input[name="csrf_token"]').evaluate(
        "el => { el.value = 'forged' + el.value.slice(6); }"
    )
    page.locator("#override-lane-yellow").check()
    page.locator("#override-reason").fill("a forged request")
    with page.expect_navigation() as nav:
        page.locator("#override-submit").click()
    assert nav.value.status == 403
    assert page.get_by_test_id("error-message").inner_text() == _("ru_KZ", CSRF_REFUSED)
    page.goto(f"/console/declarations/{decl}")
    assert page.get_by_test_id("lane").inner_text() == before  # nothing changed


def test_an_expired_session_leads_back_to_sign_in(live: Live, new_context: Any) -> None:
    page = new_context("kk_KZ").new_page()
    sign_in(page, live, "asel.officer", "kk_KZ")
    page.goto("/console/declarations")
    assert page.locator('[data-testid="declaration-row"]').count() > 0
    live.clock.advance(minutes=live.platform.settings.console_session_idle_minutes + 1)
    page.goto("/console/declarations")
    assert re.search(r"/console/sign-in", page.url)
    assert page.locator("#sign-in-form").count() == 1
    assert page.locator('[data-testid="declaration-row"]').count() == 0


def test_another_organization_never_reaches_these_declarations(
    live: Live, new_context: Any
) -> None:
    page = new_context("zh_Hans_CN").new_page()
    sign_in(page, live, "dos.officer", "zh_Hans_CN")  # customs at another crossing
    for direction in ("incoming", "outgoing", "all"):
        page.goto(f"/console/declarations?direction={direction}")
        assert page.locator('[data-testid="declaration-row"]').count() == 0
    for decl in [*live.imports.values(), *live.exports]:
        answer = page.goto(f"/console/declarations/{decl}")
        assert answer is not None and answer.status == 404
        assert "BROWSER-" not in page.content() and "EXP-" not in page.content()
    # nor does its administrator's page show the other organization's people
    admin = new_context("en").new_page()
    sign_in(admin, live, "dos.admin")
    admin.goto("/console/admin/users")
    logins = admin.locator('[data-testid="person-row"]').evaluate_all(
        "rows => rows.map(r => r.dataset.login)"
    )
    assert "dos.officer" in logins and "asel.officer" not in logins


# --------------------------------------------------------------------------- accessibility

PAGES = {  # who (None: signed out) → the main pages they see
    None: ["/console/sign-in"],
    "kz.admin": ["/console/", "/console/admin/users", "/console/account"],
    "marat.supervisor": ["/console/declarations", "/console/declarations/{decl}"],
}


def axe_violations(page: Any, axe_source: str) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations of the page (WCAG 2.x A and AA rules)."""
    page.evaluate(axe_source)
    result = page.evaluate(
        """async () => (await axe.run(document, {runOnly: {type: 'tag',
             values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}}))
             .violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
             .map(v => ({id: v.id, impact: v.impact, help: v.help,
                         nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"""
    )
    return list(result)


def test_the_accessibility_check_finds_what_it_should(new_context: Any, axe_source: str) -> None:
    page = new_context().new_page()
    page.set_content(
        '<html><body><main><input type="text">'
        '<p style="color:#bbb;background:#fff">faint</p></main></body></html>'
    )
    found = {v["id"] for v in axe_violations(page, axe_source)}
    assert {"label", "color-contrast"} <= found


@pytest.mark.parametrize("lang", list(LANGS))
def test_the_main_pages_have_no_serious_accessibility_violation(
    live: Live, new_context: Any, axe_source: str, lang: str
) -> None:
    found: dict[str, list[dict[str, Any]]] = {}
    for who, paths in PAGES.items():
        page = new_context(lang).new_page()
        if who is not None:
            sign_in(page, live, who, lang)
        for path in paths:
            answer = page.goto(path.format(decl=live.imports[lang]))
            assert answer is not None and answer.status == 200, path
            found[path] = axe_violations(page, axe_source)
    bad = {k: v for k, v in found.items() if v}
    assert not bad, json.dumps(bad, ensure_ascii=False, indent=1)
