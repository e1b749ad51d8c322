"""Carrier and broker pages: booking a crossing slot through the form (audited with the
person), per-field refusals with nothing written, rescheduling, the truck's place in the
queue, and an organization never seeing another's bookings."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from silkgate.audit.models import AuditEntry
from silkgate.console import i18n
from silkgate.core.platform import Platform
from silkgate.queue import waiting
from silkgate.queue.models import Booking, DepositEntry, Slot
from silkgate.queue.schemas import StageIn
from tests.conftest import one_backend
from tests.console.browser import Browser
from tests.console.people import Clock, World, admin, member
from tests.queue.env import DAY, NOW, Env, make_env

LANGS = {"en": "en", "ru_KZ": "ru-KZ", "kk_KZ": "kk-KZ", "zh_Hans_CN": "zh-Hans-CN"}
BOOKING_URL = re.compile(r"^/console/bookings/([0-9a-f]{22})\?done=booked$")


def _setup(platform: Platform, language: str = "en") -> tuple[Env, World, Browser]:
    """Caps on Khorgos–Nur Zholy, and a person of the Chinese broker signed in."""
    env = make_env(platform)
    clock = Clock()
    clock.now = NOW
    platform.clock = clock
    w = World(platform, env.ids, clock, {})
    boss, _ = admin(w, "cn-broker", "broker.boss")
    member(w, boss, "li.booker", ["officer"])
    b = Browser(platform, language)
    b.sign_in(w, "li.booker")
    return env, w, b


def _form(env: Env, **overrides: str) -> dict[str, str]:
    decl_id, truck = env.declaration()
    form = {
        "route": "KHG-NZH:CN:KZ",
        "day": DAY.isoformat(),
        "hour": "10",
        "quota_class": "regular",
        "tractor_nationality": truck["tractor_nationality"],
        "tractor_plate": truck["tractor_plate"],
        "vin": "LZZ1CCND0J1234567",
        "driver_name": "Wang Lei",
        "driver_document": "E12345678",
        "declaration_ids": decl_id,
    }
    form.update(overrides)
    return form


def _book(b: Browser, form: dict[str, str]) -> str:
    r = b.post("/console/bookings", form, from_page="/console/bookings/new")
    assert r.status_code == 303, r.text[:2000]
    found = BOOKING_URL.match(r.headers["location"])
    assert found, r.headers["location"]
    return found.group(1)


def _audit(platform: Platform, action: str) -> list[AuditEntry]:
    with platform.db.session() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _bookings(platform: Platform) -> int:
    with platform.db.session() as s:
        return s.scalar(select(func.count()).select_from(Booking)) or 0


def test_a_broker_books_a_slot_and_sees_it_with_its_place(platform: Platform) -> None:
    env, _, b = _setup(platform)
    booking_id = _book(b, _form(env))
    page = b.get(f"/console/bookings/{booking_id}?done=booked")
    assert page.status_code == 200 and 'data-testid="notice"' in page.text
    assert re.search(r'data-testid="booking-status">Confirmed<', page.text)
    assert 'data-state="not_checked_in"' in page.text and 'id="reschedule-form"' in page.text
    # the truck's timeline: the booking, and the declaration the broker lodged
    timeline = page.text.split('data-testid="timeline"', 1)[1].split("</ol>", 1)[0]
    assert "Slot booked" in timeline and "Declaration lodged" in timeline
    [entry] = _audit(platform, "queue.booked")
    assert entry.person == "li.booker" and entry.entity_id == booking_id
    # the form's input limits reach the browser as attributes, not as escaped text
    form = b.get("/console/bookings/new").text
    assert 'maxlength="17" autocapitalize="characters"' in form and "&#34;" not in form
    listed = b.get("/console/bookings")
    assert f'data-booking-id="{booking_id}"' in listed.text
    # the truck checks in at the waiting area: its place shows
    stage = StageIn(crossing="KHG-NZH", exit_country="CN", entry_country="KZ", capacity=0)
    waiting.set_stage(platform, env.who("cn-customs"), stage)
    b2 = env.book(hour=9, day=NOW.date())  # a truck of today, checked in
    waiting.move(platform, env.who("cn-customs"), b2.id, "check_in", NOW)
    # the broker's page for that booking: first in the line
    page = b.get(f"/console/bookings/{b2.id}")
    assert 'data-state="waiting"' in page.text
    assert re.search(r'data-testid="queue-place">1<', page.text)


def test_bad_input_is_answered_per_field_and_nothing_is_written(platform: Platform) -> None:
    env, _, b = _setup(platform, "ru-KZ")
    form = _form(env, vin="LZZ1CCND0J12345OO", driver_name="", hour="", route="KHG-NZH:KZ:KZ")
    r = b.post("/console/bookings", form, from_page="/console/bookings/new")
    assert r.status_code == 422
    errors = dict(re.findall(r'data-field="([a-z_]+)">([^<]+)<', r.text))
    assert set(errors) >= {"vin", "driver_name", "hour"}, errors
    assert "VIN состоит из 17 букв" in errors["vin"]
    assert 'value="LZZ1CCND0J12345OO"' in r.text  # the input is kept
    # a valid body on a route the crossing does not join
    r = b.post(
        "/console/bookings", _form(env, route="KHG-NZH:KZ:KZ"), from_page="/console/bookings/new"
    )
    assert r.status_code == 422 and 'data-field="route"' in r.text
    # an hour that has begun
    r = b.post(
        "/console/bookings", _form(env, day=NOW.date().isoformat(), hour="7"),
        from_page="/console/bookings/new",
    )  # fmt: skip
    assert r.status_code == 422 and "Этот час уже начался" in r.text
    assert _bookings(platform) == 0 and not _audit(platform, "queue.booked")
    # no CSRF token: refused
    assert b.client.post("/console/bookings", data=_form(env)).status_code == 403
    assert _bookings(platform) == 0


def test_rescheduling_through_the_page(platform: Platform) -> None:
    env, _, b = _setup(platform)
    booking_id = _book(b, _form(env))
    here = f"/console/bookings/{booking_id}"
    r = b.post(f"{here}/reschedule", {"day": DAY.isoformat(), "hour": "10"}, from_page=here)
    assert r.status_code == 422 and "This is the slot booked already." in r.text
    r = b.post(f"{here}/reschedule", {"day": DAY.isoformat(), "hour": "14"}, from_page=here)
    assert r.status_code == 303 and r.headers["location"].endswith("done=rescheduled")
    page = b.follow(r)
    assert "14:00" in page.text.split('data-testid="booking-slot"', 1)[1][:80]
    [entry] = _audit(platform, "queue.rescheduled")
    assert entry.person == "li.booker"


def _slot_and_deposits(platform: Platform, booking_id: str) -> tuple[int, list[str]]:
    with platform.db.session() as s:
        booking = s.get(Booking, booking_id)
        assert booking is not None
        slot = s.get(Slot, booking.slot_id)
        assert slot is not None
        kinds = s.scalars(
            select(DepositEntry.kind)
            .where(DepositEntry.booking_id == booking_id)
            .order_by(DepositEntry.id)
        )
        return slot.booked, list(kinds)


def test_cancelling_through_the_page_frees_the_slot_and_names_the_person(
    platform: Platform,
) -> None:
    env, w, b = _setup(platform)
    booking_id = _book(b, _form(env))
    here = f"/console/bookings/{booking_id}"
    assert _slot_and_deposits(platform, booking_id) == (1, ["held"])
    live = b.get(here).text  # state, place in the queue and timeline refresh themselves
    for region in ("booking-live", "position-live", "timeline-live"):
        assert re.search(rf'id="{region}" data-live="', live), region
    # no reason: answered on the field, nothing changed
    r = b.post(f"{here}/cancel", {"reason": "  "}, from_page=here)
    assert r.status_code == 422 and 'data-field="reason"' in r.text
    assert _slot_and_deposits(platform, booking_id) == (1, ["held"])
    # a forged token changes nothing either
    r = b.client.post(f"{here}/cancel", data={"csrf_token": "forged", "reason": "x"})
    assert r.status_code == 403 and not _audit(platform, "queue.cancelled")
    # another organization cannot cancel it
    other_boss, _ = admin(w, "kz-carrier", "kz.boss")
    member(w, other_boss, "kz.booker", ["officer"])
    other = Browser(platform)
    other.sign_in(w, "kz.booker")
    r = other.post(f"{here}/cancel", {"reason": "not mine"}, from_page="/console/bookings")
    assert r.status_code in (403, 404) and not _audit(platform, "queue.cancelled")

    r = b.post(f"{here}/cancel", {"reason": "the truck broke down"}, from_page=here)
    assert r.status_code == 303 and r.headers["location"].endswith("done=cancelled")
    page = b.follow(r)
    assert 'id="cancel-form"' not in page.text and 'id="reschedule-form"' not in page.text
    assert "data-live=" not in page.text and "live.js" not in page.text  # nothing more to come
    assert _slot_and_deposits(platform, booking_id) == (0, ["held", "released"])
    assert "Booking cancelled" in page.text.split('data-testid="timeline"', 1)[1]
    [entry] = _audit(platform, "queue.cancelled")
    assert entry.person == "li.booker"
    # a second cancel (an old tab) is refused with the reason, not done twice
    r = b.post(f"{here}/cancel", {"reason": "again"}, from_page=here)
    assert r.status_code == 409 and 'data-testid="error-message"' in r.text
    assert len(_audit(platform, "queue.cancelled")) == 1


def test_an_organization_never_sees_anothers_bookings(platform: Platform) -> None:
    env, w, b = _setup(platform)
    booking_id = _book(b, _form(env))
    other_boss, _ = admin(w, "kz-carrier", "kz.boss")
    member(w, other_boss, "kz.booker", ["officer"])
    other = Browser(platform)
    other.sign_in(w, "kz.booker")
    assert other.get(f"/console/bookings/{booking_id}").status_code == 404
    assert booking_id not in other.get("/console/bookings").text
    here = f"/console/bookings/{booking_id}"
    r = other.post(
        f"{here}/reschedule", {"day": DAY.isoformat(), "hour": "14"}, from_page="/console/bookings"
    )
    assert r.status_code in (403, 404) and not _audit(platform, "queue.rescheduled")
    # customs is no booker: no bookings pages
    customs_boss, _ = admin(w, "kz-customs", "kzc.boss")
    member(w, customs_boss, "kzc.officer", ["officer"])
    officer = Browser(platform)
    home = officer.sign_in(w, "kzc.officer")
    assert 'id="nav-bookings"' not in home.text
    assert officer.get("/console/bookings").status_code == 403


@pytest.mark.parametrize("language", list(LANGS))
def test_booking_pages_in_each_language(platform: Platform, language: str) -> None:
    one_backend(platform, "the pages in a language")
    env, _, b = _setup(platform, LANGS[language])
    tr = i18n.translations(language).gettext
    booking_id = _book(b, _form(env))
    pages: dict[str, Any] = {
        "/console/bookings": tr("Slot bookings"),
        "/console/bookings/new": tr("Book a crossing slot"),
        f"/console/bookings/{booking_id}": tr("Booking %(id)s") % {"id": booking_id},
    }
    for path, title in pages.items():
        r = b.get(path)
        assert r.status_code == 200, path
        assert (
            f"<title>{title} · Silkgate</title>" in r.text and f'lang="{LANGS[language]}"' in r.text
        )
    detail = b.get(f"/console/bookings/{booking_id}").text
    assert tr("Confirmed") in detail and tr("Not yet in the waiting area") in detail
    assert i18n.Formatter(language).country("KZ") in detail
