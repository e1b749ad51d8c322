"""E-port operator pages: both sides' queue board, call-forward, caps and stage capacity, and
gate events signed with the checkpoint's key, through the browser's forms; role gating,
organization scoping, CSRF and field errors."""

from __future__ import annotations

import html
import re

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, update

from silkgate.audit.models import AuditEntry
from silkgate.codelists.crossings import get_crossing
from silkgate.console import i18n
from silkgate.console.queue_board import crossing_name
from silkgate.core.platform import Platform
from silkgate.core.signing import b64, public_key_b64
from silkgate.gates.models import GateEvent
from silkgate.queue import waiting
from silkgate.queue.models import CapacityCap, Stage
from silkgate.queue.schemas import StageIn
from silkgate.registry import service as registry
from silkgate.registry.schemas import OrganizationCreate, Role
from tests.conftest import one_backend
from tests.console.browser import Browser
from tests.console.people import Clock, World, admin, member
from tests.queue.env import DAY, NOW, Env, make_env

LANGS = {"en": "en", "ru_KZ": "ru-KZ", "kk_KZ": "kk-KZ", "zh_Hans_CN": "zh-Hans-CN"}
BOARD = "/console/operator/KHG-NZH"
CAPS = f"{BOARD}/caps"
GATES = f"{BOARD}/gate-events"
OTHER_EPORT = "KZ/GOV/080940006055"  # an e-port operator at another crossing
TO_SIGN = re.compile(r'data-testid="to-sign-text">([^<]+)<')


def _setup(platform: Platform, language: str = "en") -> tuple[Env, World, Browser, Browser]:
    """Caps on Khorgos–Nur Zholy; a supervisor and an officer of the Chinese e-port."""
    env = make_env(platform)
    clock = Clock()
    clock.now = NOW
    platform.clock = clock
    w = World(platform, env.ids, clock, {})
    boss, _ = admin(w, "cn-eport", "eport.boss")
    member(w, boss, "ops.super", ["officer", "supervisor"])
    member(w, boss, "ops.officer", ["officer"])
    sup, off = Browser(platform, language), Browser(platform, language)
    sup.sign_in(w, "ops.super")
    off.sign_in(w, "ops.officer")
    return env, w, sup, off


def _audit(platform: Platform, action: str) -> list[AuditEntry]:
    """The audit entries of an action made by a console person (set-up calls name none)."""
    with platform.db.session() as s:
        return list(
            s.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == action, AuditEntry.person.is_not(None)
                )
            )
        )


def _waiting_trucks(env: Env, n: int) -> list[str]:
    """``n`` booked CN→KZ trucks checked in at the Chinese waiting area, none called."""
    cn = env.who("cn-customs")
    stage = StageIn(crossing="KHG-NZH", exit_country="CN", entry_country="KZ", capacity=0)
    waiting.set_stage(env.platform, cn, stage)
    ids = []
    for _ in range(n):
        b = env.book(hour=9, day=NOW.date())
        waiting.move(env.platform, cn, b.id, "check_in", NOW)
        ids.append(b.id)
    return ids


def _room(platform: Platform, capacity: int) -> None:
    """Give the Chinese stage room without the call a capacity change makes (test set-up)."""
    with platform.db.session() as s:
        s.execute(update(Stage).where(Stage.exit_country == "CN").values(capacity=capacity))


def test_the_board_shows_both_sides_and_only_the_own_sides_trucks(platform: Platform) -> None:
    env, w, _, off = _setup(platform)
    ids = _waiting_trucks(env, 2)
    page = off.get(BOARD)
    assert page.status_code == 200
    cn, kz = (page.text.split(f'data-side="{c}"', 1)[1] for c in ("CN", "KZ"))
    cn = cn.split('data-testid="board-side"', 1)[0]
    assert re.search(r'data-testid="count-waiting">2<', cn)
    assert re.search(r'data-testid="stage-capacity">0<', cn)
    assert all(f'data-booking-id="{i}"' in cn for i in ids) and "新F" in cn
    assert 'id="call-forward-form"' in cn
    assert re.search(r'data-testid="count-waiting">0<', kz) and 'data-testid="other-side"' in kz
    # the Kazakh operator: its own side's list, the Chinese side's counts but not its trucks
    kz_boss, _ = admin(w, "kz-eport", "kzport.boss")
    member(w, kz_boss, "kz.ops", ["officer"])
    kzb = Browser(platform)
    kzb.sign_in(w, "kz.ops")
    other = kzb.get(BOARD)
    assert other.status_code == 200 and re.search(r'data-testid="count-waiting">2<', other.text)
    assert "新F" not in other.text and not any(i in other.text for i in ids)
    assert 'data-side="CN" data-own="no"' in other.text


def test_call_forward_calls_the_next_trucks_audited_with_the_person(platform: Platform) -> None:
    env, _, _, off = _setup(platform)
    _waiting_trucks(env, 3)
    # no room in the stage: nothing is called, and the page says so
    r = off.post(f"{BOARD}/call-forward", {"count": ""}, from_page=BOARD)
    assert r.status_code == 303 and r.headers["location"].endswith("done=called_none")
    assert "nobody is waiting" in off.follow(r).text and not _audit(platform, "queue.called")
    _room(platform, 5)
    r = off.post(f"{BOARD}/call-forward", {"count": "2"}, from_page=BOARD)
    assert r.status_code == 303 and r.headers["location"].endswith("done=called")
    page = off.follow(r)
    assert 'data-testid="notice"' in page.text
    assert re.search(r'data-testid="count-called">2<', page.text)
    assert re.search(r'data-testid="count-waiting">1<', page.text)
    called = _audit(platform, "queue.called")
    assert len(called) == 2 and {e.person for e in called} == {"ops.officer"}
    # bad input: named, nothing called
    r = off.post(f"{BOARD}/call-forward", {"count": "500"}, from_page=BOARD)
    assert r.status_code == 422 and 'data-field="count"' in r.text and "1 to 50" in r.text
    # no CSRF token: refused, nothing called
    r = off.client.post(f"{BOARD}/call-forward", data={"count": "1"})
    assert r.status_code == 403 and len(_audit(platform, "queue.called")) == 2


def test_a_supervisor_changes_the_cap_and_the_stage(platform: Platform) -> None:
    env, _, sup, off = _setup(platform)
    page = sup.get(CAPS)
    assert page.status_code == 200 and 'id="cap-form"' in page.text
    assert re.search(r'data-testid="binding-cap">240<', page.text)
    form = {"route": "CN:KZ", "valid_from": DAY.isoformat(), "daily_cap": "120",
            "live_share": "10", "hourly_profile": ""}  # fmt: skip
    r = sup.post(CAPS, form)
    assert r.status_code == 303 and r.headers["location"].endswith("done=cap_set")
    [entry] = _audit(platform, "queue.cap_set")
    assert entry.person == "ops.super"
    with platform.db.session() as s:
        cap = s.scalars(select(CapacityCap).where(CapacityCap.set_by == env.ids["cn-eport"])).one()
        assert (cap.daily_cap, cap.side, cap.live_share) == (120, "CN", 0.1)
    assert re.search(r'data-testid="cap-daily">120<', sup.follow(r).text)
    # bad input: each field named with its reason, nothing stored
    bad = {**form, "daily_cap": "many", "live_share": "150", "hourly_profile": "1 2 3"}
    r = sup.post(CAPS, bad)
    errors = dict(re.findall(r'data-field="([a-z_]+)">([^<]+)<', r.text))
    assert r.status_code == 422 and set(errors) >= {"daily_cap", "live_share", "hourly_profile"}
    assert "whole number" in errors["daily_cap"] and "0 to 100" in errors["live_share"]
    assert 'value="many"' in r.text and len(_audit(platform, "queue.cap_set")) == 1
    # the stage: set through the form, audited with the person
    r = sup.post(f"{BOARD}/stage", {"capacity": "4"}, from_page=CAPS)
    assert r.status_code == 303 and r.headers["location"].endswith("done=stage_set")
    assert re.search(r'data-testid="own-stage-capacity">4<', sup.follow(r).text)
    [stage] = _audit(platform, "queue.stage_capacity")
    assert stage.person == "ops.super"
    r = sup.post(f"{BOARD}/stage", {"capacity": "lots"}, from_page=CAPS)
    assert r.status_code == 422 and 'data-field="capacity"' in r.text
    # an officer reads the caps but changes nothing
    page = off.get(CAPS)
    assert page.status_code == 200 and 'data-testid="caps-read-only"' in page.text
    assert off.post(CAPS, form, from_page=CAPS).status_code == 403
    assert off.post(f"{BOARD}/stage", {"capacity": "9"}, from_page=CAPS).status_code == 403
    assert len(_audit(platform, "queue.cap_set")) == 1
    # no CSRF token
    assert sup.client.post(CAPS, data=form).status_code == 403


def _sign(text: str, key: Ed25519PrivateKey) -> str:
    return b64(key.sign(html.unescape(text).encode()))


def test_a_gate_event_is_signed_stored_and_moves_the_queue(platform: Platform) -> None:
    env, _, _, off = _setup(platform)
    key = Ed25519PrivateKey.generate()
    registry.register_signing_key(platform, env.ids["cn-eport"], public_key_b64(key), "test")
    _waiting_trucks(env, 0)  # the Chinese stage holds nobody: arrivals keep waiting
    b = env.book(hour=9, day=NOW.date())
    page = off.get(GATES)
    assert page.status_code == 200 and 'data-testid="no-gate-events"' in page.text
    event_time = re.search(r'name="event_time" type="datetime-local" value="([^"]+)"', page.text)
    assert event_time and event_time.group(1) == "2026-12-10T08:00"  # the checkpoint's time
    form = {"read_point": "waiting_area", "biz_step": "arriving", "disposition": "",
            "nationality": "CN", "plate": b.truck["tractor_plate"], "event_time": "2026-12-10T08:00",
            "declaration_id": "", "booking_id": b.id, "corrects": "", "signature": ""}  # fmt: skip
    r = off.post(GATES, form)
    text = TO_SIGN.search(r.text)
    assert (
        r.status_code == 200
        and text
        and '"eventTime":"2026-12-10T08:00:00+08:00"' in text.group(1).replace("&#34;", '"')
    )
    assert not _audit(platform, "gate_events.reported")
    # a signature by another key is refused, naming the field
    r = off.post(GATES, {**form, "signature": _sign(text.group(1), Ed25519PrivateKey.generate())})
    assert r.status_code == 422 and 'data-field="signature"' in r.text
    assert 'data-testid="to-sign"' in r.text
    r = off.post(GATES, {**form, "signature": _sign(text.group(1), key)})
    assert r.status_code == 303 and r.headers["location"].endswith("done=gate_event")
    listed = off.follow(r)
    assert 'data-testid="gate-event"' in listed.text
    [entry] = _audit(platform, "gate_events.reported")
    assert entry.person == "ops.officer"
    # the waiting-area event checked the booked truck in: the board shows it waiting
    board = off.get(BOARD)
    assert f'data-booking-id="{b.id}" data-state="waiting"' in board.text


def test_gate_event_form_names_each_bad_field(platform: Platform) -> None:
    env, _, _, off = _setup(platform, "ru-KZ")
    key = Ed25519PrivateKey.generate()
    registry.register_signing_key(platform, env.ids["cn-eport"], public_key_b64(key), "test")
    form = {"read_point": "nowhere", "biz_step": "arriving", "disposition": "", "nationality": "CN",
            "plate": "", "event_time": "yesterday", "declaration_id": "", "booking_id": "",
            "corrects": "xyz", "signature": ""}  # fmt: skip
    r = off.post(GATES, form)
    errors = dict(re.findall(r'data-field="([a-z_]+)">([^<]+)<', r.text))
    assert r.status_code == 422, r.text[:2000]
    assert set(errors) >= {"read_point", "plate", "event_time", "corrects"}, errors
    assert 'data-testid="to-sign"' not in r.text
    # a well-formed event naming a declaration that is not at this crossing: named after signing
    good = {**form, "read_point": "gate_in", "plate": "ABC123", "event_time": "2026-12-10T08:00",
            "corrects": "", "declaration_id": "nosuchdeclaration"}  # fmt: skip
    text = TO_SIGN.search(off.post(GATES, good).text)
    assert text
    r = off.post(GATES, {**good, "signature": _sign(text.group(1), key)})
    assert r.status_code == 422 and 'data-field="declaration_id"' in r.text
    with platform.db.session() as s:
        assert s.scalar(select(func.count()).select_from(GateEvent)) == 0
    # no CSRF token
    assert off.client.post(GATES, data=good).status_code == 403


def test_other_organizations_see_nothing_of_the_operators_pages(platform: Platform) -> None:
    env, w, _, _ = _setup(platform)
    _waiting_trucks(env, 1)
    registry.create_organization(
        platform,
        OrganizationCreate(
            member_id=OTHER_EPORT, name="Dostyk e-port", roles=[Role.E_PORT], crossings=["ALA-DOS"]
        ),
        "test",
    )
    w.ids["dos-eport"] = OTHER_EPORT
    dos_boss, _ = admin(w, "dos-eport", "dos.boss")
    member(w, dos_boss, "dos.ops", ["officer", "supervisor"])
    dos = Browser(platform)
    dos.sign_in(w, "dos.ops")
    assert 'data-crossing="KHG-NZH"' not in dos.get("/console/operator").text
    for path in (BOARD, CAPS, GATES, "/console/operator/ALA-XXX"):
        assert dos.get(path).status_code == 404, path
    r = dos.post(f"{BOARD}/call-forward", {"count": "1"}, from_page="/console/operator")
    assert r.status_code == 404
    form = {"route": "KZ:CN", "valid_from": DAY.isoformat(), "daily_cap": "1", "live_share": "0"}
    assert dos.post(CAPS, form, from_page="/console/operator").status_code == 404
    assert (
        dos.post(f"{BOARD}/stage", {"capacity": "1"}, from_page="/console/operator").status_code
        == 404
    )
    assert not _audit(platform, "queue.called") and not _audit(platform, "queue.cap_set")
    # people of a broker and of customs are not operators
    broker_boss, _ = admin(w, "cn-broker", "broker.boss")
    member(w, broker_boss, "broker.clerk", ["officer", "supervisor"])
    clerk = Browser(platform)
    home = clerk.sign_in(w, "broker.clerk")
    assert 'id="nav-operator"' not in home.text
    assert clerk.get("/console/operator").status_code == 403
    assert clerk.get(BOARD).status_code == 403
    customs_boss, _ = admin(w, "kz-customs", "kzc.boss")
    member(w, customs_boss, "kzc.officer", ["officer"])
    officer = Browser(platform)
    officer.sign_in(w, "kzc.officer")
    assert officer.get(BOARD).status_code == 403
    # signed out: to the sign-in page
    assert Browser(platform).get(BOARD).status_code == 303


@pytest.mark.parametrize("language", list(LANGS))
def test_operator_pages_in_each_language(platform: Platform, language: str) -> None:
    one_backend(platform, "the pages in a language")
    env, _, sup, _ = _setup(platform, LANGS[language])
    _waiting_trucks(env, 1)
    tr = i18n.translations(language).gettext
    home = sup.get("/console/")
    assert 'id="nav-operator"' in home.text and 'id="tile-operator"' in home.text
    pages = {
        "/console/operator": tr("Crossings you operate"),
        BOARD: tr("Queue board: %(crossing)s"),
        CAPS: tr("Caps and stage: %(crossing)s"),
        GATES: tr("Gate events: %(crossing)s"),
        f"{BOARD}/walk-ins": tr("Truck without a booking: %(crossing)s"),
    }
    for path, title in pages.items():
        r = sup.get(path)
        assert r.status_code == 200, path
        assert f'lang="{LANGS[language]}"' in r.text
        head = title.split("%(crossing)s")[0]
        assert f"<title>{head}" in r.text, (path, head)
    board = sup.get(BOARD).text
    side = tr("Chinese side")
    assert (
        side[:1].upper() + side[1:] in board
        and tr("Call forward") in board
        and i18n.Formatter(language).country("KZ") in board
    )
    crossing = crossing_name(get_crossing("KHG-NZH"), language)
    assert crossing in sup.get("/console/operator").text
