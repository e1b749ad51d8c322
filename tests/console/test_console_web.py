"""The console's pages: sign-in with TOTP, cookies, CSRF, expiry, languages and formatting."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from silkgate.console import catalogs, i18n
from silkgate.console import service as console
from silkgate.core.platform import Platform
from tests.conftest import one_backend
from tests.console.browser import Browser, csrf_of
from tests.console.people import PASSWORD, admin, join, world

LANGS = {"en": "en", "ru_KZ": "ru-KZ", "kk_KZ": "kk-KZ", "zh_Hans_CN": "zh-Hans-CN"}


def _title(language: str, english: str) -> str:
    return i18n.translations(language).gettext(english)


def test_sign_in_with_totp_through_the_pages(platform: Platform) -> None:
    w = world(platform)
    join(w, console.create_administrator(platform, w.ids["kz-customs"], "aigerim", "Aigerim", "t"))
    b = Browser(platform)
    assert b.get("/console/").headers["location"].startswith("/console/sign-in")
    r = b.post("/console/sign-in", {"login": "aigerim", "password": PASSWORD})
    assert r.status_code == 303 and r.headers["location"].startswith("/console/sign-in/code")
    # between the password and the code only the code pages answer
    assert b.get("/console/account").headers["location"].startswith("/console/sign-in")
    home = b.sign_in(w, "aigerim")
    assert "Aigerim" in home.text and 'data-testid="organization"' in home.text
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("__Host-sg_session="))
    attrs = {a.strip().split("=")[0].lower() for a in cookie.split(";")}
    assert {"httponly", "secure", "samesite", "path"} <= attrs and "samesite=lax" in cookie.lower()
    assert "domain" not in attrs


def test_cookie_is_not_secure_only_when_configured(platform: Platform) -> None:
    w = world(platform)
    join(w, console.create_administrator(platform, w.ids["cn-carrier"], "boss", "Boss", "t"))
    platform.settings.console_cookie_secure = False
    b = Browser(platform)
    r = b.post("/console/sign-in", {"login": "boss", "password": PASSWORD})
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("sg_session="))
    assert "secure" not in cookie.lower() and "httponly" in cookie.lower()


def test_wrong_password_and_wrong_code_are_refused_on_the_page(platform: Platform) -> None:
    w = world(platform)
    admin(w, "kz-customs", "boss")
    b = Browser(platform, "ru-KZ")
    r = b.post("/console/sign-in", {"login": "boss", "password": "nope nope nope"})
    assert r.status_code == 401 and _title("ru_KZ", console_failed()) in r.text
    r = b.post("/console/sign-in", {"login": "boss", "password": PASSWORD})
    page = b.get(r.headers["location"])
    wrong = b.client.post(
        "/console/sign-in/code", data={"csrf_token": csrf_of(page.text), "code": "12345x"}
    )
    assert wrong.status_code == 401 and 'id="code-error"' in wrong.text


def console_failed() -> str:
    from silkgate.console.web import SIGN_IN_FAILED

    return SIGN_IN_FAILED


def test_forms_without_the_csrf_token_are_refused(platform: Platform) -> None:
    w = world(platform)
    admin(w, "cn-carrier", "boss")
    b = Browser(platform)
    b.get("/console/sign-in")
    for data in ({}, {"csrf_token": "forged"}):
        r = b.client.post("/console/sign-in", data={"login": "boss", "password": PASSWORD, **data})
        assert r.status_code == 403 and not any(
            "sg_session=" in c for c in r.headers.get_list("set-cookie")
        )
    # a token from another browser does not do either
    other = Browser(platform)
    token = csrf_of(other.get("/console/sign-in").text)
    r = b.client.post(
        "/console/sign-in", data={"login": "boss", "password": PASSWORD, "csrf_token": token}
    )
    assert r.status_code == 403
    b.sign_in(w, "boss")
    r = b.client.post("/console/sign-out", data={"csrf_token": token})
    assert r.status_code == 403 and b.get("/console/account").status_code == 200
    r = b.client.post("/console/language", data={"language": "kk_KZ", "next": "/console/"})
    assert r.status_code == 403
    assert b.post("/console/sign-out", {}, from_page="/console/").status_code == 303
    assert b.get("/console/account").status_code == 303


def test_an_idle_session_ends(platform: Platform) -> None:
    w = world(platform)
    admin(w, "cn-carrier", "boss")
    b = Browser(platform)
    b.sign_in(w, "boss")
    w.clock.advance(minutes=platform.settings.console_session_idle_minutes + 1)
    r = b.get("/console/account")
    assert r.status_code == 303 and r.headers["location"].startswith("/console/sign-in")
    assert any(c.startswith('__Host-sg_session=""') for c in r.headers.get_list("set-cookie"))


def test_invitation_page_sets_the_password(platform: Platform) -> None:
    w = world(platform)
    token = console.create_administrator(platform, w.ids["cn-carrier"], "li.wei", "Li Wei", "t")
    b = Browser(platform, "zh-CN")
    page = b.get(f"/console/invite/{token}")
    assert page.status_code == 200 and "Li Wei" in page.text and 'lang="zh-Hans-CN"' in page.text
    bad = b.post(f"/console/invite/{token}", {"password": "short", "confirm": "short"})
    assert bad.status_code == 422 and 'id="password-error"' in bad.text
    assert _title("zh_Hans_CN", "The password needs 12 to 256 characters.") in bad.text
    ok = b.post(f"/console/invite/{token}", {"password": PASSWORD, "confirm": PASSWORD})
    assert ok.status_code == 303 and "done=joined" in ok.headers["location"]
    assert b.get(f"/console/invite/{token}").status_code == 404


def test_language_follows_the_browser_then_the_choice_then_the_account(platform: Platform) -> None:
    w = world(platform)
    admin(w, "kz-customs", "boss")
    b = Browser(platform, "kk-KZ,ru;q=0.8")
    assert 'lang="kk-KZ"' in b.get("/console/sign-in").text
    r = b.post(
        "/console/language",
        {"language": "ru_KZ", "next": "/console/sign-in?next=/console/account"},
        from_page="/console/sign-in",
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/console/sign-in?next=")
    assert 'lang="ru-KZ"' in b.get(r.headers["location"]).text
    # signed in, the choice is kept with the account: another browser gets it too
    b.sign_in(w, "boss")
    b.post(
        "/console/language",
        {"language": "zh_Hans_CN", "next": "/console/account"},
        from_page="/console/account",
    )
    other = Browser(platform, "en")
    assert 'lang="zh-Hans-CN"' in other.sign_in(w, "boss").text
    # the switcher never sends anyone off the console
    r = b.post(
        "/console/language",
        {"language": "en", "next": "https://evil.example/"},
        from_page="/console/",
    )
    assert r.headers["location"].startswith("/console/")
    r = b.post("/console/language", {"language": "xx", "next": "/console/"}, from_page="/console/")
    assert r.status_code == 422


@pytest.mark.parametrize("language", list(LANGS))
def test_every_page_renders_in_each_language(platform: Platform, language: str) -> None:
    one_backend(platform, "the pages in a language")
    w = world(platform)
    invite = console.create_administrator(platform, w.ids["kz-customs"], "boss", "Boss", "t")
    b = Browser(platform, LANGS[language])
    pages = {
        "/console/sign-in": "Sign in",
        f"/console/invite/{invite}": "Join",
    }
    for path, title in pages.items():
        r = b.get(path)
        assert r.status_code == 200, path
        assert f'lang="{LANGS[language]}"' in r.text
        assert f"<title>{_title(language, title)} · Silkgate</title>" in r.text, path
        assert 'href="#main"' in r.text and '<main id="main"' in r.text
    join(w, invite)
    b.post("/console/sign-in", {"login": "boss", "password": PASSWORD})
    code_page = b.get("/console/sign-in/code")
    assert f"<title>{_title(language, 'Two-step sign-in')} · Silkgate</title>" in code_page.text
    b.sign_in(w, "boss")
    for path, title in {"/console/": "Home", "/console/account": "Your account"}.items():
        r = b.get(path)
        assert (
            r.status_code == 200
            and f"<title>{_title(language, title)} · Silkgate</title>" in r.text
        )
    if language != "en":  # really translated, not the English fallback
        assert _title(language, "Your account") != "Your account"


def test_the_console_catalogs_are_complete_and_current() -> None:
    assert catalogs.check() == []


def test_the_catalog_check_finds_missing_fuzzy_and_stale_strings(tmp_path: Path) -> None:
    from babel.messages.pofile import read_po, write_po

    root = tmp_path / "locale"
    shutil.copytree(i18n.LOCALE_DIR, root)
    path = catalogs.po_path("kk_KZ", root)
    with path.open("rb") as f:
        cat = read_po(f, locale="kk_KZ")
    cat["Sign in"].string = ""
    cat["Sign out"].flags.add("fuzzy")
    cat.delete("Language")
    cat.add("A string no page uses", "Ешбір бет қолданбайтын жол")
    with path.open("wb") as f:
        write_po(f, cat)
    problems = catalogs.check(root)
    assert "kk_KZ: untranslated 'Sign in'" in problems
    assert "kk_KZ: fuzzy 'Sign out'" in problems
    assert "kk_KZ: missing 'Language'" in problems
    assert any("no longer used 'A string no page uses'" in p for p in problems)
    assert not any(p.startswith("ru_KZ") for p in problems)


def test_accept_language_picks_the_console_language() -> None:
    assert i18n.from_accept_language("zh-CN,zh;q=0.9,en;q=0.8") == "zh_Hans_CN"
    assert i18n.from_accept_language("de-DE, kk;q=0.5, ru;q=0.7") == "ru_KZ"
    assert i18n.from_accept_language("de, fr") is None
    assert i18n.from_accept_language("ru;q=0, en;q=0.1") == "en"
    assert i18n.choose(None, None, "de") == "en"
    assert i18n.choose("kk_KZ", "ru_KZ", "zh") == "kk_KZ"
    assert i18n.choose(None, "ru_KZ", "zh") == "ru_KZ"


def test_dates_numbers_money_and_names_per_locale() -> None:
    ru, kk, zh, en = (
        i18n.Formatter(x, "Asia/Almaty") for x in ("ru_KZ", "kk_KZ", "zh_Hans_CN", "en")
    )
    assert ru.money(1234.5, "KZT") == "1\xa0234,50\xa0₸"
    assert "₸" in kk.money(10, "KZT") and "¥" in zh.money(10, "CNY")
    assert ru.number(1234567.5) == "1\xa0234\xa0567,5" and en.number(1234567.5) == "1,234,567.5"
    at = datetime(2026, 12, 3, 10, 5, tzinfo=UTC)
    assert "15:05" in ru.datetime(at) and "дек" in ru.datetime(at)
    assert "2026年12月3日" in zh.datetime(at)
    assert kk.country("CN") == "Қытай" and ru.country("KZ") == "Казахстан"
    assert zh.country("KZ") == "哈萨克斯坦" and en.country("KZ") == "Kazakhstan"
    assert ru.currency("KZT") == "Тенге" and "теңге" in kk.currency("KZT").lower()
    assert "坚戈" in zh.currency("KZT") and en.currency("CNY") == "Yuan Renminbi"


def test_repeated_failures_lock_the_account_on_the_page(platform: Platform) -> None:
    w = world(platform)
    admin(w, "cn-carrier", "boss")
    b = Browser(platform)
    for _ in range(platform.settings.console_max_failed_signins):
        r = b.post("/console/sign-in", {"login": "boss", "password": "not the password"})
        assert r.status_code == 401
    r = b.post("/console/sign-in", {"login": "boss", "password": PASSWORD})
    assert r.status_code == 401 and 'id="sign-in-error"' in r.text  # the same answer as before
    w.clock.advance(minutes=platform.settings.console_lockout_minutes + 1)
    assert "Boss" in b.sign_in(w, "boss").text


def test_optional_totp_from_the_account_page_is_then_asked_for(platform: Platform) -> None:
    from tests.console.browser import SECRET_RE
    from tests.console.people import code, member

    w = world(platform)
    boss, _ = admin(w, "cn-carrier", "boss")
    member(w, boss, "driver", ["officer"])  # no second factor needed
    b = Browser(platform)
    b.sign_in(w, "driver")
    account = b.get("/console/account")
    assert 'id="totp-setup"' in account.text
    page = b.get("/console/sign-in/code?next=/console/account")
    secret = SECRET_RE.search(page.text)
    assert secret
    w.secrets["driver"] = secret.group(1)
    w.clock.advance(seconds=30)
    r = b.client.post(
        "/console/sign-in/code",
        data={
            "csrf_token": csrf_of(page.text),
            "code": code(w, "driver"),
            "next": "/console/account",
        },
    )
    assert r.status_code == 303 and "done=totp" in r.headers["location"]
    assert 'id="totp-setup"' not in b.follow(r).text
    _, stage = console.sign_in(platform, "driver", PASSWORD)
    assert stage == "password"  # from now on the code is asked for


def test_names_and_text_from_people_are_escaped(platform: Platform) -> None:
    w = world(platform)
    token = console.create_administrator(
        platform, w.ids["cn-carrier"], "boss", "<script>alert(1)</script>", "t"
    )
    b = Browser(platform)
    page = b.get(f"/console/invite/{token}")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
