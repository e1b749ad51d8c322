"""A live console for real-browser tests and screenshots: uvicorn serving
``silkgate.app:create_app`` on a free port in a thread, on a fresh database seeded with the
demo registry, declarations lodged and assessed, and people created through the console
service (passwords and TOTP enrolled there, so the browser only signs in)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp
import uvicorn

from silkgate.app import create_app
from silkgate.bootstrap import prepare_database
from silkgate.console import service as console
from silkgate.core.platform import Platform
from silkgate.declarations import service as declarations
from silkgate.registry import service as registry
from silkgate.registry.schemas import OrganizationCreate, Role
from silkgate.risk.platform.worker import assess_pending
from tests.conftest import make_settings
from tests.factories import caller, export_cn_to_kz, seeded

CHROMIUM = os.environ.get("SILKGATE_TEST_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "correct horse battery staple"
# page language → the browser's Accept-Language
LANGS = {"en": "en", "ru_KZ": "ru-KZ", "kk_KZ": "kk-KZ", "zh_Hans_CN": "zh-Hans-CN"}
OTHER_CROSSING_ORG = "KZ/GOV/080940006055"  # a customs post at another crossing (Dostyk)
NAMES = {  # login → the person's name, as the pages show it
    "kz.admin": "Aigerim Nurlanovna",
    "asel.officer": "Asel Bekova",
    "marat.supervisor": "Marat Sadykov",
    "dos.admin": "Dos Admin",
    "dos.officer": "Dos Officer",
}


class ShiftedClock:
    """Real time plus an offset the tests move forward (a code is good once per 30 s step,
    sessions end after an idle time): no test waits on the wall clock."""

    def __init__(self) -> None:
        self.offset = timedelta()
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **kw: float) -> None:
        with self._lock:
            self.offset += timedelta(**kw)


@dataclass
class Live:
    """The running console and what the browser needs to know about its data."""

    url: str
    platform: Platform
    clock: ShiftedClock
    ids: dict[str, str]  # demo organization key → member id
    secrets: dict[str, str] = field(default_factory=dict)  # login → TOTP secret
    imports: dict[str, str] = field(default_factory=dict)  # language → declaration id (KZ)
    exports: list[str] = field(default_factory=list)  # CN→KZ exports lodged in China
    # people and settings a test module made in this console once (its helpers are shared)
    made: set[str] = field(default_factory=set)

    def code(self, login: str) -> str:
        """The person's next TOTP code, one step after any code used before (no waiting)."""
        self.clock.advance(seconds=30)
        return pyotp.TOTP(self.secrets[login]).at(self.clock().timestamp())


def _enrol(live: Live, token: str, login: str) -> None:
    """Join with the password, and set up TOTP when the organization requires it."""
    console.accept_invite(live.platform, token, PASSWORD, PASSWORD)
    session, stage = console.sign_in(live.platform, login, PASSWORD)
    if stage != "full":
        live.secrets[login] = console.totp_setup(live.platform, session).secret
        live.clock.advance(seconds=30)
        session = console.verify_totp(
            live.platform, session, pyotp.TOTP(live.secrets[login]).at(live.clock().timestamp())
        )
    console.sign_out(live.platform, session)


def _person(live: Live, login: str) -> console.Person:
    session, stage = console.sign_in(live.platform, login, PASSWORD)
    if stage != "full":
        live.clock.advance(seconds=30)
        code = pyotp.TOTP(live.secrets[login]).at(live.clock().timestamp())
        session = console.verify_totp(live.platform, session, code)
    signed = console.session(live.platform, session)
    assert signed is not None and signed.person is not None
    return signed.person


def populate(live: Live, extra_exports: int = 3) -> None:
    """Declarations (per language an import lodged in Kazakhstan, assessed, so Kazakh customs
    sees it incoming with its lane) and the people of Kazakh customs, another customs post and
    a broker."""
    p = live.platform
    kz_service = caller(p, live.ids, "kz-service")
    for lang in LANGS:
        body = export_cn_to_kz(f"BROWSER-{lang}")
        body["type"] = "import"
        live.imports[lang] = declarations.create(p, kz_service, body)[0].id
    broker = caller(p, live.ids, "cn-broker")
    for i in range(extra_exports):
        live.exports.append(declarations.create(p, broker, export_cn_to_kz(f"EXP-{i}"))[0].id)
    assess_pending(p)

    kz_admin = "kz.admin"
    _enrol(
        live,
        console.create_administrator(p, live.ids["kz-customs"], kz_admin, NAMES[kz_admin], "test"),
        kz_admin,
    )
    boss = _person(live, kz_admin)
    for login, roles in (
        ("asel.officer", ["officer"]),
        ("marat.supervisor", ["officer", "supervisor"]),
    ):
        _enrol(live, console.invite(p, boss, login, NAMES[login], roles), login)
    registry.create_organization(
        p,
        OrganizationCreate(
            member_id=OTHER_CROSSING_ORG,
            name="Dostyk customs post",
            roles=[Role.CUSTOMS],
            crossings=["ALA-DOS"],
        ),
        "test",
    )
    _enrol(
        live,
        console.create_administrator(
            p, OTHER_CROSSING_ORG, "dos.admin", NAMES["dos.admin"], "test"
        ),
        "dos.admin",
    )
    dos = _person(live, "dos.admin")
    _enrol(
        live,
        console.invite(p, dos, "dos.officer", NAMES["dos.officer"], ["officer"]),
        "dos.officer",
    )


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serve(platform: Platform) -> Iterator[str]:
    """Serve the app on a free port of 127.0.0.1 in a thread; yields its base URL."""
    sock = _free_socket()
    config = uvicorn.Config(
        create_app(platform=platform), log_level="warning", access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the console server did not start")
        time.sleep(0.02)
    host, port = sock.getsockname()[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def live_console(data_dir: Path, url: str | None = None, **settings: Any) -> Iterator[Live]:
    """A migrated, seeded database (SQLite under ``data_dir`` unless ``url``), populated,
    served over plain http (so cookies are not Secure-only)."""
    url = url or f"sqlite:///{data_dir / 'console.db'}"
    platform = Platform(make_settings(url, data_dir, console_cookie_secure=False, **settings))
    clock = ShiftedClock()
    platform.clock = clock
    try:
        prepare_database(platform)
        with serve(platform) as base:
            live = Live(base, platform, clock, seeded(platform))
            populate(live)
            yield live
    finally:
        platform.close()
