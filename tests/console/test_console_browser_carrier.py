"""A broker's journey in a real browser, in each language, on a phone's screen: sign in, book
a crossing slot for a truck (a bad plate answered on its input first), see the booking with
its place in the queue and the truck's timeline, cancel it with a reason; and the public queue
board without signing in. No serious or critical accessibility violation (axe-core)."""

from __future__ import annotations

import datetime as dt
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from silkgate.console import i18n
from silkgate.console import service as console
from silkgate.declarations import service as declarations
from silkgate.queue import service as queue
from silkgate.queue.schemas import CapIn
from tests.console.live import LANGS, PASSWORD, Live, _enrol, _person
from tests.console.test_console_browser import axe_violations
from tests.factories import caller, export_cn_to_kz

pytestmark = pytest.mark.xdist_group("browser")
LOGIN = "li.booker"
PHONE = {"width": 390, "height": 844}
CN_TIME = dt.timezone(timedelta(hours=8))


def _(lang: str, text: str) -> str:
    return i18n.translations(lang).gettext(text)


def _broker(live: Live) -> None:
    """Caps on Khorgos–Nur Zholy from today on both sides, and a booker of the Chinese broker,
    made once per live console."""
    if "broker" in live.made:
        return
    p = live.platform
    today = datetime.now(CN_TIME).date()
    for side in ("cn-customs", "kz-customs"):
        cap = CapIn(crossing="KHG-NZH", exit_country="CN", entry_country="KZ",
                    valid_from=today, daily_cap=240)  # fmt: skip
        queue.set_cap(p, caller(p, live.ids, side), cap)
    invite = console.create_administrator(
        p, live.ids["cn-broker"], "cn.broker.admin", "Broker Admin", "test"
    )
    _enrol(live, invite, "cn.broker.admin")
    boss = _person(live, "cn.broker.admin")
    _enrol(live, console.invite(p, boss, LOGIN, "Li Booker", ["officer"]), LOGIN)
    live.made.add("broker")


def _declaration(live: Live, n: int) -> tuple[str, str]:
    """An accepted CN→KZ export of the broker's with its own tractor: its id and plate."""
    plate = f"新F{70000 + n:05d}"
    body = export_cn_to_kz(
        f"PHONE-{n}",
        transport={"tractor_plate": plate, "tractor_nationality": "CN",
                   "trailer_plate": f"新F{n:04d}挂", "trailer_nationality": "CN"},
    )  # fmt: skip
    out, _ = declarations.create(live.platform, caller(live.platform, live.ids, "cn-broker"), body)
    return out.id, plate


def _sign_in(page: Any, live: Live, lang: str) -> None:
    page.goto("/console/sign-in")
    page.get_by_label(_(lang, "Login")).fill(LOGIN)
    page.get_by_label(_(lang, "Password")).fill(PASSWORD)
    page.locator("#sign-in-submit").click()
    if "/sign-in/code" in page.url:
        page.locator("#code").fill(live.code(LOGIN))
        page.locator("#code-submit").click()
    page.wait_for_url(re.compile(r"/console/$"))


@pytest.mark.parametrize("lang", list(LANGS))
def test_a_broker_books_sees_and_cancels_a_slot_on_a_phone(
    live: Live, new_context: Any, axe_source: str, lang: str
) -> None:
    _journey(live, new_context, axe_source, lang)


def test_the_broker_journey_on_postgresql(live_pg: Live, new_context: Any, axe_source: str) -> None:
    """The same journey with the console over PostgreSQL (one language)."""
    _journey(live_pg, new_context, axe_source, "zh_Hans_CN")


def _journey(live: Live, new_context: Any, axe_source: str, lang: str) -> None:
    _broker(live)
    decl, plate = _declaration(live, list(LANGS).index(lang))
    found: dict[str, Any] = {}
    page = new_context(lang, viewport=PHONE).new_page()
    _sign_in(page, live, lang)
    page.locator("#nav-bookings").click()
    page.locator("#book-slot").click()
    page.wait_for_url("**/console/bookings/new")
    found["new"] = axe_violations(page, axe_source)
    tomorrow = datetime.now(CN_TIME).date() + timedelta(days=1)
    page.locator("#b-route").select_option("KHG-NZH:CN:KZ")
    page.locator("#b-day").fill(tomorrow.isoformat())
    page.locator("#b-hour").select_option("10")
    page.locator("#b-tractor_nationality").fill("CN")
    page.locator("#b-tractor_plate").fill("")  # left empty: answered on its input
    page.locator("#b-vin").fill(f"LZZ1CCND0J{datetime.now(UTC).microsecond:06d}9"[:17])
    page.locator("#b-driver_name").fill("Wang Lei")
    page.locator("#b-driver_document").fill("E12345678")
    page.locator("#b-declaration_ids").fill(decl)
    with page.expect_navigation():  # the form comes back whole before it is read
        page.locator("#booking-submit").click()
    assert page.locator("#b-tractor_plate").get_attribute("aria-invalid") == "true"
    assert page.locator('[data-field="tractor_plate"]').is_visible()
    page.locator("#b-tractor_plate").fill(plate)
    page.locator("#booking-submit").click()
    page.wait_for_url(re.compile(r"/console/bookings/[0-9a-f]+\?done=booked"))
    assert page.get_by_test_id("booking-status").inner_text() == _(lang, "Confirmed")
    assert page.get_by_test_id("queue-position").get_attribute("data-state") == "not_checked_in"
    timeline = page.get_by_test_id("timeline").inner_text()
    assert _(lang, "Slot booked") in timeline and _(lang, "Declaration lodged") in timeline
    found["booking"] = axe_violations(page, axe_source)
    page.locator("#c-reason").fill("the truck broke down")
    page.locator("#cancel-submit").click()
    page.wait_for_url(re.compile(r"done=cancelled"))
    assert page.get_by_test_id("booking-status").inner_text() == _(lang, "Cancelled")
    assert page.locator("#cancel-form").count() == 0
    # the public board: no sign-in, in the language of the browser
    public = new_context(lang, viewport=PHONE).new_page()
    answer = public.goto("/console/queue/KHG-NZH")
    assert answer is not None and answer.status == 200
    found["public"] = axe_violations(public, axe_source)
    bad = {k: v for k, v in found.items() if v}
    assert not bad, json.dumps(bad, ensure_ascii=False, indent=1)
