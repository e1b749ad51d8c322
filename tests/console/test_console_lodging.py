"""Declarant pages: lodging a file of declarations with a report of every line (each
rejected line's field and reason), my declarations with their lane, and another
organization's declarations never shown."""

from __future__ import annotations

import json
import re

import pytest

from silkgate.console import i18n
from silkgate.core.platform import Platform
from silkgate.declarations import flatfile
from silkgate.declarations import service as declarations
from tests.conftest import one_backend
from tests.console.browser import Browser, csrf_of
from tests.console.people import World, admin, member, world
from tests.factories import caller, export_cn_to_kz

LANGS = {"en": "en", "ru_KZ": "ru-KZ", "kk_KZ": "kk-KZ", "zh_Hans_CN": "zh-Hans-CN"}


def _broker(platform: Platform, language: str = "en") -> tuple[World, Browser]:
    w = world(platform)
    boss, _ = admin(w, "cn-broker", "broker.boss")
    member(w, boss, "li.clerk", ["officer"])
    b = Browser(platform, language)
    b.sign_in(w, "li.clerk")
    return w, b


def _upload(b: Browser, name: str, content: bytes, fmt: str = "") -> str:
    page = b.get("/console/my-declarations/lodge")
    r = b.client.post(
        "/console/my-declarations/lodge",
        data={"csrf_token": csrf_of(page.text), "format": fmt},
        files={"file": (name, content, "application/octet-stream")},
    )
    assert r.status_code == 200, r.text[:1000]
    return r.text


def test_a_file_is_lodged_line_by_line_with_a_report(platform: Platform) -> None:
    _, b = _broker(platform)
    good = export_cn_to_kz("FILE-1")
    bad = export_cn_to_kz("FILE-2")
    bad["goods_items"][0]["hs_code"] = "12"
    lines = [json.dumps(good), "{not json", json.dumps(bad), json.dumps(export_cn_to_kz("FILE-1"))]
    html = _upload(b, "batch.jsonl", "\n".join(lines).encode())
    rows = dict(re.findall(r'data-line="(\d+)" data-outcome="(\w+)"', html))
    assert rows == {"1": "accepted", "2": "rejected", "3": "rejected", "4": "rejected"}
    line3 = html.split('data-line="3"', 1)[1].split("</tr>", 1)[0]
    assert 'data-field="/goods_items/0/hs_code"' in line3
    line4 = html.split('data-line="4"', 1)[1].split("</tr>", 1)[0]
    assert 'data-field="/lrn"' in line4  # the LRN repeated
    assert re.search(r'data-testid="lodge-summary">Accepted: 1\. Rejected: 3\.<', html)
    mine = b.get("/console/my-declarations")
    assert mine.status_code == 200 and mine.text.count('data-testid="my-declaration-row"') == 1
    assert "FILE-1" in mine.text and "FILE-2" not in mine.text
    # the same file as the flat CSV the export writes
    rows_csv = list(flatfile.to_rows([export_cn_to_kz("FILE-3")]))
    import csv
    import io

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows_csv[0]))
    writer.writeheader()
    writer.writerows(rows_csv)
    html = _upload(b, "batch.csv", out.getvalue().encode())
    assert re.findall(r'data-outcome="(\w+)"', html) == ["accepted"], html[-3000:]


def test_bad_uploads_are_answered_per_field_and_csrf_is_needed(platform: Platform) -> None:
    _, b = _broker(platform, "ru-KZ")
    page = b.get("/console/my-declarations/lodge")
    r = b.client.post("/console/my-declarations/lodge", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 422 and 'data-field="file"' in r.text and "Выберите файл" in r.text
    r = b.client.post(
        "/console/my-declarations/lodge",
        data={"csrf_token": csrf_of(page.text), "format": "xml"},
        files={"file": ("a.xml", b"<a/>", "text/xml")},
    )
    assert r.status_code == 422 and 'data-field="format"' in r.text
    r = b.client.post(
        "/console/my-declarations/lodge",
        files={"file": ("a.jsonl", json.dumps(export_cn_to_kz("X-1")).encode(), "text/plain")},
    )
    assert r.status_code == 403
    assert "X-1" not in b.get("/console/my-declarations").text


def test_an_organization_never_sees_anothers_declarations(platform: Platform) -> None:
    w, b = _broker(platform)
    other_org = caller(platform, w.ids, "cn-carrier")
    declarations.create(platform, other_org, export_cn_to_kz("KZ-ONLY"))
    _upload(b, "a.jsonl", json.dumps(export_cn_to_kz("CN-MINE")).encode())
    assert "KZ-ONLY" not in b.get("/console/my-declarations").text
    other_boss, _ = admin(w, "kz-carrier", "kz.boss")
    member(w, other_boss, "kz.clerk", ["officer"])
    other = Browser(platform)
    other.sign_in(w, "kz.clerk")
    assert "CN-MINE" not in other.get("/console/my-declarations").text
    customs_boss, _ = admin(w, "kz-customs", "kzc.boss")
    member(w, customs_boss, "kzc.officer", ["officer"])
    officer = Browser(platform)
    officer.sign_in(w, "kzc.officer")
    assert officer.get("/console/my-declarations").status_code == 403


@pytest.mark.parametrize("language", list(LANGS))
def test_lodging_pages_in_each_language(platform: Platform, language: str) -> None:
    one_backend(platform, "the pages in a language")
    _, b = _broker(platform, LANGS[language])
    tr = i18n.translations(language).gettext
    html = _upload(b, "a.jsonl", json.dumps(export_cn_to_kz("L-1")).encode())
    assert f"<title>{tr('Lodge declarations from a file')} · Silkgate</title>" in html
    assert (
        tr("Accepted: %(accepted)s. Rejected: %(rejected)s.")
        % {
            "accepted": "1",
            "rejected": "0",
        }
        in html
    )
    r = b.get("/console/my-declarations")
    assert f"<title>{tr('My declarations')} · Silkgate</title>" in r.text
    assert f'lang="{LANGS[language]}"' in r.text and tr("Accepted") in r.text
