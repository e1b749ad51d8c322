"""Result files: CSV (UTF-8, header = columns), Parquet (types and run kept), the JSON document."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from silkgate.analytics.jobs import output, service
from silkgate.exchange.agreements.catalogue import Category
from tests.analytics.jobs.conftest import run_job, statistics_rule
from tests.analytics.jobs.small_lake import COLUMNS, EXPECTED, KZ_LEFT_OUT, picked, small_lake


@pytest.fixture
def result(tmp_path: Path) -> service.Result:
    return run_job(small_lake(tmp_path / "lake", odd_currency='¥,"q"'), "trade_flows")


def test_csv_has_a_header_and_every_row_in_utf8(result: service.Result) -> None:
    data = output.to_csv(result)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert rows[0] == COLUMNS
    assert len(rows) == 1 + 3
    got = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert [(r["hs"], r["month"], r["currency"], r["value"]) for r in got] == [
        ("84", "2025-01", "USD", "150.0"),
        ("84", "2025-02", '¥,"q"', "200.0"),  # quoted by the writer, read back whole
        ("85", "2025-02", "USD", "30.0"),
    ]
    assert got[0]["value_growth_mom"] == ""  # no previous month: empty, not 0
    assert (got[0]["net_mass_kg"], got[0]["declarations"]) == ("15.0", "2")


def test_parquet_keeps_types_and_the_run(result: service.Result, tmp_path: Path) -> None:
    path = tmp_path / "flows.parquet"
    output.write(result, "parquet", path)
    table = pq.read_table(path)
    assert table.column_names == COLUMNS
    assert table.schema.field("value").type == pa.float64()
    assert table.schema.field("declarations").type == pa.int64()
    assert table.column("value").to_pylist() == [150.0, 200.0, 30.0]
    about = json.loads(table.schema.metadata[output.PARQUET_METADATA_KEY])
    assert about["job"] == "trade_flows" and about["row_count"] == 3
    ex = about["exclusions"][0]
    assert (ex["dataset"], ex["owner_country"], ex["crossing"], ex["partitions"], ex["rows"]) == (
        KZ_LEFT_OUT
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "flows.parquet",
        "lake",
    ]  # no temp file left


def test_json_document_holds_params_exclusions_suppression_and_rows(tmp_path: Path) -> None:
    rules = [statistics_rule("KZ", Category.DECLARATION)]
    lake = small_lake(tmp_path / "lake")
    result = run_job(lake, "trade_flows", {"since": "2025-01-01"}, rules=rules, min_cell_size=2)
    doc = json.loads(output.to_json(result))
    assert doc["params"]["since"] == "2025-01-01" and doc["params"]["level"] == "chapter"
    assert doc["exclusions"] == [] and doc["foreign_owners"] == ["KZ"]
    # Kazakhstan's January cell describes 1 declaration < 2: suppressed, and counted
    assert doc["suppressed_cells"] == 1 and doc["min_cell_size"] == 2
    assert picked(doc["rows"]) == [tuple(r) for r in EXPECTED]
    assert doc["row_count"] == len(doc["rows"]) == 3
    assert doc["columns"] == COLUMNS


def test_json_values_are_plain_json() -> None:
    assert output.json_value(dt.date(2025, 1, 2)) == "2025-01-02"
    assert output.json_value(float("nan")) is None and output.json_value(float("inf")) is None
    assert output.json_value(1.5) == 1.5 and output.json_value("x") == "x"


def test_cells_read_as_people_read_them() -> None:
    cells = (1234567, 1234.5678, 15.0, -0.333333, None, "84")
    assert [output.cell_text(v) for v in cells] == [
        "1,234,567",
        "1,234.57",
        "15.00",
        "-0.3333",
        "",
        "84",
    ]
