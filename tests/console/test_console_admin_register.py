"""A platform administrator registers a member organization in the console and invites its
first administrator, who then signs in: the registry's checks answer per input, a refused
login leaves no organization behind, and only platform administrators may register."""

from __future__ import annotations

import random
import re
import threading
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from silkgate.audit.models import AuditEntry
from silkgate.codelists.identifiers import generate_kz_bin
from silkgate.console import admin_service
from silkgate.console import service as console
from silkgate.core.errors import Conflict
from silkgate.core.platform import Platform
from silkgate.registry import service as registry
from silkgate.registry.models import Organization
from silkgate.registry.schemas import OrganizationCreate, Role
from tests.console.browser import Browser, csrf_of
from tests.console.people import admin, join, sign_in, world

NEW = "/console/admin/new-organization"


def _post(b: Browser, data: dict[str, Any]) -> httpx.Response:
    return b.client.post(NEW, data={"csrf_token": csrf_of(b.get(NEW).text), **data})


def _orgs(platform: Platform) -> int:
    with platform.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Organization)) or 0)


def _form(code: str, **over: Any) -> dict[str, Any]:
    return {
        "country": "KZ",
        "member_class": "COM",
        "code": code,
        "name": "Khorgos Gateway Logistics LLP",
        "roles": ["carrier", "broker"],
        "crossings": [],
        "public_key": "",
        "login": "gateway.boss",
        "display_name": "Aigerim Sadykova",
        **over,
    }


def test_registered_with_its_first_administrator_who_then_signs_in(platform: Platform) -> None:
    w = world(platform)
    admin(w, "karamay", "plat.boss")
    plat = Browser(platform)
    plat.sign_in(w, "plat.boss")
    assert 'id="register-organization"' in plat.get("/console/admin/organizations").text
    code = generate_kz_bin(random.Random(7))
    r = _post(plat, _form(code))
    assert r.status_code == 201, re.findall(r"field-error[^>]*>([^<]+)", r.text)
    member_id = f"KZ/COM/{code}"
    assert 'data-testid="registered"' in r.text and member_id in r.text
    link = re.search(r'data-testid="invite-link">([^<]+)<', r.text)
    assert link is not None
    org = registry.caller_for(platform, member_id)
    assert sorted(org.roles) == ["broker", "carrier"]
    (entry,) = [e for e in _audit(platform, "organization.created") if e.entity_id == member_id]
    assert entry.person == "plat.boss"
    assert _audit(platform, "console.user_invited")[-1].person == "plat.boss"
    # the invitation works once, and its holder administers the new organization
    join(w, link.group(1).rsplit("/", 1)[1])
    signed = console.session(platform, sign_in(w, "gateway.boss"))
    assert signed is not None and signed.person.organization == member_id
    assert signed.person.has(console.ConsoleRole.ADMINISTRATOR)


def _audit(platform: Platform, action: str) -> list[AuditEntry]:
    with platform.db.session() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_refusals_per_input_leave_nothing_behind(platform: Platform) -> None:
    w = world(platform)
    admin(w, "karamay", "plat.boss")
    plat = Browser(platform)
    plat.sign_in(w, "plat.boss")
    before = _orgs(platform)
    code = generate_kz_bin(random.Random(8))
    bad_digit = code[:-1] + str((int(code[-1]) + 1) % 10)
    r = _post(plat, _form(bad_digit, roles=[], public_key="not a key"))
    fields = set(re.findall(r'data-testid="field-error" data-field="([a-z_]+)"', r.text))
    assert r.status_code == 422 and {"roles"} <= fields, fields
    r = _post(plat, _form(bad_digit))
    assert r.status_code == 422 and 'data-field="code"' in r.text
    assert 'value="Khorgos Gateway Logistics LLP"' in r.text  # typed values come back
    # a login that is taken refuses the whole registration: no organization without its admin
    r = _post(plat, _form(code, login="plat.boss"))
    assert r.status_code == 409 and 'data-field="login"' in r.text
    r = _post(plat, _form(code, login="x"))
    assert r.status_code == 422 and 'data-field="login"' in r.text
    assert _orgs(platform) == before
    # an existing member id
    existing = w.ids["kz-carrier"].split("/")[2]
    r = _post(plat, _form(existing, login="", display_name=""))
    assert r.status_code == 409 and 'data-field="code"' in r.text
    assert _orgs(platform) == before
    assert not [e for e in _audit(platform, "organization.created") if e.person]


def test_a_login_taken_after_the_check_stores_neither_organization_nor_administrator(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another registration takes the login between the early check and the writes: the
    organization and its administrator are one transaction, so nothing is stored."""
    w = world(platform)
    admin(w, "karamay", "plat.boss")
    plat = Browser(platform)
    plat.sign_in(w, "plat.boss")
    form_page = plat.get(NEW).text
    before, invited = _orgs(platform), len(_audit(platform, "console.user_invited"))
    passed = admin_service.checked_newcomer

    def checked_then_taken(p: Platform, login: str, name: str) -> tuple[str, str]:
        checked = passed(p, login, name)
        admin(w, "kz-carrier", login)  # the race: someone else gets the login now
        return checked

    monkeypatch.setattr(admin_service, "checked_newcomer", checked_then_taken)
    code = generate_kz_bin(random.Random(10))
    r = plat.client.post(NEW, data={"csrf_token": csrf_of(form_page), **_form(code)})
    assert r.status_code == 409 and 'data-field="login"' in r.text
    assert _orgs(platform) == before
    assert len(_audit(platform, "console.user_invited")) == invited + 1  # the other one's only
    assert not [e for e in _audit(platform, "organization.created") if code in e.entity_id]


@pytest.mark.parametrize("rows_first", [False, True], ids=["other-first", "registration-first"])
def test_the_same_login_at_once_one_wins_the_other_is_refused(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, rows_first: bool
) -> None:
    """A registration and another organization's invitation of the same login run at once:
    whichever stores the login first keeps it, the other is refused by name (409, not a
    deadlock between one's rows and the other's audit lock), and a refused registration
    leaves no organization behind."""
    if not rows_first and platform.db.engine.dialect.name == "sqlite":
        pytest.skip("SQLite writes one transaction at a time: nobody stores a login meanwhile")
    w = world(platform)
    plat, _ = admin(w, "karamay", "plat.boss")
    before = _orgs(platform)
    other: dict[str, object] = {}

    def invite_elsewhere() -> None:
        try:
            other["token"] = console.create_administrator(
                platform, w.ids["kz-carrier"], "race.login", "Other Person", "test"
            )
        except Conflict as exc:
            other["refused"] = exc

    rows = admin_service.administrator_rows
    helper = threading.Thread(target=invite_elsewhere)

    def at_once(*args: Any) -> Any:
        if rows_first:
            made = rows(*args)
            helper.start()
            time.sleep(1)  # the other waits on this transaction's new row
            return made
        helper.start()
        helper.join(20)  # the other stores the login before this one does
        return rows(*args)

    monkeypatch.setattr(admin_service, "administrator_rows", at_once)
    body = OrganizationCreate(
        member_id=f"KZ/COM/{generate_kz_bin(random.Random(12))}",
        name="Race Logistics LLP",
        roles=[Role.CARRIER],
        crossings=[],
    )
    try:
        member_id, token = admin_service.register_organization(
            platform, plat, body, "race.login", "Race Person"
        )
    except Conflict as exc:
        helper.join(20)
        assert not rows_first and [e.field for e in exc.errors] == ["/login"]
        assert "token" in other and _orgs(platform) == before
    else:
        helper.join(20)
        assert rows_first and token and member_id == body.member_id
        assert isinstance(other.get("refused"), Conflict) and _orgs(platform) == before + 1


def test_only_platform_administrators_register(platform: Platform) -> None:
    w = world(platform)
    admin(w, "kz-customs", "kzboss")
    kz = Browser(platform)
    kz.sign_in(w, "kzboss")
    assert kz.get(NEW).status_code == 403
    assert 'id="register-organization"' not in kz.get("/console/admin/organizations").text
    token = csrf_of(kz.get("/console/admin/organizations").text)
    code = generate_kz_bin(random.Random(9))
    r = kz.client.post(NEW, data={"csrf_token": token, **_form(code)})
    assert r.status_code == 403
    assert Browser(platform).get(NEW).status_code == 303  # signed out: to the sign-in page
    admin(w, "karamay", "plat.boss")
    plat = Browser(platform)
    plat.sign_in(w, "plat.boss")
    for forged in ("", "forged"):
        r = plat.client.post(NEW, data={"csrf_token": forged, **_form(code)})
        assert r.status_code == 403 and "out of date" in r.text
    with platform.db.session() as s:
        assert s.scalar(select(Organization).where(Organization.code == code)) is None
