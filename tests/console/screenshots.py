"""Screenshots of the console's main pages in its four languages, at a desktop and a phone
width, into docs/console/ (``scripts/console-screenshots``). The same live console the
browser tests use: a fresh SQLite database with the demo registry and people, and (made here)
a platform administrator, an e-port operator, a broker's booker with a booking, and caps that
keep a share of the day for trucks without a booking, one of which is registered."""

from __future__ import annotations

import argparse
import datetime as dt
import re
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from silkgate.console import service as console
from silkgate.queue import service as queue
from silkgate.queue import walkin
from silkgate.queue.schemas import BookingIn, CapIn, WalkInIn
from tests.console.live import CHROMIUM, LANGS, PASSWORD, Live, _enrol, _person, live_console
from tests.factories import caller, export_cn_to_kz

OUT = Path(__file__).resolve().parents[2] / "docs" / "console"
SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
# page name → (who signs in (None: nobody), path, sizes)
PAGES = {
    "sign-in": (None, "/console/sign-in", ("desktop",)),
    "declarations": ("marat.supervisor", "/console/declarations", ("desktop", "phone")),
    "declaration": ("marat.supervisor", "/console/declarations/{decl}", ("desktop", "phone")),
    "people": ("kz.admin", "/console/admin/users", ("desktop",)),
    "agreements": ("kz.admin", "/console/admin/agreements", ("desktop",)),
    "new-agreement": ("kz.admin", "/console/admin/new-agreement", ("desktop",)),
    "new-organization": ("plat.admin", "/console/admin/new-organization", ("desktop",)),
    "walk-ins": ("ops.lead", "/console/operator/KHG-NZH/walk-ins", ("desktop", "phone")),
    "my-declaration": ("li.booker", "/console/my-declarations/{mine}", ("desktop", "phone")),
    "bookings": ("li.booker", "/console/bookings", ("desktop", "phone")),
    "booking": ("li.booker", "/console/bookings/{booking}", ("desktop", "phone")),
}
CN_TIME = dt.timezone(dt.timedelta(hours=8))  # the Khorgos checkpoint's clock


def populate_more(live: Live) -> dict[str, str]:
    """The people and queue data of the later pages: the Karamay center's administrator (a
    platform administrator), a supervisor of the Chinese e-port and a booker of the Chinese
    broker (each with their organization's administrator); caps on Khorgos–Nur Zholy from
    today on both sides keeping a tenth of the day for walk-ins, one walk-in registered; the
    broker's first two declarations booked on one truck for tomorrow. Returns the ids the
    page addresses name."""
    p = live.platform
    _enrol(
        live,
        console.create_administrator(
            p, live.ids["karamay"], "plat.admin", "Platform Admin", "test"
        ),
        "plat.admin",
    )
    for org, boss, login, name, roles in (
        ("cn-eport", "cn.eport.admin", "ops.lead", "Li Operator", ["officer", "supervisor"]),
        ("cn-broker", "cn.broker.admin", "li.booker", "Li Booker", ["officer"]),
    ):
        _enrol(live, console.create_administrator(p, live.ids[org], boss, "Admin", "test"), boss)
        _enrol(live, console.invite(p, _person(live, boss), login, name, roles), login)
    today = p.clock().astimezone(CN_TIME).date()
    for side in ("cn-customs", "kz-customs"):
        cap = CapIn(crossing="KHG-NZH", exit_country="CN", entry_country="KZ",
                    valid_from=today, daily_cap=240, live_share=0.1)  # fmt: skip
        queue.set_cap(p, caller(p, live.ids, side), cap)
    # the broker's first two exports (lodged by populate: no new row on the officer's list),
    # on their truck in one slot tomorrow
    truck = export_cn_to_kz()["transport"]
    booking = {"crossing": "KHG-NZH", "exit_country": "CN", "entry_country": "KZ",
               "slot": {"day": (today + dt.timedelta(days=1)).isoformat(), "hour": 10},
               "truck": {**truck, "vin": "LZZ1CCND0J0000001"},
               "driver": {"name": "Wang Lei", "document_number": "E12345678"},
               "declaration_ids": live.exports[:2]}  # fmt: skip
    made = queue.book(p, caller(p, live.ids, "cn-broker"), BookingIn.model_validate(booking))
    walk_in = {"crossing": "KHG-NZH", "exit_country": "CN", "entry_country": "KZ",
               "truck": {"tractor_nationality": "KZ", "tractor_plate": "123ABC02"}}  # fmt: skip
    walkin.register(p, caller(p, live.ids, "cn-eport"), WalkInIn.model_validate(walk_in))
    return {"mine": live.exports[0], "booking": made.id}


def sign_in(page: Page, live: Live, login: str) -> None:
    page.goto("/console/sign-in")
    page.fill("#login", login)
    page.fill("#password", PASSWORD)
    page.click("#sign-in-submit")
    page.wait_for_url(re.compile(r"/console/(sign-in/code|$)"))
    if "/sign-in/code" in page.url:  # not asked of people whose organization needs no TOTP
        page.fill("#code", live.code(login))
        page.click("#code-submit")
        page.wait_for_url(re.compile(r"/console/$"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as tmp,
        live_console(Path(tmp)) as live,
        sync_playwright() as pw,
    ):
        values = populate_more(live)
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for lang, accept in LANGS.items():
            for name, (who, path, sizes) in PAGES.items():
                for size in sizes:
                    ctx = browser.new_context(
                        base_url=live.url,
                        locale=accept,
                        extra_http_headers={"Accept-Language": accept},
                        viewport=SIZES[size],
                        device_scale_factor=1,
                        is_mobile=size == "phone",
                        has_touch=size == "phone",
                    )
                    page = ctx.new_page()
                    if who is not None:
                        sign_in(page, live, who)
                    answer = page.goto(path.format(decl=live.imports[lang], **values))
                    if answer is None or answer.status != 200:
                        raise SystemExit(f"{path} ({lang}, {size}) answered "
                                         f"{answer and answer.status}")  # fmt: skip
                    target = args.out / f"{name}-{lang}-{size}.png"
                    page.screenshot(path=str(target))
                    print(target.relative_to(args.out.parent.parent))
                    ctx.close()
        browser.close()


if __name__ == "__main__":
    main()
