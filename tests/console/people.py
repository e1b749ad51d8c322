"""Console test helpers: an organization's people, signed in through the service layer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyotp

from silkgate.console import security
from silkgate.console import service as console
from silkgate.core.platform import Platform
from tests.factories import seeded

PASSWORD = "correct horse battery staple"


class Clock:
    """A settable clock for the platform (sessions, lock-out and TOTP read it)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@dataclass
class World:
    platform: Platform
    ids: dict[str, str]
    clock: Clock
    secrets: dict[str, str]  # login → TOTP secret of people who enrolled


def world(platform: Platform) -> World:
    clock = Clock()
    platform.clock = clock
    return World(platform, seeded(platform), clock, {})


def code(w: World, login: str, ahead: int = 0) -> str:
    """The TOTP code of a person's authenticator at the platform's time (+ steps ahead)."""
    totp = pyotp.TOTP(w.secrets[login])
    return totp.at(w.clock.now.timestamp() + ahead * totp.interval)


def join(w: World, token: str, password: str = PASSWORD) -> str:
    return console.accept_invite(w.platform, token, password, password)


def sign_in(w: World, login: str, password: str = PASSWORD) -> str:
    """Sign in fully (setting up TOTP on the way when needed); returns the session token."""
    token, stage = console.sign_in(w.platform, login, password)
    if stage == "full":
        return token
    if login not in w.secrets:
        w.secrets[login] = console.totp_setup(w.platform, token).secret
    w.clock.advance(seconds=30)  # a fresh time step: a code is good once
    return console.verify_totp(w.platform, token, code(w, login))


def admin(w: World, org_key: str, login: str) -> tuple[console.Person, str]:
    """An organization's administrator, joined and signed in."""
    invite = console.create_administrator(w.platform, w.ids[org_key], login, login.title(), "test")
    join(w, invite)
    token = sign_in(w, login)
    signed = console.session(w.platform, token)
    assert signed is not None and signed.stage == "full"
    return signed.person, token


def member(
    w: World, by: console.Person, login: str, roles: list[str]
) -> tuple[console.Person, str]:
    """A person invited by an administrator, joined and signed in."""
    join(w, console.invite(w.platform, by, login, login.title(), roles))
    token = sign_in(w, login)
    signed = console.session(w.platform, token)
    assert signed is not None
    return signed.person, token


__all__ = ["PASSWORD", "World", "code", "security"]
