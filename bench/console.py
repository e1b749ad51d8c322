"""Console page speed: server time per page (p50/p95) and pages per second at 32 concurrent
users, on SQLite and PostgreSQL filled with a year of demo traffic.

Run: .venv/bin/python bench/console.py [--backend sqlite|postgresql|both] [--items 1000000]
                                       [--requests 100] [--users 32] [--seconds 20]
Per backend the database is bulk-filled as ``bench/analytics_export.py`` fills it (``--items``
goods items on declarations of 4 items over 2025, both directions at Khorgos, with risk
assessments, bookings, gate events and inspections); then Chinese customs gets an administrator
and ``--users`` officer-supervisors, the Chinese broker an administrator and a clerk, and the
Chinese e-port operator an administrator and a supervisor, each joined and signed in with TOTP
through the console service; each page is read with the session of the role it is for. The console is served by uvicorn (one process, as ``silkgate serve``) in a child
process whose app is wrapped to answer a ``Server-Timing: app;dur=<ms>`` header — the time
from the request reaching the app to the last byte of the answer, without the client's or the
network's. Each page is fetched ``--requests`` times one after another (p50/p95 of that
header), then ``--users`` clients fetch the pages in turn for ``--seconds``, each with its own
session: completed pages per second, and their p95 server time. Target: p95 ≤ 150 ms per page.
The server runs without the background workers (risk assessor, webhook delivery, audit
checkpoints): the figures are the pages' own. ``--database URL`` measures a database this
script filled before (same ``--items``) instead of filling a new one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pyotp
from analytics_export import fill
from benchdb import backend_url

from silkgate.bootstrap import prepare_database
from silkgate.console import service as console
from silkgate.console.pages import cookie_names
from silkgate.core.platform import Platform
from silkgate.core.settings import Settings

PASSWORD = "correct horse battery staple"
COOKIE = cookie_names(secure=False)[0]  # served over plain http: no __Host- prefix


def settings(url: str, data_dir: Path) -> Settings:
    """Page serving only: the background workers (risk assessor, webhook delivery, audit
    checkpoints) are off, so the figures are the pages' own."""
    return Settings(
        database_url=url,
        demo_mode=True,
        data_dir=data_dir,
        console_cookie_secure=False,
        risk_worker=False,
        exchange_worker=False,
        audit_checkpoints=False,
    )


# ------------------------------------------------------------------ the server (child process)


def timed(app: Any) -> Any:
    """The ASGI app, answering with the time it spent in a Server-Timing header."""

    async def wrapper(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        start = time.perf_counter()
        held: list[Any] = []

        async def send_timed(message: Any) -> None:
            if message["type"] == "http.response.start":
                held.append(message)  # sent with the last body chunk, its time known then
                return
            if message["type"] == "http.response.body" and not message.get("more_body"):
                head = held.pop()
                ms = (time.perf_counter() - start) * 1000
                head["headers"] = [
                    *head["headers"],
                    (b"server-timing", f"app;dur={ms:.2f}".encode()),
                ]
                await send(head)
            elif held:  # a streamed answer: send the head untimed
                await send(held.pop())
            await send(message)

        await app(scope, receive, send_timed)

    return wrapper


def serve(url: str, data_dir: str, port: int) -> None:
    import uvicorn

    from silkgate.app import create_app

    app = timed(create_app(settings(url, Path(data_dir))))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# ------------------------------------------------------------------ the people


def _member_id(platform: Platform, key: str) -> str:
    from silkgate.demo.service import DEMO_ORGS
    from silkgate.registry.models import Organization

    name = next(d.name for d in DEMO_ORGS if d.key == key)
    with platform.db.session() as s:
        return next(o.member_id for o in s.query(Organization) if o.name == name)


def _enrol(platform: Platform, token: str, login: str) -> str:
    console.accept_invite(platform, token, PASSWORD, PASSWORD)
    session, _stage = console.sign_in(platform, login, PASSWORD)
    secret = console.totp_setup(platform, session).secret
    return console.verify_totp(platform, session, pyotp.TOTP(secret).now())


def _team(platform: Platform, key: str, tag: str, members: dict[str, list[str]]) -> list[str]:
    """An organization's administrator and its members (login suffix → roles), joined and
    signed in with TOTP; their sessions, the administrator's first."""
    admin = f"{tag}.{key}.admin"
    token = console.create_administrator(platform, _member_id(platform, key), admin, "Admin", "b")
    first = _enrol(platform, token, admin)
    signed = console.session(platform, first)
    assert signed is not None and signed.person is not None
    out = [first]
    for suffix, roles in members.items():
        login = f"{tag}.{key}.{suffix}"
        out.append(_enrol(platform, console.invite(platform, signed.person, login, suffix, roles),
                          login))  # fmt: skip
    return out


def people(platform: Platform, users: int, tag: str) -> dict[str, Any]:
    """Sessions by role: Chinese customs' administrator and ``users`` officer-supervisors; a
    clerk of the Chinese broker (a declarant whose declarations and bookings the fill made);
    a supervisor of the Chinese e-port operator."""
    customs = _team(platform, "cn-customs", tag,
                    {f"officer{n}": ["officer", "supervisor"] for n in range(users)})  # fmt: skip
    broker = _team(platform, "cn-broker", tag, {"clerk": ["officer"]})
    eport = _team(platform, "cn-eport", tag, {"super": ["officer", "supervisor"]})
    return {
        "admin": customs[0],
        "officers": customs[1:],
        "declarant": broker[1],
        "declarant_admin": broker[0],
        "operator": eport[1],
        "broker": _member_id(platform, "cn-broker"),
    }


def pages(platform: Platform, items: int, broker: str) -> dict[str, tuple[str, str]]:
    """The main pages, by name → (whose session, path). The fill's declarations are B<i>;
    even i are CN→KZ exports lodged in China, whose page shows Chinese customs the lane and
    the forms; the broker's own is the newest of those it lodged."""
    from sqlalchemy import select

    from silkgate.declarations.models import Declaration

    n_decl = items // 4
    one = f"B{(n_decl // 2) & ~1:023d}"
    with platform.db.session() as s:
        own = s.scalar(
            select(Declaration.id).where(Declaration.declarant == broker)
            .order_by(Declaration.id.desc()).limit(1)
        )  # fmt: skip
    return {
        "sign-in (signed out)": ("", "/console/sign-in"),
        "home": ("officer", "/console/"),
        "declarations (incoming)": ("officer", "/console/declarations"),
        "declarations (outgoing)": ("officer", "/console/declarations?direction=outgoing"),
        "declarations (LRN filter)": (
            "officer",
            f"/console/declarations?direction=all&lrn=L{n_decl // 3}",
        ),
        "declaration": ("officer", f"/console/declarations/{one}"),
        "people (admin)": ("admin", "/console/admin/users"),
        "account": ("officer", "/console/account"),
        "agreements (admin)": ("admin", "/console/admin/agreements"),
        "new agreement (admin)": ("admin", "/console/admin/new-agreement"),
        "subscriptions (admin)": ("declarant_admin", "/console/admin/subscriptions"),
        "my declarations (declarant)": ("declarant", "/console/my-declarations"),
        "my declaration (declarant)": ("declarant", f"/console/my-declarations/{own}"),
        "lodging form (declarant)": ("declarant", "/console/my-declarations/new"),
        "bookings (declarant)": ("declarant", "/console/bookings"),
        "queue board (public)": ("", "/console/queue/KHG-NZH"),
        "operator board": ("operator", "/console/operator/KHG-NZH"),
        "operator caps": ("operator", "/console/operator/KHG-NZH/caps"),
        "walk-in form (operator)": ("operator", "/console/operator/KHG-NZH/walk-ins"),
    }


def server_ms(r: httpx.Response) -> float:
    assert r.status_code == 200, (r.status_code, r.request.url, r.text[:300])
    return float(r.headers["server-timing"].split("dur=", 1)[1])


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def _cookies(sessions: dict[str, Any], who: str) -> dict[str, str]:
    if not who:
        return {}
    session = sessions["officers"][0] if who == "officer" else sessions[who]
    return {COOKIE: session}


def sequential(
    base: str, sessions: dict[str, Any], paths: dict[str, tuple[str, str]], n: int
) -> dict[str, Any]:
    """Each page ``n`` times, one request at a time, with the session of its role."""
    out = {}
    with httpx.Client(base_url=base, timeout=60) as c:
        for name, (who, path) in paths.items():
            cookies = _cookies(sessions, who)
            for _ in range(3):  # warm (the first read of a cold database is slow)
                server_ms(c.get(path, cookies=cookies, timeout=300))
            ms = [server_ms(c.get(path, cookies=cookies)) for _ in range(n)]
            out[name] = {"p50": statistics.median(ms), "p95": pct(ms, 0.95), "n": n}
    return out


async def concurrent(
    base: str, sessions: dict[str, Any], paths: dict[str, tuple[str, str]], seconds: float
) -> dict[str, Any]:
    """One client per officer session, fetching the officer pages in turn for ``seconds``."""
    officer_pages = [path for who, path in paths.values() if who == "officer"]
    done: list[float] = []
    stop = time.perf_counter() + seconds

    async def user(k: int, session: str) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=120, cookies={COOKIE: session}) as c:
            i = k
            while time.perf_counter() < stop:
                done.append(server_ms(await c.get(officer_pages[i % len(officer_pages)])))
                i += 1

    start = time.perf_counter()
    await asyncio.gather(*(user(k, s) for k, s in enumerate(sessions["officers"])))
    wall = time.perf_counter() - start
    return {
        "users": len(sessions["officers"]),
        "pages": len(done),
        "seconds": wall,
        "pages_per_s": len(done) / wall,
        "p50": statistics.median(done),
        "p95": pct(done, 0.95),
    }


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(kind: str, args: argparse.Namespace, tmp: Path) -> None:
    if args.database:  # filled before, by this script with the same --items
        url = args.database
        platform = Platform(settings(url, tmp))
    else:
        url = backend_url(kind, tmp, "console")
        platform = Platform(settings(url, tmp))
        prepare_database(platform)
        t = time.perf_counter()
        counts = fill(platform, args.items)
        print(f"[{kind}] filled in {time.perf_counter() - t:.0f} s: {counts}", flush=True)
    sessions = people(platform, args.users, f"b{int(time.time())}")
    paths = pages(platform, args.items, sessions["broker"])
    platform.close()
    port = free_port()
    child = subprocess.Popen(
        [sys.executable, __file__, "serve", url, str(tmp), str(port)], cwd=Path(__file__).parent
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.perf_counter() + 600  # a big database opens slowly on a busy machine
        while True:
            try:
                if httpx.get(base + "/api/v1/health", timeout=30).status_code == 200:
                    break
            except httpx.HTTPError:
                if time.perf_counter() > deadline or child.poll() is not None:
                    raise
            if time.perf_counter() > deadline or child.poll() is not None:
                raise SystemExit(f"[{kind}] the server did not answer /api/v1/health in time")
            time.sleep(0.5)
        print(f"[{kind}] load average {os.getloadavg()[0]:.1f}", flush=True)
        print("| backend | page | p50 ms | p95 ms | requests |")
        for name, r in sequential(base, sessions, paths, args.requests).items():
            print(f"| {kind} | {name} | {r['p50']:.1f} | {r['p95']:.1f} | {r['n']} |", flush=True)
        c = asyncio.run(concurrent(base, sessions, paths, args.seconds))
        print(
            f"| {kind} | {c['users']} concurrent users, {c['pages']} pages in "
            f"{c['seconds']:.1f} s | **{c['pages_per_s']:.1f} pages/s** | server p50 "
            f"{c['p50']:.1f} ms, p95 {c['p95']:.1f} ms |",
            flush=True,
        )
        print(f"[{kind}] load average {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        child.terminate()
        child.wait(timeout=30)


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--items", type=int, default=1_000_000, help="goods items (4 a declaration)")
    ap.add_argument("--requests", type=int, default=100, help="requests per page, one at a time")
    ap.add_argument("--users", type=int, default=32, help="concurrent users")
    ap.add_argument("--seconds", type=float, default=20.0, help="length of the concurrent run")
    ap.add_argument(
        "--database",
        help="a database this script filled before (with the same --items): no new fill",
    )
    args = ap.parse_args()
    if args.database:
        kind = "sqlite" if args.database.startswith("sqlite") else "postgresql"
        with tempfile.TemporaryDirectory(prefix=f"bench-console-{kind}-") as tmp:
            run(kind, args, Path(tmp))
        return
    for kind in ("sqlite", "postgresql") if args.backend == "both" else (args.backend,):
        with tempfile.TemporaryDirectory(prefix=f"bench-console-{kind}-") as tmp:
            run(kind, args, Path(tmp))


if __name__ == "__main__":
    main()
