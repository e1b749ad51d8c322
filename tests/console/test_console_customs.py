"""Customs officer pages and the administrator's page, through the browser's forms: what an
organization may see, lane overrides and inspections audited with the person, invitations."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from silkgate.audit.models import AuditEntry
from silkgate.codelists.hs import hs_description
from silkgate.console import i18n
from silkgate.console import service as console
from silkgate.core.platform import Platform
from silkgate.declarations import service as declarations
from silkgate.registry import service as registry
from silkgate.registry.schemas import OrganizationCreate, Role
from silkgate.risk.platform.worker import assess_pending
from tests.conftest import one_backend
from tests.console.browser import Browser, csrf_of
from tests.console.people import World, admin, join, member, world
from tests.factories import caller, export_cn_to_kz

LANGS = {"en": "en", "ru_KZ": "ru-KZ", "kk_KZ": "kk-KZ", "zh_Hans_CN": "zh-Hans-CN"}
OTHER_CROSSING_ORG = "KZ/GOV/080940006055"  # a customs post at another crossing


@dataclass
class Customs:
    w: World
    decl: str  # CN→KZ export lodged with Chinese customs, assessed
    cn: Browser  # a supervisor of Chinese customs (lodging side)
    kz: Browser  # an officer of Kazakh customs (pre-arrival side)


def _customs(platform: Platform, cn_lang: str = "en") -> Customs:
    w = world(platform)
    broker = caller(platform, w.ids, "cn-broker")
    decl = declarations.create(platform, broker, export_cn_to_kz("CON-1"))[0].id
    assess_pending(platform)
    cn_admin, _ = admin(w, "cn-customs", "cnboss")
    member(w, cn_admin, "wang.supervisor", ["officer", "supervisor"])
    kz_admin, _ = admin(w, "kz-customs", "kzboss")
    member(w, kz_admin, "asel.officer", ["officer"])
    cn, kz = Browser(platform, cn_lang), Browser(platform)
    cn.sign_in(w, "wang.supervisor")
    kz.sign_in(w, "asel.officer")
    return Customs(w, decl, cn, kz)


def _audit(platform: Platform, action: str) -> list[AuditEntry]:
    with platform.db.session() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_each_side_sees_what_it_is_entitled_to(platform: Platform) -> None:
    c = _customs(platform)
    # Kazakh customs: the export arrives as pre-arrival information, without the lane
    listed = c.kz.get("/console/declarations")
    assert listed.status_code == 200 and f'data-declaration-id="{c.decl}"' in listed.text
    page = c.kz.get(f"/console/declarations/{c.decl}")
    assert page.status_code == 200 and "pre-arrival information" in page.text
    assert 'class="lane lane-' not in page.text and 'id="override-form"' not in page.text
    assert 'id="inspection-form"' not in page.text
    assert "Marat Tulegenov" not in page.text  # the driver is not shared across the border
    # Chinese customs (lodging side): outgoing for them, with the lane, reasons and forms
    assert c.decl not in c.cn.get("/console/declarations").text  # not incoming to China
    out = c.cn.get("/console/declarations?direction=outgoing")
    assert f'data-declaration-id="{c.decl}"' in out.text and 'class="lane lane-' in out.text
    page = c.cn.get(f"/console/declarations/{c.decl}")
    assert 'data-testid="lane-reasons"' in page.text or "No rule or model" in page.text
    assert 'id="override-form"' in page.text and 'id="inspection-form"' in page.text
    assert "Flat-rolled steel" in page.text and "74,508.29" in page.text
    # each goods line's HS code with the nomenclature's own title (English: all it carries)
    titled = re.findall(
        r'<span class="code">(\d+)</span><br><span class="hint" lang="en" '
        r'data-testid="hs-title">([^<]+)</span>',
        page.text,
    )
    codes = [g["hs_code"] for g in export_cn_to_kz("CON-1")["goods_items"]]
    assert [c for c, _ in titled] == codes
    assert [html.unescape(t) for _, t in titled] == [hs_description(c) for c in codes]
    timeline = page.text.split('data-testid="timeline"', 1)[1]
    assert "Declaration accepted" in timeline and "Risk assessed, lane assigned" in timeline


def test_the_list_pages_through_the_declarations(platform: Platform) -> None:
    c = _customs(platform)
    broker = caller(platform, c.w.ids, "cn-broker")
    for i in range(console.PAGE_SIZE + 2):
        declarations.create(platform, broker, export_cn_to_kz(f"PAGE-{i}"))
    first = c.kz.get("/console/declarations")
    ids = re.findall(r'data-declaration-id="([^"]+)"', first.text)
    assert len(ids) == console.PAGE_SIZE and 'id="page-first"' not in first.text
    more = re.search(r'href="([^"]+)" id="page-next"', first.text)
    assert more
    second = c.kz.get(more.group(1).replace("&amp;", "&"))
    rest = re.findall(r'data-declaration-id="([^"]+)"', second.text)
    assert len(rest) == 3 and not set(rest) & set(ids) and 'id="page-first"' in second.text
    assert 'id="page-next"' not in second.text
    assert ids == sorted(ids, reverse=True)  # newest first
    # filters narrow the list and survive paging
    one = c.kz.get("/console/declarations?lrn=PAGE-7")
    assert len(re.findall(r'data-declaration-id="', one.text)) == 1
    assert c.kz.get("/console/declarations?status=nonsense").status_code == 422
    assert c.kz.get("/console/declarations?cursor=%%%").status_code == 422


def test_a_user_of_one_organization_never_sees_anothers_declarations(platform: Platform) -> None:
    c = _customs(platform)
    other = OrganizationCreate(
        member_id=OTHER_CROSSING_ORG,
        name="Dostyk customs post",
        roles=[Role.CUSTOMS],
        crossings=["ALA-DOS"],
    )
    registry.create_organization(platform, other, "test")
    boss = console.create_administrator(platform, OTHER_CROSSING_ORG, "dos.boss", "Dos", "t")
    join(c.w, boss)
    dos_admin = Browser(platform)
    dos_admin.sign_in(c.w, "dos.boss")
    r = dos_admin.post(
        "/console/admin/users/invite",
        {"login": "dos.officer", "display_name": "Dos Officer", "roles": "officer"},
        from_page="/console/admin/users",
    )
    link = re.search(r'data-testid="invite-link">([^<]+)<', r.text)
    assert r.status_code == 200 and link
    join(c.w, link.group(1).rsplit("/", 1)[1])
    dos = Browser(platform)
    dos.sign_in(c.w, "dos.officer")
    for direction in ("incoming", "outgoing", "all"):
        page = dos.get(f"/console/declarations?direction={direction}")
        assert page.status_code == 200 and 'data-testid="declaration-row"' not in page.text
    assert dos.get(f"/console/declarations/{c.decl}").status_code == 404
    # a crossing the organization does not serve is refused by name, not silently emptied
    assert dos.get("/console/declarations?crossing=KHG-NZH").status_code == 422
    # the declarant's own people are not customs: no customs pages for them
    broker_admin, _ = admin(c.w, "cn-broker", "broker.boss")
    member(c.w, broker_admin, "broker.clerk", ["officer", "supervisor"])
    clerk = Browser(platform)
    clerk.sign_in(c.w, "broker.clerk")
    assert clerk.get("/console/declarations").status_code == 403
    assert clerk.get(f"/console/declarations/{c.decl}").status_code == 403
    # nor can another organization's administrator manage these people
    assert (
        dos_admin.post(
            "/console/admin/users/asel.officer/disable", {}, from_page="/console/admin/users"
        ).status_code
        == 404
    )


def test_override_and_inspection_are_audited_with_the_person(platform: Platform) -> None:
    c = _customs(platform)
    path = f"/console/declarations/{c.decl}"
    r = c.cn.post(
        f"{path}/override",
        {"lane": "red", "reason": "intelligence from the Karamay centre"},
        from_page=path,
    )
    assert r.status_code == 303 and "done=override" in r.headers["location"]
    page = c.cn.follow(r)
    assert (
        'class="lane lane-red"' in page.text and "intelligence from the Karamay centre" in page.text
    )
    assert 'data-testid="notice"' in page.text
    r = c.cn.post(
        f"{path}/inspection",
        {
            "outcome": "discrepancy",
            "kind_1": "quantity",
            "text_1": "12 more cartons",
            "item_1": "2",
            "duties_amount": "18 250,5",
            "duties_currency": "kzt",
            "note": "opened at bay 4",
        },
        from_page=path,
    )
    assert r.status_code == 303, r.text[:2000]
    page = c.cn.follow(r)
    assert 'data-testid="inspection-outcome"' in page.text and "12 more cartons" in page.text
    assert "KZT" in page.text and "18,250.50" in page.text
    cn_customs = c.w.ids["cn-customs"]
    [override] = _audit(platform, "declaration.lane_overridden")
    [inspection] = _audit(platform, "inspection.recorded")
    for e in (override, inspection):
        assert (e.actor, e.person, e.entity_id) == (cn_customs, "wang.supervisor", c.decl)
    # the API still works for systems, and its entries name no person
    from tests.factories import tokens

    keys = tokens(platform, c.w.ids)
    api = c.cn.client

    def auth(who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {keys[who]}"}

    r = api.post(
        f"/api/v1/declarations/{c.decl}/lane",
        json={"lane": "yellow", "reason": "by the system"},
        headers={"Authorization": f"Bearer {keys['cn-customs']}"},
    )
    assert r.status_code == 200, r.text
    assert [e.person for e in _audit(platform, "declaration.lane_overridden")] == [
        "wang.supervisor",
        None,
    ]
    # the lodging customs' audit trail names the person; the declarant's does not show it
    trail = api.get(f"/api/v1/declarations/{c.decl}/audit", headers=auth("cn-customs")).json()
    assert [e["person"] for e in trail if e["action"] == "declaration.lane_overridden"] == [
        "wang.supervisor",
        None,
    ]
    theirs = api.get(f"/api/v1/declarations/{c.decl}/audit", headers=auth("cn-broker")).json()
    assert all(e.get("person") is None for e in theirs)
    # once recorded, an inspection is not recorded again
    again = c.cn.post(f"{path}/inspection", {"outcome": "no_discrepancy"}, from_page=f"{path}?x=1")
    assert again.status_code == 409
    assert len(_audit(platform, "inspection.recorded")) == 1


def test_only_supervisors_override_and_only_the_lodging_side(platform: Platform) -> None:
    c = _customs(platform)
    path = f"/console/declarations/{c.decl}"
    cn_admin = console.session(platform, admin(c.w, "cn-customs", "cnboss2")[1])
    assert cn_admin is not None
    member(c.w, cn_admin.person, "li.officer", ["officer"])
    b = Browser(platform)
    b.sign_in(c.w, "li.officer")
    page = b.get(path)
    assert 'id="override-form"' not in page.text and 'id="inspection-form"' in page.text
    token = csrf_of(page.text)
    r = b.client.post(
        f"{path}/override", data={"csrf_token": token, "lane": "green", "reason": "friendly"}
    )
    assert r.status_code == 403
    token = csrf_of(c.kz.get(path).text)
    r = c.kz.client.post(
        f"{path}/inspection", data={"csrf_token": token, "outcome": "no_discrepancy"}
    )
    assert r.status_code == 404
    assert not _audit(platform, "declaration.lane_overridden")
    assert not _audit(platform, "inspection.recorded")


def test_forms_refuse_bad_input_in_the_page_language(platform: Platform) -> None:
    c = _customs(platform, "kk-KZ")
    path = f"/console/declarations/{c.decl}"
    tr = i18n.translations("kk_KZ").gettext
    r = c.cn.post(f"{path}/override", {"lane": "red", "reason": "x"}, from_page=path)
    assert r.status_code == 422 and tr("The text is too short.") in r.text
    r = c.cn.post(f"{path}/override", {"reason": "a good reason"}, from_page=path)
    assert r.status_code == 422 and tr("Choose a lane.") in r.text
    r = c.cn.post(f"{path}/inspection", {"outcome": "discrepancy"}, from_page=path)
    assert r.status_code == 422 and tr("Say what was found.") in r.text
    r = c.cn.post(
        f"{path}/inspection",
        {
            "outcome": "discrepancy",
            "kind_1": "other",
            "text_1": "x",
            "duties_amount": "-5",
            "duties_currency": "KZT",
        },
        from_page=path,
    )
    assert r.status_code == 422 and tr("Enter an amount of zero or more.") in r.text
    assert 'value="-5"' in r.text  # what was typed is kept
    # the language switcher of a refused form returns to the declaration's page, not the POST
    assert f'name="next" value="{path}"' in r.text
    # without the form's token nothing changes
    r = c.cn.client.post(f"{path}/override", data={"lane": "red", "reason": "no token here"})
    assert r.status_code == 403 and not _audit(platform, "declaration.lane_overridden")


def test_administrator_invites_and_disables_through_the_page(platform: Platform) -> None:
    w = world(platform)
    admin(w, "kz-customs", "boss")
    b = Browser(platform, "ru-KZ")
    b.sign_in(w, "boss")
    bad = b.post(
        "/console/admin/users/invite",
        {"login": "X", "display_name": "", "roles": "officer"},
        from_page="/console/admin/users",
    )
    assert bad.status_code == 422
    r = b.post(
        "/console/admin/users/invite",
        {"login": "aidos", "display_name": "Айдос", "roles": "officer"},
        from_page="/console/admin/users",
    )
    link = re.search(r'data-testid="invite-link">([^<]+)<', r.text)
    assert (
        r.status_code == 200
        and link
        and link.group(1).startswith("https://testserver/console/invite/")
    )
    dup = b.post(
        "/console/admin/users/invite",
        {"login": "aidos", "display_name": "Again", "roles": "officer"},
        from_page="/console/admin/users",
    )
    assert dup.status_code == 409
    join(w, link.group(1).rsplit("/", 1)[1])
    aidos = Browser(platform)
    aidos.sign_in(w, "aidos")
    assert aidos.get("/console/admin/users").status_code == 403
    r = b.post("/console/admin/users/aidos/disable", {}, from_page="/console/admin/users")
    assert r.status_code == 303
    assert aidos.get("/console/").status_code == 303  # signed out at once
    people = b.get("/console/admin/users")
    assert 'data-login="aidos"' in people.text and "Отключена" in people.text
    [entry] = _audit(platform, "console.user_disabled")
    assert (entry.person, entry.entity_id) == ("boss", "aidos")


@pytest.mark.parametrize("language", list(LANGS))
def test_customs_and_admin_pages_render_in_each_language(platform: Platform, language: str) -> None:
    one_backend(platform, "the pages in a language")
    c = _customs(platform, LANGS[language])
    tr = i18n.translations(language).gettext
    pages = {
        "/console/declarations?direction=outgoing": tr("Declarations"),
        f"/console/declarations/{c.decl}": tr("Declaration %(lrn)s") % {"lrn": "CON-1"},
    }
    for path, title in pages.items():
        r = c.cn.get(path)
        assert r.status_code == 200, path
        assert (
            f"<title>{title} · Silkgate</title>" in r.text and f'lang="{LANGS[language]}"' in r.text
        )
    boss = Browser(platform, LANGS[language])
    boss.sign_in(c.w, "cnboss")
    r = boss.get("/console/admin/users")
    assert (
        r.status_code == 200
        and f"<title>{tr('People of your organization')} · Silkgate</title>" in r.text
    )
    detail = c.cn.get(f"/console/declarations/{c.decl}").text
    # the route's countries in the page's language
    assert i18n.Formatter(language).country("KZ") in detail


def test_an_expired_invitation_is_replaced_by_a_new_link(platform: Platform) -> None:
    w = world(platform)
    admin(w, "kz-customs", "boss")
    b = Browser(platform)
    b.sign_in(w, "boss")
    r = b.post(
        "/console/admin/users/invite",
        {"login": "late", "display_name": "Late", "roles": "officer"},
        from_page="/console/admin/users",
    )
    first = re.search(r'data-testid="invite-link">([^<]+)<', r.text)
    assert first
    w.clock.advance(hours=platform.settings.console_invite_hours + 1)
    b.sign_in(w, "boss")  # the session ended meanwhile
    assert b.get(first.group(1).replace("https://testserver", "")).status_code == 404
    page = b.get("/console/admin/users")
    assert 'id="reinvite-late"' in page.text and 'id="reinvite-boss"' not in page.text
    r = b.post("/console/admin/users/late/reinvite", {}, from_page="/console/admin/users")
    second = re.search(r'data-testid="invite-link">([^<]+)<', r.text)
    assert r.status_code == 200 and second and second.group(1) != first.group(1)
    join(w, second.group(1).rsplit("/", 1)[1])
    r = b.post("/console/admin/users/late/reinvite", {}, from_page="/console/admin/users")
    assert r.status_code == 409  # joined: no invitation any more
    assert [e.person for e in _audit(platform, "console.user_reinvited")] == ["boss"]
