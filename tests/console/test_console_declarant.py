"""A declarant's own declaration: its page (what the API shows its organization), amending it
through the lodging form filled from the stored version (numbers in the page's locale, the
LRN fixed, whole or nothing, each refusal on its input), and cancelling it with a reason before
the truck reaches the border — audited with the person, CSRF-protected, and another
organization's declaration never shown."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from silkgate.audit.models import AuditEntry
from silkgate.audit.service import payload_digest
from silkgate.console import i18n
from silkgate.console.lodging_form import declaration_of, form_of
from silkgate.core.errors import Conflict
from silkgate.core.platform import Platform
from silkgate.declarations import service as declarations
from silkgate.declarations.models import Declaration, DeclarationVersion
from silkgate.declarations.schemas import DeclarationStatus as S
from tests.conftest import one_backend
from tests.console.browser import Browser, csrf_of
from tests.console.people import World, admin, member
from tests.console.test_console_lodging import LANGS, _broker
from tests.factories import caller, export_cn_to_kz

MINE = "/console/my-declarations"
INPUT_RE = re.compile(r'<input\b[^>]*?\bname="([^"]+)"[^>]*?\bvalue="([^"]*)"')
SELECT_RE = re.compile(r'<select\b[^>]*?\bname="([^"]+)"[^>]*>(.*?)</select>', re.S)
SELECTED_RE = re.compile(r'<option value="([^"]*)" selected>')


def _lodged(platform: Platform, w: World, lrn: str = "MY-1", org: str = "cn-broker") -> str:
    body = export_cn_to_kz(lrn)
    return declarations.create(platform, caller(platform, w.ids, org), body)[0].id


def _stored(platform: Platform, decl_id: str) -> tuple[Declaration, list[int]]:
    with platform.db.session() as s:
        d = s.get(Declaration, decl_id)
        assert d is not None
        versions = s.scalars(
            select(DeclarationVersion.version).where(DeclarationVersion.declaration_id == decl_id)
        ).all()
        s.expunge(d)
        return d, sorted(versions)


def _audit(platform: Platform, action: str, decl_id: str) -> list[AuditEntry]:
    with platform.db.session() as s:
        found = s.scalars(
            select(AuditEntry).where(AuditEntry.action == action, AuditEntry.entity_id == decl_id)
        ).all()
        for e in found:
            s.expunge(e)
        return list(found)


def _filled(page: str) -> dict[str, str]:
    """What a browser sends for the form on ``page`` as it stands (inputs and choices)."""
    form = {name: html.unescape(value) for name, value in INPUT_RE.findall(page)}
    for name, options in SELECT_RE.findall(page):
        chosen = SELECTED_RE.search(options)
        form[name] = html.unescape(chosen.group(1)) if chosen else ""
    return form


def _amend(b: Browser, decl_id: str, change: dict[str, str], page: str | None = None) -> Any:
    """Open the amendment form (or use ``page``), change some inputs and store it."""
    if page is None:
        opened = b.get(f"{MINE}/{decl_id}/amend")
        assert opened.status_code == 200, opened.text[:2000]
        page = opened.text
    form = {**_filled(page), "action": "lodge", **change}
    return b.client.post(f"{MINE}/{decl_id}/amend", data=form)


def _cancel(b: Browser, decl_id: str, reason: str) -> httpx.Response:
    token = csrf_of(b.get(MINE).text)
    return b.client.post(f"{MINE}/{decl_id}/cancel", data={"csrf_token": token, "reason": reason})


def _errors(page: str) -> dict[str, str]:
    return {k: html.unescape(v) for k, v in re.findall(r'data-field="([^"]+)">([^<]+)<', page)}


def _set_state(platform: Platform, decl_id: str, **values: Any) -> None:
    with platform.db.session() as s:
        d = s.get(Declaration, decl_id)
        assert d is not None
        for k, v in values.items():
            setattr(d, k, v)


def test_the_page_shows_my_declaration_and_the_list_links_to_it(platform: Platform) -> None:
    w, b = _broker(platform)
    decl_id = _lodged(platform, w)
    listed = b.get(MINE)
    assert f'href="{MINE}/{decl_id}"' in listed.text
    r = b.get(f"{MINE}/{decl_id}")
    assert r.status_code == 200
    assert "<title>Declaration MY-1 · Silkgate</title>" in r.text
    assert re.search(r'data-testid="declaration-status">Accepted<', r.text)
    assert re.search(r'data-testid="declaration-version">1<', r.text)
    assert "Not assessed yet." in r.text  # no lane yet: none shown
    items = len(export_cn_to_kz()["goods_items"])
    assert r.text.count('data-testid="goods-row"') == items
    assert 'id="amend-link"' in r.text and 'id="cancel-form"' in r.text
    _set_state(platform, decl_id, lane="yellow", status=S.RISK_ASSESSED.value)
    r = b.get(f"{MINE}/{decl_id}")
    # the lane is the declarant's to see (as GET /declarations/{id} shows it to the owner)
    assert re.search(r'data-testid="lane"><span class="lane lane-yellow">Yellow</span>', r.text)
    assert 'id="cancel-form"' in r.text  # risk assessed: still before arrival


def test_another_organizations_declaration_is_not_found(platform: Platform) -> None:
    w, b = _broker(platform)
    theirs = _lodged(platform, w, "THEIRS-1", org="cn-carrier")
    for path in (f"{MINE}/{theirs}", f"{MINE}/{theirs}/amend", f"{MINE}/nosuchid", f"{MINE}/x"):
        r = b.get(path)
        assert r.status_code == 404, path
        assert "Not found, or not yours to see." in r.text and "THEIRS-1" not in r.text
    r = _cancel(b, theirs, "not mine")
    assert r.status_code == 404
    r = _amend(b, theirs, {}, page=b.get(f"{MINE}/new").text)
    assert r.status_code == 404
    assert _stored(platform, theirs)[0].status == S.ACCEPTED.value
    boss, _ = admin(w, "kz-customs", "kz.boss")
    member(w, boss, "asel", ["officer"])
    officer = Browser(platform)
    officer.sign_in(w, "asel")
    assert officer.get(f"{MINE}/{theirs}").status_code == 403  # customs: not a declarant
    assert Browser(platform).get(f"{MINE}/{theirs}").status_code == 303  # signed out


def test_amending_through_the_form_stores_version_2_audited_with_the_person(
    platform: Platform,
) -> None:
    w, b = _broker(platform, "ru-KZ")
    decl_id = _lodged(platform, w)
    before, _ = _stored(platform, decl_id)
    opened = b.get(f"{MINE}/{decl_id}/amend")
    assert opened.status_code == 200
    filled = _filled(opened.text)
    assert filled["lrn"] == "MY-1" and filled["version"] == "1"
    assert filled["item.0.gross_mass_kg"] == "16\xa0535,4"  # the Russian way, read back exactly
    assert re.search(r'name="lrn" value="MY-1"[^>]*readonly', opened.text)
    r = _amend(b, decl_id, {"item.0.description": "Galvanised steel sheet"}, opened.text)
    assert r.status_code == 303, r.text[:3000]
    assert r.headers["location"].startswith(f"{MINE}/{decl_id}?done=amended")
    shown = b.follow(r)
    assert 'data-testid="notice"' in shown.text
    assert re.search(r'data-testid="declaration-version">2<', shown.text)
    after, versions = _stored(platform, decl_id)
    assert versions == [1, 2] and after.version == 2
    expected = before.payload
    expected["goods_items"][0]["description"] = "Galvanised steel sheet"
    assert after.payload == expected  # everything else as it was: the prefill is exact
    [entry] = _audit(platform, "declaration.amended", decl_id)
    assert entry.person == "li.clerk"


def test_a_bad_amended_value_is_refused_on_its_input_and_nothing_changes(
    platform: Platform,
) -> None:
    w, b = _broker(platform)
    decl_id = _lodged(platform, w)
    before, _ = _stored(platform, decl_id)
    r = _amend(b, decl_id, {"item.1.hs_code": "12", "item.0.description": "Changed"})
    assert r.status_code == 422
    errors = _errors(r.text)
    assert set(errors) == {"item.1.hs_code"}
    assert 'value="12"' in r.text and 'value="Changed"' in r.text  # as typed
    assert 'action="/console/my-declarations/' + decl_id + '/amend"' in r.text
    after, versions = _stored(platform, decl_id)
    assert versions == [1] and after.payload == before.payload
    assert _audit(platform, "declaration.amended", decl_id) == []


def test_the_lrn_cannot_be_changed(platform: Platform) -> None:
    w, b = _broker(platform)
    decl_id = _lodged(platform, w)
    r = _amend(b, decl_id, {"lrn": "OTHER-1"})  # a readonly input, sent altered
    assert r.status_code == 422
    assert _errors(r.text) == {"lrn": "A declaration's reference cannot change."}
    after, versions = _stored(platform, decl_id)
    assert versions == [1] and after.lrn == "MY-1"


def test_an_amendment_of_a_stale_form_is_refused(platform: Platform) -> None:
    w, b = _broker(platform)
    decl_id = _lodged(platform, w)
    page = b.get(f"{MINE}/{decl_id}/amend").text
    first = _amend(b, decl_id, {"item.0.description": "First"}, page)
    assert first.status_code == 303
    again = _amend(b, decl_id, {"item.0.description": "Second"}, page)  # the old form again
    assert again.status_code == 409 and "version 2 now" in again.text
    after, versions = _stored(platform, decl_id)
    assert versions == [1, 2] and after.payload["goods_items"][0]["description"] == "First"


def test_goods_lines_are_added_and_removed_on_the_amendment_form(platform: Platform) -> None:
    w, b = _broker(platform)
    decl_id = _lodged(platform, w)
    page = b.get(f"{MINE}/{decl_id}/amend").text
    lines = page.count('data-testid="goods-line"')
    r = _amend(b, decl_id, {"action": "add_line"}, page)
    assert r.status_code == 200 and r.text.count('data-testid="goods-line"') == lines + 1
    r = _amend(b, decl_id, {"action": "remove_line"}, r.text)
    assert r.text.count('data-testid="goods-line"') == lines
    r = _amend(b, decl_id, {"action": "remove_line"}, r.text)  # one line fewer, then stored
    assert r.text.count('data-testid="goods-line"') == lines - 1
    r = _amend(b, decl_id, {"totals.packages": "", "totals.gross_mass_kg": "",
                            "invoice.total_amount": ""}, r.text)  # fmt: skip
    assert r.status_code == 303, _errors(r.text)
    after, _ = _stored(platform, decl_id)
    assert len(after.payload["goods_items"]) == lines - 1


def test_cancelling_with_a_reason_is_audited_with_the_person(platform: Platform) -> None:
    w, b = _broker(platform)
    decl_id = _lodged(platform, w)
    r = _cancel(b, decl_id, "  The buyer withdrew the order. ")
    assert r.status_code == 303
    assert r.headers["location"] == f"{MINE}/{decl_id}?done=declaration_cancelled"
    shown = b.follow(r)
    assert "The declaration is cancelled" in shown.text
    assert re.search(r'data-testid="declaration-status">Cancelled<', shown.text)
    assert 'id="cancel-form"' not in shown.text and 'id="amend-link"' not in shown.text
    assert _stored(platform, decl_id)[0].status == S.CANCELLED.value
    [entry] = _audit(platform, "declaration.cancelled", decl_id)
    assert entry.person == "li.clerk"
    given = {"from": "accepted", "to": "cancelled", "reason": "The buyer withdrew the order."}
    assert entry.payload_digest == payload_digest(given)  # the reason, trimmed, is in the log
    assert b.get(f"{MINE}/{decl_id}/amend").status_code == 409


def test_a_cancel_needs_a_reason_of_at_most_500_characters(platform: Platform) -> None:
    w, b = _broker(platform, "ru-KZ")
    decl_id = _lodged(platform, w)
    tr = i18n.translations("ru_KZ").gettext
    for reason in ("", "   "):
        r = _cancel(b, decl_id, reason)
        assert r.status_code == 422
        assert _errors(r.text) == {"reason": tr("Give the reason for cancelling.")}
    r = _cancel(b, decl_id, "x" * 501)
    assert r.status_code == 422
    assert _errors(r.text) == {"reason": tr("The text is too long.")}
    assert "x" * 501 in r.text  # as typed
    assert _stored(platform, decl_id)[0].status == S.ACCEPTED.value
    assert _audit(platform, "declaration.cancelled", decl_id) == []


def test_after_arrival_nothing_can_be_amended_or_cancelled(platform: Platform) -> None:
    w, b = _broker(platform)
    decl_id = _lodged(platform, w)
    page = b.get(f"{MINE}/{decl_id}/amend").text  # opened while it could still be amended
    customs = caller(platform, w.ids, "cn-customs")
    declarations.transition(platform, customs, decl_id, S.AT_BORDER, None)
    shown = b.get(f"{MINE}/{decl_id}")
    assert 'id="cancel-form"' not in shown.text and 'data-testid="no-actions"' in shown.text
    r = _cancel(b, decl_id, "too late")
    assert r.status_code == 409
    assert "can no longer be cancelled" in r.text
    assert re.search(r'data-testid="declaration-status">At the border<', r.text)
    r = _amend(b, decl_id, {"item.0.description": "Late"}, page)
    assert r.status_code == 409 and "can no longer be amended" in r.text
    r = b.get(f"{MINE}/{decl_id}/amend")
    assert r.status_code == 409 and "can no longer be amended" in r.text
    after, versions = _stored(platform, decl_id)
    assert after.status == S.AT_BORDER.value and versions == [1]


def test_forms_without_the_csrf_token_change_nothing(platform: Platform) -> None:
    w, b = _broker(platform)
    decl_id = _lodged(platform, w)
    r = b.client.post(f"{MINE}/{decl_id}/cancel", data={"reason": "forged"})
    assert r.status_code == 403
    form = _filled(b.get(f"{MINE}/{decl_id}/amend").text)
    form.update({"csrf_token": "forged", "item.0.description": "Forged"})
    r = b.client.post(f"{MINE}/{decl_id}/amend", data=form)
    assert r.status_code == 403
    after, versions = _stored(platform, decl_id)
    assert after.status == S.ACCEPTED.value and versions == [1]


def test_containers_the_form_has_no_input_for_are_kept(platform: Platform) -> None:
    w, b = _broker(platform)
    body = export_cn_to_kz("BOX-1")
    body["containers"] = [{"number": "CSQU3054383", "seals": ["CN1234567", "CN7654321"]}]
    decl_id = declarations.create(platform, caller(platform, w.ids, "cn-broker"), body)[0].id
    page = b.get(f"{MINE}/{decl_id}/amend").text
    assert 'data-testid="kept-containers"' in page
    r = _amend(b, decl_id, {"item.0.description": "Boxed"}, page)
    assert r.status_code == 303, _errors(r.text)
    after, _ = _stored(platform, decl_id)
    assert after.payload["containers"] == body["containers"]


@pytest.mark.parametrize("language", list(i18n.LANGUAGES))
def test_the_prefilled_form_reads_back_to_the_stored_declaration(language: str) -> None:
    body = export_cn_to_kz("ROUND-1")
    body["containers"] = [{"number": "CSQU3054383", "seals": ["CN1234567"]}]
    body["seals"] = ["S1", "S2"]
    form, lines = form_of(body, language)
    assert lines == len(body["goods_items"])
    assert declaration_of(form, lines, language) == body


@pytest.mark.parametrize("language", list(LANGS))
def test_the_declaration_pages_in_each_language(platform: Platform, language: str) -> None:
    one_backend(platform, "the pages in a language")
    w, b = _broker(platform, LANGS[language])
    decl_id = _lodged(platform, w, "LANG-1")
    tr = i18n.translations(language).gettext
    r = b.get(f"{MINE}/{decl_id}")
    assert r.status_code == 200 and f'lang="{LANGS[language]}"' in r.text
    title = tr("Declaration %(lrn)s") % {"lrn": "LANG-1"}
    assert f"<title>{html.escape(title)} · Silkgate</title>" in r.text
    for text in ("Cancel the declaration", "Amend the declaration", "Version", "Accepted"):
        assert html.escape(tr(text)) in r.text, text
    r = b.get(f"{MINE}/{decl_id}/amend")
    title = tr("Amend declaration %(lrn)s") % {"lrn": "LANG-1"}
    assert r.status_code == 200 and f"<title>{html.escape(title)} · Silkgate</title>" in r.text
    assert html.escape(tr("Store the amendment")) in r.text
    if language != "en":  # really translated, not the English fallback
        assert tr("Amend the declaration") != "Amend the declaration"


def test_the_service_refuses_an_amendment_made_from_an_older_version(platform: Platform) -> None:
    """``expected_version``: checked under the row's lock, so of two amendments made from the
    same version only the first is stored."""
    w, _ = _broker(platform)
    broker = caller(platform, w.ids, "cn-broker")
    body = export_cn_to_kz("EXP-1")
    decl = declarations.create(platform, broker, body)[0].id
    assert declarations.amend(platform, broker, decl, body, expected_version=1).version == 2
    with pytest.raises(Conflict) as refused:
        declarations.amend(platform, broker, decl, body, expected_version=1)
    assert [e.code for e in refused.value.errors] == ["changed"]
    with platform.db.session() as s:
        assert s.get(Declaration, decl).version == 2
