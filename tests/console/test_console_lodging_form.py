"""Lodging one declaration field by field: typed in the page's locale, stored whole or not at
all, each refusal on its input with the typed values kept, goods lines added and removed
without scripts, a double submission stored once, and only declarants may use it."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from babel.numbers import format_decimal
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from silkgate.audit.models import AuditEntry
from silkgate.console import i18n
from silkgate.console.lodging_form import _number, input_of
from silkgate.core.platform import Platform
from silkgate.declarations import flatfile
from silkgate.declarations.models import Declaration
from tests.conftest import one_backend
from tests.console.browser import Browser, csrf_of
from tests.console.people import admin, member
from tests.console.test_console_lodging import _broker
from tests.factories import export_cn_to_kz

FORM = "/console/my-declarations/new"


_declarant = _broker  # a clerk of the Chinese broker, signed in


def _form_of(body: dict[str, Any], language: str = "en") -> dict[str, str]:
    """The inputs a person fills for ``body``: numbers written as the page's locale writes
    them, the crossing as the route choice."""
    numbers = flatfile.number_fields()
    form: dict[str, str] = {}
    for n, row in enumerate(flatfile.to_rows([body])):
        for key, value in row.items():
            if key in numbers and value:
                value = format_decimal(Decimal(value), locale=language, group_separator=True)
            if key.startswith(flatfile.ITEM_PREFIX):
                form[f"item.{n}.{key[len(flatfile.ITEM_PREFIX) :]}"] = value
            elif not key.startswith("crossing."):
                form[key] = value
    c = body["crossing"]
    form["route"] = f"{c['code']}:{c['exit_country']}:{c['entry_country']}"
    form["lines"] = str(len(body["goods_items"]))
    return form


def _send(b: Browser, form: dict[str, str], action: str = "lodge", page: str | None = None) -> Any:
    """Post ``form`` as the form page (``page``, else a freshly loaded one) would send it."""
    html = page if page is not None else b.get(FORM).text
    form_id = re.search(r'name="form_id" value="([^"]*)"', html)
    token = csrf_of(html)
    data = {"form_id": form_id.group(1) if form_id else "", **form}
    return b.client.post(FORM, data={"csrf_token": token, "action": action, **data})


def _count(platform: Platform) -> int:
    with platform.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Declaration)) or 0)


def _two_lines() -> dict[str, Any]:
    body = export_cn_to_kz("FORM-1")
    second = dict(body["goods_items"][0], hs_code="847130", description="Laptops")
    second["packages"] = {"count": 2, "kind": "CT"}
    body["goods_items"] = [body["goods_items"][0], second]
    body["totals"] = {
        "packages": sum(i["packages"]["count"] for i in body["goods_items"]),
        "gross_mass_kg": round(sum(i["gross_mass_kg"] for i in body["goods_items"]), 3),
    }
    body["invoice"]["total_amount"] = round(sum(i["invoice_value"] for i in body["goods_items"]), 2)
    return body


def test_a_declaration_typed_in_russian_is_lodged_whole_by_the_person(platform: Platform) -> None:
    _, b = _declarant(platform, "ru-KZ")
    body = _two_lines()
    form = _form_of(body, "ru_KZ")
    assert "," in form["item.0.gross_mass_kg"]  # 16 535,4: the Russian way
    r = _send(b, form)
    assert r.status_code == 303, r.text[:2000]
    assert r.headers["location"].startswith("/console/my-declarations")
    listed = b.follow(r)
    assert "FORM-1" in listed.text and 'data-testid="notice"' in listed.text
    with platform.db.session() as s:
        [d] = s.scalars(select(Declaration))
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "declaration.submitted")
        ).one()
        stored = d.payload
    assert entry.person == "li.clerk"
    assert [i["hs_code"] for i in stored["goods_items"]] == ["721049", "847130"]
    assert stored["goods_items"][0]["gross_mass_kg"] == body["goods_items"][0]["gross_mass_kg"]
    assert stored["exporter"] == body["exporter"] and stored["invoice"] == body["invoice"]


def test_refusals_are_shown_on_their_inputs_and_nothing_is_stored(platform: Platform) -> None:
    _, b = _declarant(platform)
    form = _form_of(_two_lines())
    form["exporter.identifier"] = "91650100EHBP1WYP0C"  # check digit wrong
    form["importer.name"] = ""
    form["item.1.hs_code"] = "999999"  # no such subheading
    form["item.1.net_mass_kg"] = "abc"
    r = _send(b, form)
    assert r.status_code == 422
    fields = set(re.findall(r'data-testid="field-error" data-field="([^"]+)"', r.text))
    assert {"importer.name", "item.1.net_mass_kg"} <= fields  # the schema's refusals first
    assert 'id="d-importer-name" name="importer.name" value=""' in r.text
    assert 'aria-invalid="true" aria-describedby="d-item-1-net_mass_kg-error"' in r.text
    assert 'value="abc"' in r.text and 'value="999999"' in r.text  # as typed
    assert _count(platform) == 0
    form["importer.name"] = "Dala Trade LLP"
    form["item.1.net_mass_kg"] = "100"
    r = _send(b, form)
    assert r.status_code == 422 and _count(platform) == 0
    errors = dict(re.findall(r'data-field="([^"]+)">([^<]+)<', r.text))
    assert set(errors) == {"exporter.identifier", "item.1.hs_code"}
    assert errors["item.1.hs_code"] == "This is not an HS subheading of the code list."
    assert "check digit" in errors["exporter.identifier"]


def test_goods_lines_are_added_and_removed_keeping_what_was_typed(platform: Platform) -> None:
    _, b = _declarant(platform)
    page = b.get(FORM)
    assert page.status_code == 200 and page.text.count('data-testid="goods-line"') == 1
    form = {"lines": "1", "lrn": "KEEP-1", "item.0.hs_code": "721049"}
    r = _send(b, form, "add_line", page.text)
    assert r.status_code == 200 and r.text.count('data-testid="goods-line"') == 2
    assert 'value="KEEP-1"' in r.text and 'value="721049"' in r.text
    assert 'name="item.1.hs_code"' in r.text
    r = _send(b, {**form, "lines": "2", "item.1.hs_code": "847130"}, "remove_line", r.text)
    assert r.text.count('data-testid="goods-line"') == 1 and 'value="847130"' not in r.text
    assert _count(platform) == 0


def test_empty_totals_are_the_sum_of_the_lines(platform: Platform) -> None:
    _, b = _declarant(platform)
    form = _form_of(_two_lines())
    for total in ("totals.packages", "totals.gross_mass_kg", "invoice.total_amount"):
        form[total] = ""
    r = _send(b, form)
    assert r.status_code == 303, r.text[:2000]
    form = _form_of(_two_lines())
    form.update({"lrn": "FORM-2", "totals.packages": "1"})  # given: checked, not replaced
    r = _send(b, form)
    assert r.status_code == 422
    assert re.search(r'data-field="totals.packages">This total differs', r.text)


def test_sending_the_form_twice_stores_one_declaration(platform: Platform) -> None:
    _, b = _declarant(platform)
    page = b.get(FORM)
    form = _form_of(export_cn_to_kz("TWICE-1"))
    first = _send(b, form, page=page.text)
    again = _send(b, form, page=page.text)  # the same form sent again (a double click)
    assert first.status_code == again.status_code == 303
    assert _count(platform) == 1
    changed = _send(b, {**form, "lrn": "TWICE-2"}, page=page.text)
    assert changed.status_code == 422 and "open a new form" in changed.text
    assert _count(platform) == 1


def test_only_declarants_and_only_from_the_page(platform: Platform) -> None:
    w, b = _declarant(platform)
    r = b.client.post(FORM, data={"csrf_token": "forged", **_form_of(export_cn_to_kz("X-1"))})
    assert r.status_code == 403 and _count(platform) == 0
    boss, _ = admin(w, "kz-customs", "kz.boss")
    member(w, boss, "asel", ["officer"])
    officer = Browser(platform)
    officer.sign_in(w, "asel")
    assert officer.get(FORM).status_code == 403
    assert Browser(platform).get(FORM).status_code == 303  # signed out: to the sign-in page


@pytest.mark.parametrize("language", list(i18n.LANGUAGES))
def test_the_form_in_each_language(platform: Platform, language: str) -> None:
    one_backend(platform, "the pages in a language")
    tag = {"en": "en", "ru_KZ": "ru-KZ", "kk_KZ": "kk-KZ", "zh_Hans_CN": "zh-Hans-CN"}[language]
    _, b = _declarant(platform, tag)
    tr = i18n.translations(language).gettext
    page = b.get(FORM)
    assert page.status_code == 200
    for text in ("Lodge a declaration", "Goods line %(number)s", "Gross mass, kg", "Exporter"):
        shown = tr(text) % {"number": 1} if "%(" in text else tr(text)
        assert shown in page.text, text


def test_a_pointer_finds_its_input() -> None:
    assert input_of("/exporter/address/city", [0]) == "exporter.address.city"
    assert input_of("/goods_items/1/packages/count", [0, 3]) == "item.3.packages.count"
    assert input_of("/goods_items/0/packages", [2]) == "item.2.packages.count"
    assert input_of("/crossing", [0]) == "route"
    assert input_of("/headers/idempotency-key", [0]) is None


@given(st.decimals(min_value=0, max_value=10**9, places=3, allow_nan=False))
def test_numbers_typed_in_any_page_language_read_back_exactly(value: Decimal) -> None:
    for language in i18n.LANGUAGES:
        typed = format_decimal(value, locale=language, decimal_quantization=False)
        assert Decimal(_number(typed, "number", language)) == value, (language, typed)


@pytest.mark.parametrize("typed", ["1E+30000000", "9" * 4400, "Infinity", "-Infinity", "NaN"])
def test_an_absurd_number_is_left_as_typed_for_the_schema_to_refuse(typed: str) -> None:
    """Never expanded into millions of digits (a worker busy for seconds) nor a crash."""
    for kind in ("integer", "number"):
        assert _number(typed, kind, "en") == typed
