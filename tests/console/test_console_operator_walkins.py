"""E-port operator pages: a walk-in truck registered through the form (on the board, audited
with the person; refusals on their input, nothing stored; only the own side, at a served
crossing, with the CSRF token), and a cap's priority quotas edited through the caps form."""

from __future__ import annotations

import datetime as dt
import html
import re

from sqlalchemy import func, select

from silkgate.console import i18n
from silkgate.core.platform import Platform
from silkgate.queue import service as queue
from silkgate.queue.models import Booking, CapacityCap
from silkgate.queue.schemas import CapIn
from silkgate.registry import service as registry
from silkgate.registry.schemas import OrganizationCreate, Role
from tests.console.browser import Browser
from tests.console.people import admin, member
from tests.console.test_console_operator import (
    BOARD,
    CAPS,
    OTHER_EPORT,
    _audit,
    _setup,
    _waiting_trucks,
)
from tests.queue.env import DAY, Env

WALK_INS = f"{BOARD}/walk-ins"
FORM = {"route": "CN:KZ", "tractor_nationality": "KZ", "tractor_plate": "123ABC02",
        "trailer_nationality": "", "trailer_plate": "", "vin": "", "declaration_ids": "",
        "at": ""}  # fmt: skip
ERRORS = re.compile(r'data-field="([a-z_]+)">([^<]+)<')


def _errors(page: str) -> dict[str, str]:
    """The page's field errors by input, as the reader sees them."""
    return {name: html.unescape(text) for name, text in ERRORS.findall(page)}


def _live_share(env: Env, share: float = 0.1) -> None:
    """Both sides' caps keep a share of the day for trucks without a booking; the Chinese
    stage holds nobody, so a walk-in waits."""
    for side in ("cn-customs", "kz-customs"):
        env.cap(side, 240, live_share=share)
    _waiting_trucks(env, 0)


def _walk_ins(platform: Platform) -> int:
    with platform.db.session() as s:
        return (
            s.scalar(select(func.count()).select_from(Booking).where(Booking.quota_class == "live"))
            or 0
        )


def test_a_walk_in_joins_the_queue_audited_with_the_person(platform: Platform) -> None:
    env, _, _, off = _setup(platform)
    _live_share(env)
    page = off.get(WALK_INS)
    assert page.status_code == 200 and 'id="walk-in-form"' in page.text
    assert 'name="route" value="CN:KZ"' in page.text and 'id="op-walk-ins"' in page.text
    assert 'data-testid="live-places"' not in page.text  # today is planned with the first one
    # arrived half an hour ago by the Chinese checkpoint's clock (08:00 there now)
    r = off.post(WALK_INS, {**FORM, "tractor_plate": "123abc02", "at": "2026-12-10T07:30"})
    assert r.status_code == 303 and r.headers["location"].endswith("done=walk_in"), r.text[:800]
    board = off.follow(r).text
    assert 'data-testid="notice"' in board and "without a booking" in board
    row = re.search(r'<tr data-testid="board-truck" data-booking-id="(\w+)" data-state="waiting">'
                    r"\s*<td[^>]*>123ABC02 \(KZ\)</td>.*?</tr>", board, re.S)  # fmt: skip
    assert row and "Without a booking (live queue)" in row.group(0)
    assert re.search(r'data-testid="count-waiting">1<', board)
    with platform.db.session() as s:
        b = s.get(Booking, row.group(1))
        assert b is not None
        assert (b.quota_class, b.status, b.organization) == ("live", "arrived", env.ids["cn-eport"])
        assert (b.hour, b.tractor_nationality) == (7, "KZ")  # the arrival hour, local
    [entry] = _audit(platform, "queue.walk_in")
    assert entry.person == "ops.officer" and entry.entity_id == row.group(1)
    assert re.search(r'data-testid="live-places">Today 1 of 24 ', off.get(WALK_INS).text)
    # the same truck again: it is in the queue already, said on the plate
    r = off.post(WALK_INS, FORM)
    errors = _errors(r.text)
    assert r.status_code == 409 and errors == {"tractor_plate": "This truck is in the "
                                                "waiting-area queue already."}  # fmt: skip
    assert _walk_ins(platform) == 1 and len(_audit(platform, "queue.walk_in")) == 1


def test_bad_walk_in_input_is_named_on_its_input_and_nothing_is_stored(
    platform: Platform,
) -> None:
    env, _, _, off = _setup(platform, "ru-KZ")
    _live_share(env)
    tr = i18n.translations("ru_KZ").gettext
    bad = {**FORM, "tractor_nationality": "KAZ", "tractor_plate": "", "vin": "LZZ1",
           "declaration_ids": "nope", "at": "yesterday"}  # fmt: skip
    r = off.post(WALK_INS, bad)
    errors = _errors(r.text)
    assert r.status_code == 422
    assert set(errors) == {"tractor_nationality", "tractor_plate", "vin", "declaration_ids", "at"}
    assert errors["tractor_plate"] == tr("This field is needed.")
    assert errors["at"] == tr("Enter the arrival time, or leave it empty for now.")
    assert errors["declaration_ids"] == tr("Declaration %(id)s: %(error)s") % {
        "id": "nope", "error": tr("A declaration id is 22 characters: digits and a–f.")
    }  # fmt: skip
    assert 'value="KAZ"' in r.text and 'value="yesterday"' in r.text  # kept as typed
    assert 'id="wi-vin" name="vin"' in r.text and 'aria-describedby="wi-vin-error"' in r.text
    # a plate out of its country's format is named first (the schema's check), then an
    # arrival ahead of the checkpoint's clock, then an unknown declaration, by its id
    unknown = "0" * 22
    r = off.post(WALK_INS, {**FORM, "tractor_plate": "ABC", "declaration_ids": unknown,
                            "at": "2026-12-10T09:00"})  # fmt: skip
    errors = _errors(r.text)
    assert r.status_code == 422 and set(errors) == {"tractor_plate"}
    assert errors["tractor_plate"] == tr("The plate is not in its country's format.")
    r = off.post(WALK_INS, {**FORM, "at": "2026-12-10T09:00"})
    errors = _errors(r.text)
    assert r.status_code == 422 and errors == {
        "at": tr("This time is ahead of the clock; check it.")
    }
    # a year a date input takes but no clock shows (year 1 in Asia/Almaty cannot be made UTC)
    r = off.post(WALK_INS, {**FORM, "at": "0001-01-01T00:00"})
    assert r.status_code == 422
    assert _errors(r.text) == {"at": tr("Enter a time in the years 2000 to 2999.")}
    r = off.post(WALK_INS, {**FORM, "declaration_ids": f"{unknown},"})
    errors = _errors(r.text)
    named = tr("Declaration %(id)s: %(error)s") % {
        "id": unknown, "error": tr("No such declaration at this crossing.")
    }  # fmt: skip
    assert r.status_code == 422 and errors == {"declaration_ids": named}
    assert _walk_ins(platform) == 0 and not _audit(platform, "queue.walk_in")


def test_walk_ins_only_on_the_own_side_at_a_served_crossing(platform: Platform) -> None:
    env, w, _, off = _setup(platform)
    # no share of today's cap is kept for walk-ins: refused above the form
    r = off.post(WALK_INS, FORM)
    assert r.status_code == 409 and 'data-testid="error-message"' in r.text
    assert "No place without a booking is left today" in r.text
    _live_share(env)
    # the other side's waiting area is not the operator's: the service refuses it
    r = off.post(WALK_INS, {**FORM, "route": "KZ:CN"})
    assert r.status_code == 403 and "Only your side&#39;s waiting area" in r.text
    # no CSRF token
    assert off.client.post(WALK_INS, data=FORM).status_code == 403
    # an e-port operator at another crossing: as an unknown crossing
    registry.create_organization(
        platform,
        OrganizationCreate(
            member_id=OTHER_EPORT, name="Dostyk e-port", roles=[Role.E_PORT], crossings=["ALA-DOS"]
        ),
        "test",
    )
    w.ids["dos-eport"] = OTHER_EPORT
    dos_boss, _ = admin(w, "dos-eport", "dos.boss")
    member(w, dos_boss, "dos.ops", ["officer"])
    dos = Browser(platform)
    dos.sign_in(w, "dos.ops")
    assert dos.get(WALK_INS).status_code == 404
    r = dos.post(WALK_INS, {**FORM, "route": "KZ:CN"}, from_page="/console/operator")
    assert r.status_code == 404
    # a broker's people are no operators
    broker_boss, _ = admin(w, "cn-broker", "broker.boss")
    member(w, broker_boss, "broker.clerk", ["officer"])
    clerk = Browser(platform)
    clerk.sign_in(w, "broker.clerk")
    assert clerk.get(WALK_INS).status_code == 403
    assert clerk.post(WALK_INS, FORM, from_page="/console/").status_code == 403
    assert _walk_ins(platform) == 0 and not _audit(platform, "queue.walk_in")


def _caps_of(platform: Platform, member_id: str) -> list[CapacityCap]:
    with platform.db.session() as s:
        return list(s.scalars(select(CapacityCap).where(CapacityCap.set_by == member_id)))


def test_a_supervisor_edits_the_priority_quotas(platform: Platform) -> None:
    env, _, sup, _ = _setup(platform)
    env.cap("cn-customs", 240, quotas={"perishables": 0.1}, live_share=0.05)
    page = sup.get(CAPS).text
    # prefilled from the side's newest cap of the first direction
    assert re.search(r'name="quota_perishables" type="text" inputmode="decimal" value="10"', page)
    assert re.search(r'name="quota_aeo_tir" type="text" inputmode="decimal" value=""', page)
    assert "Perishable goods 10 %" in page
    # the other direction is edited from its own newest quotas, never the first one's
    back = CapIn(crossing="KHG-NZH", exit_country="KZ", entry_country="CN",
                 valid_from=dt.date(2026, 12, 1), daily_cap=90, quotas={"humanitarian": 0.2})  # fmt: skip
    queue.set_cap(platform, env.who("cn-customs"), back)
    other = sup.get(f"{CAPS}?route=KZ:CN").text
    assert 'name="route" value="KZ:CN"' in other
    assert re.search(r'name="quota_humanitarian" type="text" inputmode="decimal" value="20"', other)
    assert re.search(r'name="quota_perishables" type="text" inputmode="decimal" value=""', other)
    assert 'name="route" value="CN:KZ"' in sup.get(CAPS).text
    form = {"route": "CN:KZ", "valid_from": DAY.isoformat(), "daily_cap": "200",
            "live_share": "5", "hourly_profile": "", "quota_perishables": "12,5",
            "quota_live_animals": "", "quota_dangerous_goods": "0", "quota_humanitarian": "",
            "quota_aeo_tir": "5"}  # fmt: skip
    r = sup.post(CAPS, form)
    assert r.status_code == 303 and r.headers["location"].endswith("done=cap_set"), r.text[:800]
    [cap] = _caps_of(platform, env.ids["cn-eport"])
    assert (cap.quotas, cap.live_share, cap.daily_cap) == (
        {"perishables": 0.125, "aeo_tir": 0.05},
        0.05,
        200,
    )
    [entry] = _audit(platform, "queue.cap_set")
    assert entry.person == "ops.super"
    shown = sup.follow(r).text
    assert "AEO and TIR carriers 5 %; Perishable goods 12.5 %" in shown
    assert re.search(r'name="quota_perishables" type="text" inputmode="decimal" value="12.5"',
                     shown)  # fmt: skip
    # each bad share on its input, typed values kept, nothing stored
    bad = {**form, "quota_perishables": "-5", "quota_humanitarian": "lots"}
    r = sup.post(CAPS, bad)
    errors = _errors(r.text)
    assert r.status_code == 422 and set(errors) == {"quota_perishables", "quota_humanitarian"}
    assert "0 to 100" in errors["quota_perishables"] and 'value="lots"' in r.text
    # together with the share without a booking more than the day: said on the quotas
    r = sup.post(CAPS, {**form, "quota_perishables": "60", "live_share": "50"})
    errors = _errors(r.text)
    assert r.status_code == 422 and set(errors) == {"quotas"}
    assert "more than 100 %" in errors["quotas"]
    assert 'aria-invalid="true" aria-describedby="cap-quotas-error"' in r.text
    r = sup.post(CAPS, {**form, "hourly_profile": " ".join(["0"] * 24)})
    errors = _errors(r.text)
    assert r.status_code == 422 and errors == {
        "hourly_profile": "Give at least one hour a positive weight."
    }
    assert len(_caps_of(platform, env.ids["cn-eport"])) == 1
    assert len(_audit(platform, "queue.cap_set")) == 1
