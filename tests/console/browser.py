"""A console client: a TestClient over HTTPS (so Secure cookies flow) that fills in CSRF
tokens the way a browser submitting the page's form would."""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from silkgate.app import create_app
from silkgate.core.platform import Platform
from tests.console.people import PASSWORD, World, code

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
SECRET_RE = re.compile(r'data-testid="totp-secret" id="totp-secret">([A-Z2-7]+)<')


def csrf_of(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


#: The app serving the latest platform's browsers, as one deployment serves every browser:
#: building an app costs more than most of a test's requests (a test signs several people in,
#: each in their own browser). One entry only: an app holds its platform, so a cache of every
#: platform would keep each test's platform and app alive to the end of the run.
_LATEST: tuple[Platform, FastAPI] | None = None


def app_of(platform: Platform) -> FastAPI:
    """The app serving ``platform``'s browsers, built on the first one."""
    global _LATEST
    if _LATEST is None or _LATEST[0] is not platform:
        _LATEST = (platform, create_app(platform=platform))
    return _LATEST[1]


class Browser:
    """One browser (its own cookie jar) speaking one language."""

    def __init__(self, platform: Platform, language: str = "en") -> None:
        self.client = TestClient(
            app_of(platform),
            base_url="https://testserver",
            follow_redirects=False,
            headers={"Accept-Language": language},
        )

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.client.get(path, **kw)

    def post(
        self, path: str, data: dict[str, str], *, from_page: str | None = None
    ) -> httpx.Response:
        """Submit a form as the page ``from_page`` (default: ``path``) would, CSRF included."""
        page = self.get(from_page or path)
        return self.client.post(path, data={"csrf_token": csrf_of(page.text), **data})

    def follow(self, response: httpx.Response) -> httpx.Response:
        assert response.status_code == 303, response.text[:500]
        return self.get(response.headers["location"])

    def sign_in(self, w: World, login: str, password: str = PASSWORD) -> httpx.Response:
        """Sign in through the pages (setting up TOTP when asked); the home page."""
        r = self.get("/console/sign-in")  # a browser between password and code goes on there
        if r.status_code == 200:
            r = self.post("/console/sign-in", {"login": login, "password": password})
        assert r.status_code == 303, r.text[:500]
        if r.headers["location"].startswith("/console/sign-in/code"):
            page = self.get(r.headers["location"])
            secret = SECRET_RE.search(page.text)
            if secret:
                w.secrets[login] = secret.group(1)
            w.clock.advance(seconds=30)
            r = self.client.post(
                "/console/sign-in/code",
                data={
                    "csrf_token": csrf_of(page.text),
                    "code": code(w, login),
                    "next": "/console/",
                },
            )
            assert r.status_code == 303, r.text[:500]
        home = self.get(r.headers["location"])
        assert home.status_code == 200
        return home
