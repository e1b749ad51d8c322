"""A broker lodges a declaration field by field in a real browser, on a phone's screen, in
each language: numbers typed the language's way, a refused HS code answered on its input with
everything typed kept, a second goods line added, then lodged and listed under My
declarations, opened, and its amendment form filled from it. No serious or critical
accessibility violation on the form, the declaration's page or the amendment form (axe-core)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest
from babel.numbers import format_decimal

from silkgate.console import i18n
from silkgate.declarations import flatfile
from tests.console.live import LANGS, Live
from tests.console.test_console_browser import axe_violations
from tests.console.test_console_browser_carrier import PHONE, _broker, _sign_in
from tests.factories import export_cn_to_kz

pytestmark = pytest.mark.xdist_group("browser")
SUMMED = ("totals.packages", "totals.gross_mass_kg", "invoice.total_amount")  # left empty


def _(lang: str, text: str) -> str:
    return i18n.translations(lang).gettext(text)


def _inputs(body: dict[str, Any], lang: str) -> dict[str, str]:
    """Input name → what a person types, numbers in the page's language (the totals left
    empty: the form sums the lines)."""
    numbers = flatfile.number_fields()
    out: dict[str, str] = {}
    for n, row in enumerate(flatfile.to_rows([body])):
        for key, value in row.items():
            if key in numbers and value:
                value = format_decimal(Decimal(value), locale=lang)
            if key.startswith(flatfile.ITEM_PREFIX):
                out[f"item.{n}.{key[len(flatfile.ITEM_PREFIX) :]}"] = value
            elif not key.startswith("crossing.") and key not in SUMMED:
                out[key] = value
    return out


@pytest.mark.parametrize("lang", list(LANGS))
def test_a_broker_lodges_a_declaration_field_by_field(
    live: Live, new_context: Any, axe_source: str, lang: str
) -> None:
    _journey(live, new_context, axe_source, lang)


def test_lodging_field_by_field_on_postgresql(
    live_pg: Live, new_context: Any, axe_source: str
) -> None:
    """The same journey with the console over PostgreSQL (one language)."""
    _journey(live_pg, new_context, axe_source, "zh_Hans_CN")


def _journey(live: Live, new_context: Any, axe_source: str, lang: str) -> None:
    _broker(live)
    body = export_cn_to_kz(f"FORM-{lang}")
    body["goods_items"] = body["goods_items"][:1]  # one line; the totals left to the form
    typed = _inputs(body, lang)
    page = new_context(lang, viewport=PHONE).new_page()
    _sign_in(page, live, lang)
    page.locator("#nav-my-declarations").click()
    page.locator("#lodge-one").click()
    page.wait_for_url("**/console/my-declarations/new")
    for name, value in typed.items():
        field = page.locator(f'[name="{name}"]')
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    page.locator("#d-route").select_option("KHG-NZH:CN:KZ")
    page.locator('[name="item.0.hs_code"]').fill("999999")  # no such subheading
    with page.expect_navigation():  # answered by the form again, its errors on their inputs
        page.locator("#declaration-submit").click()
    hs = page.locator('[name="item.0.hs_code"]')
    assert hs.get_attribute("aria-invalid") == "true"
    error = page.locator('[data-testid="field-error"][data-field="item.0.hs_code"]')
    assert error.inner_text() == _(lang, "This is not an HS subheading of the code list.")
    assert page.locator('[data-testid="field-error"]').count() == 1  # the rest was right
    assert (
        page.locator('[name="exporter.identifier"]').input_value() == typed["exporter.identifier"]
    )
    found = {"form": axe_violations(page, axe_source)}
    hs.fill(typed["item.0.hs_code"])
    with page.expect_navigation():  # the form comes back whole before its lines are counted
        page.locator("#add-line").click()  # a second line, left empty: not a goods item
    assert page.locator('[data-testid="goods-line"]').count() == 2
    assert page.locator('[name="item.0.hs_code"]').input_value() == typed["item.0.hs_code"]
    page.locator("#declaration-submit").click()
    page.wait_for_url(re.compile(r"/console/my-declarations\?done=lodged"))
    assert page.get_by_test_id("notice").inner_text() == _(
        lang, "The declaration is lodged; its checks and lane follow."
    )
    row = page.locator('[data-testid="my-declaration-row"]', has_text=f"FORM-{lang}")
    assert row.count() == 1
    # its page, then the amendment form filled from it (on a phone, axe-core on both)
    with page.expect_navigation():
        row.get_by_test_id("my-declaration-link").click()
    assert f"FORM-{lang}" in page.locator("#page-title").inner_text()
    found["declaration"] = axe_violations(page, axe_source)
    with page.expect_navigation():
        page.locator("#amend-link").click()
    assert page.locator('[name="item.0.hs_code"]').input_value() == typed["item.0.hs_code"]
    found["amendment form"] = axe_violations(page, axe_source)
    bad = {k: v for k, v in found.items() if v}
    assert not bad, json.dumps(bad, ensure_ascii=False, indent=1)
