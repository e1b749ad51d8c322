"""`silkgate analytics report`: one self-contained HTML file of every standard job, data escaped,
a failed job shown with its error (exit 1 after writing the rest), bad options exit 2."""

from __future__ import annotations

import datetime as dt
import json
import re
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from silkgate.analytics.jobs import cli as jobs_cli
from silkgate.analytics.jobs import report, service
from silkgate.cli import app
from silkgate.core.platform import Platform
from silkgate.exchange.agreements.catalogue import Category
from tests.analytics.jobs.conftest import NOW, make_engine, statistics_rule
from tests.analytics.jobs.small_lake import FINISHED, WATERMARK, small_lake

SCRIPT = "<script>alert(1)</script>"


class Tags(HTMLParser):
    """The tags of a document and whether any external resource is referenced."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href") and value and not value.startswith("#"):
                self.external.append(value)


def build(lake: Path, fail: str | None = None, **kw: Any) -> report.Report:
    """The report over ``lake`` as the command builds it, run on the lake without a database."""

    def run(request: service.Request) -> service.Result:
        if request.job.name == fail:
            raise RuntimeError("engine exploded <b>here</b>")
        return service.run_on_lake(
            lake,
            request,
            rules=kw.get("rules", []),
            compute_country="CN",
            min_cell_size=kw.get("minimum", 1),
            now=NOW,
            engine=make_engine("duckdb"),
        )

    requests = report.check(kw.get("since"), kw.get("until"), "duckdb", None)
    return report.build(requests, run, lake, "CN", "duckdb", NOW)


def test_every_standard_job_is_in_one_self_contained_file(tmp_path: Path) -> None:
    lake = small_lake(tmp_path / "lake", odd_currency=SCRIPT)
    rules = [statistics_rule("KZ", Category.DECLARATION)]
    built = build(lake, rules=rules, minimum=2, since="2025-01-01")
    page = report.html_of(built)
    assert page.startswith("<!DOCTYPE html>") and '<html lang="en">' in page
    for job in report.standard_jobs():
        assert f'id="job-{job.name}"' in page and escape(job.title) in page
        assert escape(job.description) in page
    parser = Tags()
    parser.feed(page)
    assert parser.external == [] and "script" not in parser.tags  # nothing to fetch, nothing run
    assert SCRIPT not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert parser.tags.count("svg") == sum(1 for j in report.standard_jobs() if j.chart)
    assert WATERMARK in page and FINISHED in page
    flows = page[page.index('id="job-trade_flows"') :]
    flows = flows[: flows.index("</section>")]
    assert "All 3 rows." in flows  # KZ's single-declaration cell was suppressed (minimum 2)
    assert "Suppressed: 1 row(s)" in flows and "minimum cell size 2" in flows
    assert "<td><code>since</code></td><td>2025-01-01</td>" in flows
    assert "<td><code>hs</code></td><td>(all)</td>" in flows


def test_first_rows_with_the_total_and_exclusions_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report, "REPORT_ROWS", 2)
    page = report.html_of(build(small_lake(tmp_path / "lake")))
    flows = page[page.index('id="job-trade_flows"') :]
    assert "First 2 of 3 rows." in flows
    assert "KZ customs has no active agreement sharing &#x27;declaration&#x27; data" in flows


def test_a_failed_job_is_shown_with_its_error_and_the_rest_still_run(tmp_path: Path) -> None:
    first, *others = report.standard_jobs()
    built = build(small_lake(tmp_path / "lake"), fail=first.name)
    assert [s.job.name for s in built.failed] == [first.name]
    page = report.html_of(built)
    assert f"{escape(first.title)} — FAILED" in page
    assert "RuntimeError: engine exploded &lt;b&gt;here&lt;/b&gt;" in page
    for job in others:
        assert escape(job.title) in page
    summary = report.summary(built, tmp_path / "r.html")
    assert summary["failed"] == 1 and summary["jobs"][0]["status"] == "failed"


def invoke(
    monkeypatch: pytest.MonkeyPatch, platform: Platform | None, lake: Path, *args: str
) -> Result:
    if platform is not None:
        monkeypatch.setenv("SILKGATE_DATABASE_URL", platform.settings.database_url)
        monkeypatch.setenv("SILKGATE_DATA_DIR", str(platform.settings.data_dir))
    monkeypatch.setenv("SILKGATE_DEMO_MODE", "true")
    monkeypatch.setenv("SILKGATE_ANALYTICS_LAKE_DIR", str(lake))
    return CliRunner().invoke(app, ["analytics", "report", *args])


def test_report_command_writes_the_file_and_exits_1_when_a_job_failed(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    lake = small_lake(tmp_path / "lake", odd_currency=SCRIPT)
    out = tmp_path / "report.html"
    r = invoke(monkeypatch, platform, lake, "--out", str(out), "--until", "2025-12-31", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert [(j["job"], j["status"]) for j in doc["jobs"]] == [
        (j.name, "ok") for j in report.standard_jobs()
    ]
    page = out.read_text(encoding="utf-8")
    assert SCRIPT not in page and all(escape(j.title) in page for j in report.standard_jobs())
    assert re.search(r"Generated \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", page)

    first = report.standard_jobs()[0]
    real = service.run

    def failing(platform: Platform, request: service.Request, *a: Any, **k: Any) -> Any:
        if request.job.name == first.name:
            raise RuntimeError("disk on fire")
        return real(platform, request, *a, **k)

    monkeypatch.setattr(service, "run", failing)
    out.unlink()
    r = invoke(monkeypatch, platform, lake, "--out", str(out), "--json")
    assert r.exit_code == 1
    assert json.loads(r.stdout)["failed"] == 1 and "disk on fire" in r.stderr
    assert "disk on fire" in out.read_text(encoding="utf-8")  # written all the same


@pytest.mark.parametrize(
    ("args", "option", "code"),
    [
        (["--since", "2025-13-01"], "--since", "bad_date"),
        (["--since", "2025-03-01", "--until", "2025-02-01"], "--until", "inverted_range"),
        (["--engine", "excel"], "--engine", "unknown_engine"),
        (["--compute-country", "XX"], "--compute-country", "unknown_country"),
        (["--out", "{d}/nowhere/r.html"], "--out", "no_directory"),
    ],
)
def test_bad_options_exit_2_before_anything_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: list[str], option: str, code: str
) -> None:
    monkeypatch.setattr(jobs_cli, "platform_session", lambda: pytest.fail("platform built"))
    monkeypatch.chdir(tmp_path)
    r = invoke(
        monkeypatch,
        None,
        tmp_path / "lake",
        *(a.replace("{d}", str(tmp_path)) for a in args),
        "--json",
    )
    assert r.exit_code == 2, r.output
    (err,) = json.loads(r.stdout)["errors"]
    assert (err["option"], err["code"]) == (option, code)
    assert list(tmp_path.iterdir()) == []


def test_dates_reach_only_jobs_that_take_them() -> None:
    requests = report.check("2025-01-01", None, "duckdb", "kz")
    assert [r.job.name for r in requests] == [j.name for j in report.standard_jobs()]
    for r in requests:
        assert r.compute_country == "KZ"
        if "since" in r.values:
            assert r.values["since"] == dt.date(2025, 1, 1)
