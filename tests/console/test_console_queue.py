"""The public live queue page: no sign-in, the public API's aggregates only (no plates, no
names, no organizations), per direction, in each language; bad days and unknown crossings
answered on the page; the public rate limit applies."""

from __future__ import annotations

import re

import pytest

from silkgate.console import i18n
from silkgate.core.platform import Platform
from silkgate.queue import service as queue
from silkgate.queue import waiting
from silkgate.queue.limits import QueueLimits
from silkgate.queue.schemas import BookingIn, StageIn
from tests.conftest import one_backend
from tests.console.browser import Browser
from tests.queue.env import DAY, NOW, Env, make_env

LANGS = {"en": "en", "ru_KZ": "ru-KZ", "kk_KZ": "kk-KZ", "zh_Hans_CN": "zh-Hans-CN"}
NAMES = {"en": "Khorgos – Nur Zholy", "ru_KZ": "Хоргос — Нур Жолы", "kk_KZ": "Қорғас — Нұр Жолы",
         "zh_Hans_CN": "霍尔果斯—努尔饶勒"}  # fmt: skip


def _direction(html: str, exit_c: str) -> str:
    """The section of the page for one direction (exit country)."""
    start = html.index(f'data-testid="queue-direction" data-exit="{exit_c}"')
    end = html.find('data-testid="queue-direction"', start + 10)
    return html[start : end if end > 0 else len(html)]


def _fact(section: str, testid: str) -> str:
    found = re.search(rf'data-testid="{testid}">(.*?)</dd>', section, re.S)
    assert found, testid
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", found.group(1))).strip()


def _env(platform: Platform) -> tuple[Env, list[dict[str, object]]]:
    """Three bookings today on CN→KZ (two checked in at the waiting area), one tomorrow."""
    env = make_env(platform)
    stage = StageIn(crossing="KHG-NZH", exit_country="CN", entry_country="KZ", capacity=0)
    waiting.set_stage(platform, env.who("cn-customs"), stage)  # nobody is called yet
    today = NOW.date()
    bodies = []
    for n, hour in enumerate((9, 10, 11)):
        body = env.booking_body(hour=hour, day=today)
        booking = queue.book(platform, env.who("cn-broker"), BookingIn.model_validate(body))
        if n < 2:
            waiting.move(platform, env.who("cn-customs"), booking.id, "check_in", NOW)
        bodies.append(body)
    env.book(hour=10, day=DAY)
    return env, bodies


def test_the_public_queue_needs_no_sign_in_and_shows_no_personal_data(platform: Platform) -> None:
    env, bodies = _env(platform)
    b = Browser(platform)
    listed = b.get("/console/queue")
    assert listed.status_code == 200 and 'data-crossing="KHG-NZH"' in listed.text
    r = b.get("/console/queue/KHG-NZH")
    assert r.status_code == 200, r.text[:500]
    assert 'id="page-title"' in r.text and "Khorgos – Nur Zholy" in r.text
    cn = _direction(r.text, "CN")
    assert _fact(cn, "queue-waiting") == "2"
    assert _fact(cn, "queue-cap") == "240"
    assert _fact(cn, "queue-booked").startswith("3 of ")
    assert "min" in _fact(cn, "queue-wait")  # this hour's places give a rate
    kz = _direction(r.text, "KZ")
    assert _fact(kz, "queue-waiting") == "0" and _fact(kz, "queue-wait") == "—"
    for body in bodies:  # nothing about a truck, a driver or who booked
        truck = body["truck"]
        assert isinstance(truck, dict)
        for secret in (truck["tractor_plate"], truck["vin"], body["driver"]["document_number"]):  # type: ignore[index]
            assert str(secret) not in r.text
    assert "Wang Lei" not in r.text and env.ids["cn-broker"] not in r.text
    assert 'data-testid="signed-in-as"' not in r.text  # nobody is signed in
    # another day: the bookings, but no live figures
    other = b.get(f"/console/queue/KHG-NZH?day={DAY.isoformat()}")
    assert other.status_code == 200 and 'data-testid="queue-waiting"' not in other.text
    cn = _direction(other.text, "CN")
    assert _fact(cn, "queue-booked").startswith("1 of ")
    assert re.search(r'data-hour="10"><td[^>]*>10:00</td><td[^>]*>1</td>', cn)


def test_todays_board_refreshes_itself_and_another_days_does_not(platform: Platform) -> None:
    """Today's figures are live regions (static/live.js refreshes them in place at the
    configured interval, with a pause button); another day's bookings are a plain page."""
    make_env(platform)
    b = Browser(platform)
    today = b.get("/console/queue/KHG-NZH")
    seconds = f'data-live="{platform.settings.console_live_seconds}"'
    assert re.search(rf'id="queue-board"[^>]*{seconds}', today.text)
    assert re.search(rf'id="queue-stamp"[^>]*{seconds}', today.text)
    assert '<script src="/console/static/live.js" defer></script>' in today.text
    assert 'id="live-toggle" hidden' in today.text  # shown by the script, not without it
    script = b.get("/console/static/live.js")
    assert script.status_code == 200 and "X-Silkgate-Live" in script.text
    other = b.get(f"/console/queue/KHG-NZH?day={DAY.isoformat()}")
    assert other.status_code == 200
    assert "data-live=" not in other.text and "live.js" not in other.text


def test_bad_days_and_unknown_crossings_are_answered_on_the_page(platform: Platform) -> None:
    make_env(platform)
    b = Browser(platform, "ru-KZ")
    r = b.get("/console/queue/KHG-NZH?day=2026-13-45")
    assert r.status_code == 422
    assert 'id="q-day-error"' in r.text and "ГГГГ-ММ-ДД" in r.text
    assert 'aria-invalid="true"' in r.text and 'value="2026-13-45"' in r.text
    assert b.get("/console/queue/XXX-YYY").status_code == 404
    assert b.get("/console/queue/not-a-code").status_code == 404


def test_the_public_rate_limit_applies_to_the_page(platform: Platform) -> None:
    make_env(platform)
    b = Browser(platform)
    b.client.app.state.queue_limits = QueueLimits(10, 10, 10, 10, 0.2)  # type: ignore[attr-defined]
    assert b.get("/console/queue/KHG-NZH").status_code == 200
    r = b.get("/console/queue/KHG-NZH")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert "Too many requests" in r.text


@pytest.mark.parametrize("language", list(LANGS))
def test_the_public_queue_in_each_language(platform: Platform, language: str) -> None:
    one_backend(platform, "the pages in a language")
    _env(platform)
    tr = i18n.translations(language).gettext
    b = Browser(platform, LANGS[language])
    r = b.get("/console/queue/KHG-NZH")
    assert r.status_code == 200
    title = tr("Live queue: %(crossing)s") % {"crossing": NAMES[language]}
    assert f"<title>{title} · Silkgate</title>" in r.text
    assert f'lang="{LANGS[language]}"' in r.text
    assert tr("Trucks waiting") in r.text and tr("Daily cap") in r.text
    assert i18n.Formatter(language).country("KZ") in r.text
    cn = _direction(r.text, "CN")
    assert _fact(cn, "queue-booked") == tr("%(booked)s of %(places)s") % {
        "booked": "3",
        "places": i18n.Formatter(language).number(240),
    }
    listed = b.get("/console/queue")
    assert NAMES[language] in listed.text and 'id="nav-queue"' in listed.text
