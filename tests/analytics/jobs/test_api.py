"""/api/v1/analytics: authenticated, analysts/customs/admins run jobs, the caller's entitlement
decides residency, bad input is a 422 naming the field, files and charts download."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from silkgate.analytics.jobs.catalogue import JOBS
from silkgate.app import create_app
from silkgate.core.platform import Platform
from tests.analytics.jobs.small_lake import COLUMNS, EXPECTED, KZ_LEFT_OUT, X, picked, small_lake
from tests.factories import seeded, tokens

RUNS = "/api/v1/analytics/jobs/trade_flows/runs"


@dataclass
class Api:
    client: TestClient
    keys: dict[str, str]
    platform: Platform

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def run(self, who: str, body: dict[str, Any] | None = None, **kw: Any) -> Any:
        return self.client.post(RUNS, json=body or {}, headers=self.auth(who), **kw)


@pytest.fixture
def api(platform: Platform, tmp_path: Path) -> Iterator[Api]:
    platform.settings.analytics_lake_dir = small_lake(tmp_path / "lake")
    # cells of any size: these tests are about the routes (the minimum has its own test)
    platform.settings.analytics_min_cell_size = 1
    keys = tokens(platform, seeded(platform))
    with TestClient(create_app(platform=platform)) as client:
        yield Api(client, keys, platform)


def test_only_authenticated_organizations_and_only_runners(api: Api) -> None:
    assert api.client.get("/api/v1/analytics/jobs").status_code == 401
    assert api.client.post(RUNS, json={}).status_code == 401
    listed = api.client.get("/api/v1/analytics/jobs", headers=api.auth("cn-carrier"))
    assert listed.status_code == 200 and [j["name"] for j in listed.json()] == list(JOBS)
    refused = api.run("cn-carrier")
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    chart = "/api/v1/analytics/jobs/trade_flows/chart.svg"
    assert api.client.get(chart, headers=api.auth("kz-carrier")).status_code == 403
    assert api.run("karamay").status_code == 200  # admin + analyst
    assert api.run("cn-customs").status_code == 200


def test_analyst_gets_rows_and_what_was_left_out(api: Api) -> None:
    r = api.run("karamay", {"params": {"since": "2025-01-01", "level": "chapter"}})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert picked(doc["rows"]) == EXPECTED and doc["row_count"] == 3
    assert doc["compute_country"] == "CN"  # the installation's, not the caller's
    assert doc["lake"] is None  # the server's paths are not shown
    [ex] = doc["exclusions"]
    # how much data Kazakhstan holds is not told to a reader it was not shared with
    assert (ex["dataset"], ex["owner_country"], ex["crossing"], ex["partitions"], ex["rows"]) == (
        *KZ_LEFT_OUT[:4],
        None,
    )


def test_small_cells_are_withheld_from_all_but_the_countrys_customs(api: Api) -> None:
    """China's rows computed in China: its customs sees every cell; an analyst (the Karamay
    center) gets only cells of at least the minimum — they leave their owner too."""
    api.platform.settings.analytics_min_cell_size = 2
    body = {"params": {"since": "2025-01-01", "level": "chapter"}}
    customs = api.run("cn-customs", body).json()
    assert picked(customs["rows"]) == EXPECTED and customs["suppressed_cells"] == 0
    analyst = api.run("karamay", body).json()
    # January's chapter 84 has 2 declarations of 2 traders; the other two rows one each
    assert picked(analyst["rows"]) == EXPECTED[:1] and analyst["suppressed_cells"] == 2


def test_the_caller_must_be_entitled_too(api: Api) -> None:
    # Kazakh customs computing in China reads neither China's partitions (no agreement names
    # it) nor its own (no agreement lets Kazakh data be processed in China)
    doc = api.run("kz-customs").json()
    assert doc["rows"] == [] and doc["row_count"] == 0
    assert sorted((e["owner_country"], e["crossing"], e["rows"]) for e in doc["exclusions"]) == [
        ("CN", X, None),  # China's row count is not Kazakhstan's to know; its own is
        ("KZ", X, 1),
    ]


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"params": {"since": "2025-02-30"}}, "/params/since", "bad_date"),
        ({"params": {"colour": "red"}}, "/params/colour", "unknown_param"),
        (
            {"params": {"since": "2025-03-01", "until": "2025-01-01"}},
            "/params/until",
            "inverted_range",
        ),
        ({"params": {"hs": "8"}}, "/params/hs", "unknown_hs"),
        ({"engine": "oracle"}, "/engine", None),
        ({"compute_country": "KZ"}, "/compute_country", None),  # not the caller's to choose
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    api: Api, body: dict[str, Any], field: str, code: str | None
) -> None:
    r = api.run("karamay", body)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    [err] = r.json()["errors"]
    assert err["field"] == field
    if code:
        assert err["code"] == code


def test_unknown_job_and_format(api: Api) -> None:
    r = api.client.post(
        "/api/v1/analytics/jobs/no_such_job/runs", json={}, headers=api.auth("karamay")
    )
    assert r.status_code == 404
    r = api.run("karamay", params={"format": "xlsx"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "/query/format"


def test_csv_and_parquet_downloads(api: Api) -> None:
    r = api.run("karamay", params={"format": "csv"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"] == 'attachment; filename="trade_flows.csv"'
    assert r.headers["silkgate-excluded-partitions"] == "1"
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8"), newline="")))
    assert rows[0] == COLUMNS
    assert [(x[0], x[4], x[6]) for x in rows[1:]] == [
        ("84", "2025-01", "150.0"),
        ("84", "2025-02", "200.0"),
        ("85", "2025-02", "30.0"),
    ]
    r = api.run("karamay", params={"format": "parquet"})
    assert r.headers["content-type"] == "application/vnd.apache.parquet"
    assert picked(pq.read_table(io.BytesIO(r.content)).to_pylist()) == EXPECTED


def test_charts_with_parameters_in_the_query(api: Api) -> None:
    base = "/api/v1/analytics/jobs/trade_flows"
    h = api.auth("karamay")
    svg = api.client.get(f"{base}/chart.svg?since=2025-02-01&level=chapter", headers=h)
    assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
    text = " ".join(ET.fromstring(svg.content).itertext())
    assert "since=2025-02-01" in text and "export / 85 / USD" in text
    png = api.client.get(f"{base}/chart.png", headers=h)
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    bad = api.client.get(f"{base}/chart.svg?since=soon", headers=h)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "/params/since"


def test_missing_lake_is_empty_and_stays_missing(api: Api, tmp_path: Path) -> None:
    nowhere = tmp_path / "no-lake"
    api.platform.settings.analytics_lake_dir = nowhere
    r = api.run("karamay")
    assert r.status_code == 200 and r.json()["rows"] == [] and r.json()["exclusions"] == []
    chart = api.client.get(
        "/api/v1/analytics/jobs/trade_flows/chart.svg", headers=api.auth("karamay")
    )
    assert chart.status_code == 200 and b"No data" in chart.content
    assert not nowhere.exists()
