"""Analyst pages: analysts and customs run analytics jobs on a small lake (table, what was
left out, chart, downloads), bad parameters are answered on their field, other roles are
refused, forms need their CSRF token, an empty lake is said to be empty; the twin compares
two shipped scenarios."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from pathlib import Path

import pyarrow.parquet as pq

from silkgate.analytics.jobs.catalogue import JOBS
from silkgate.console import i18n
from silkgate.console.analyst_labels import JOB_TITLES, PARAMS
from silkgate.console.web import CSRF_REFUSED
from silkgate.core.platform import Platform
from tests.analytics.jobs.small_lake import COLUMNS, EXPECTED, picked, small_lake
from tests.console.browser import Browser
from tests.console.people import World, admin, member, world

JOBS_PAGE = "/console/analytics"
TRADE = "/console/analytics/trade_flows"
TWIN = "/console/twin"


def _person(w: World, org: str, login: str, language: str = "en") -> Browser:
    """A person of the organization (an officer), signed in through the pages."""
    boss, _ = admin(w, org, f"{login}.boss")
    member(w, boss, login, ["officer"])
    b = Browser(w.platform, language.replace("_", "-"))  # as a browser's Accept-Language
    b.sign_in(w, login)
    return b


def _setup(platform: Platform, tmp_path: Path, language: str = "en") -> tuple[World, Browser]:
    """China's small lake; an officer of the Karamay analysis centre (analyst, admin)."""
    platform.settings.analytics_lake_dir = small_lake(tmp_path / "lake")
    w = world(platform)
    return w, _person(w, "karamay", "ana.lyst", language)


def _(lang: str, text: str) -> str:
    return i18n.translations(lang).gettext(text)


def test_an_analyst_runs_a_job_and_downloads_its_rows(platform: Platform, tmp_path: Path) -> None:
    _w, b = _setup(platform, tmp_path)
    platform.settings.analytics_min_cell_size = 1  # an analyst's small cells are withheld
    listed = b.get(JOBS_PAGE)
    assert listed.status_code == 200 and 'id="nav-analytics"' in listed.text
    assert re.findall(r'data-testid="analytics-job" data-job="(\w+)"', listed.text) == list(JOBS)
    form = b.get(TRADE)
    assert form.status_code == 200
    assert 'for="param-since"' in form.text and 'id="param-level"' in form.text
    assert re.search(r'<option value="chapter" selected>', form.text)  # the default
    r = b.post(TRADE, {"since": "2025-01-01", "level": "chapter", "hs": "", "reporter": ""})
    assert r.status_code == 200, r.text[:500]
    assert re.search(r'data-testid="row-count">3<', r.text)
    assert len(re.findall(r'data-testid="result-row"', r.text)) == 3
    # Kazakhstan's record: no agreement lets China process it, and the page says why
    assert re.search(r'data-testid="exclusion" data-owner="KZ"', r.text)
    assert "no active agreement" in r.text
    assert 'data-testid="suppressed"' in r.text
    assert re.search(r'<img src="data:image/svg\+xml;base64,[A-Za-z0-9+/=]+" alt="[^"]+', r.text)
    links = dict(re.findall(r'href="([^"]+)" id="download-(\w+)"', r.text))
    assert set(links.values()) == {"csv", "json", "parquet"}
    by_format = {fmt: html.unescape(href) for href, fmt in links.items()}
    assert "since=2025-01-01" in by_format["csv"]

    got = b.get(by_format["csv"])
    assert got.status_code == 200 and got.headers["content-type"] == "text/csv; charset=utf-8"
    assert got.headers["content-disposition"] == 'attachment; filename="trade_flows.csv"'
    rows = list(csv.reader(io.StringIO(got.text)))
    assert rows[0] == COLUMNS and len(rows) == 4
    got = b.get(by_format["json"])
    assert got.headers["content-type"] == "application/json"
    doc = json.loads(got.content)
    assert picked(doc["rows"]) == EXPECTED and doc["lake"] is None
    assert doc["exclusions"][0]["owner_country"] == "KZ"
    got = b.get(by_format["parquet"])
    assert got.headers["content-type"] == "application/vnd.apache.parquet"
    assert pq.read_table(io.BytesIO(got.content)).num_rows == 3


def test_customs_runs_jobs_in_its_language(platform: Platform, tmp_path: Path) -> None:
    platform.settings.analytics_lake_dir = small_lake(tmp_path / "lake")
    w = world(platform)
    b = _person(w, "cn-customs", "cn.analyst", "zh_Hans_CN")
    page = b.get(JOBS_PAGE)
    assert page.status_code == 200
    assert _("zh_Hans_CN", JOB_TITLES["trade_flows"]) in page.text
    form = b.get(TRADE)
    assert f">{_('zh_Hans_CN', PARAMS['since'])}</label>" in form.text
    r = b.post(TRADE, {"since": "2025-01-01"})
    assert r.status_code == 200 and re.search(r'data-testid="row-count">3<', r.text)


LEFT_OUT = (
    "%(count)s rows described fewer than %(min)s declarations, traders or trucks, in all or in "
    "the part that is another country's, and are left out (only a country's customs sees its own "
    "country's small groups)."
)


def test_rows_left_out_are_told_in_the_readers_language(platform: Platform, tmp_path: Path) -> None:
    """An analyst sees no group smaller than the minimum, of any country's data: the page
    says how many rows were left out and why, in the page's language."""
    _w, b = _setup(platform, tmp_path, "ru_KZ")
    platform.settings.analytics_min_cell_size = 1000
    r = b.post(TRADE, {"since": "2025-01-01"})
    assert r.status_code == 200 and re.search(r'data-testid="row-count">0<', r.text)
    told = re.search(r'data-testid="suppressed">([^<]+)<', r.text)
    assert told is not None
    said = html.unescape(told.group(1))
    assert said == _("ru_KZ", LEFT_OUT) % {"count": "3", "min": "1\xa0000"}
    assert said.startswith("Строк исключено: 3") and "другой стране" in said  # not English


BAD = [  # parameters, and the field the error is shown on
    ({"since": "2025-02-30"}, "since"),
    ({"hs": "8"}, "hs"),
    ({"since": "2025-03-01", "until": "2025-01-01"}, "until"),
    ({"reporter": "XX"}, "reporter"),
]


def test_a_bad_parameter_is_answered_on_its_field(platform: Platform, tmp_path: Path) -> None:
    _w, b = _setup(platform, tmp_path)
    for given, field in BAD:
        r = b.post(TRADE, given)
        assert r.status_code == 422
        assert re.findall(r'data-testid="field-error" data-field="(\w+)"', r.text) == [field]
        assert f'id="param-{field}" name="{field}"' in r.text and 'aria-invalid="true"' in r.text
        assert 'data-testid="job-result"' not in r.text
        query = "&".join(f"{k}={v}" for k, v in given.items())
        assert b.get(f"{TRADE}/download.csv?{query}").status_code == 422
    assert b.get(f"{TRADE}/download.csv?colour=red").status_code == 422


def test_other_roles_are_refused_and_strangers_sent_to_sign_in(
    platform: Platform, tmp_path: Path
) -> None:
    platform.settings.analytics_lake_dir = small_lake(tmp_path / "lake")
    w = world(platform)
    carrier = _person(w, "cn-carrier", "truck.boss2")
    assert 'id="nav-analytics"' not in carrier.get("/console/").text
    for path in (JOBS_PAGE, TRADE, f"{TRADE}/download.json", TWIN, f"{TWIN}/report?a=x"):
        assert carrier.get(path).status_code == 403, path
    r = carrier.post(TRADE, {"since": "2025-01-01"}, from_page="/console/")
    assert r.status_code == 403 and 'data-testid="job-result"' not in r.text
    stranger = Browser(platform)
    r = stranger.get(TRADE)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/sign-in?next=")
    assert stranger.get(f"{TRADE}/download.csv").status_code == 303


def test_no_run_without_the_csrf_token_or_an_exported_lake(
    platform: Platform, tmp_path: Path
) -> None:
    _w, b = _setup(platform, tmp_path)
    for path, data in ((TRADE, {"since": "2025-01-01"}), (TWIN, {"a": "khorgos-digital"})):
        r = b.client.post(path, data=data)
        assert r.status_code == 403 and CSRF_REFUSED in r.text
        r = b.client.post(path, data={**data, "csrf_token": "forged"})
        assert r.status_code == 403 and 'data-testid="job-result"' not in r.text
    # nothing exported yet: said so, instead of an empty table
    platform.settings.analytics_lake_dir = tmp_path / "nothing-exported"
    form = b.get(TRADE)
    assert form.status_code == 200 and 'data-testid="not-exported"' in form.text
    r = b.post(TRADE, {"since": "2025-01-01"})
    assert r.status_code == 409 and 'data-testid="not-exported"' in r.text
    assert 'data-testid="job-result"' not in r.text
    assert b.get(f"{TRADE}/download.csv").status_code == 409


def test_the_twin_compares_two_scenarios(platform: Platform, tmp_path: Path) -> None:
    _w, b = _setup(platform, tmp_path, "ru_KZ")
    form = b.get(TWIN)
    assert form.status_code == 200 and 'data-testid="twin-caps"' in form.text
    r = b.post(TWIN, {"a": "khorgos-2023-baseline", "b": "khorgos-digital", "days": "99",
                      "replications": "1"})  # fmt: skip
    assert r.status_code == 422
    assert re.findall(r'data-testid="field-error" data-field="(\w+)"', r.text) == ["days"]
    r = b.post(TWIN, {"a": "khorgos-2023-baseline", "b": "khorgos-digital", "days": "7",
                      "replications": "1"})  # fmt: skip
    assert r.status_code == 200, r.text[:500]
    assert r.text.count('data-testid="twin-figures"') == 2  # both directions
    first = r.text.split('data-testid="twin-figure"', 2)[1]
    assert len(re.findall(r'<td class="num"', first)) == 3  # A, B and B − A
    assert _("ru_KZ", "Trucks ready to cross per day") in r.text
    link = re.search(r'href="([^"]+)" id="twin-report"', r.text)
    assert link is not None
    report = html.unescape(link.group(1))
    assert "days=7" in report and "replications=1" in report
    alone = b.get(f"{TWIN}/report?a=khorgos-digital&b=&days=7&replications=1")
    assert alone.status_code == 200 and alone.text.startswith("<!doctype html>")
    assert alone.headers["content-security-policy"].startswith("sandbox;")
