"""Charts from a job's ``Chart`` spec: PNG and SVG, top series with the rest named, "No data"."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from silkgate.analytics.jobs import charts, service
from silkgate.analytics.jobs.catalogue import JOBS
from silkgate.analytics.jobs.schemas import Exclusion, JobRun
from silkgate.analytics.jobs.spec import Chart, Job
from tests.analytics.jobs.conftest import run_job
from tests.analytics.jobs.small_lake import small_lake

PNG = b"\x89PNG\r\n\x1a\n"
SVG_NS = "{http://www.w3.org/2000/svg}"


def hand_job(chart: Chart | None, keys: tuple[str, ...] = ("lane", "day")) -> Job:
    """A job that exists only here: the charts know jobs by their spec, never by name."""
    return Job(
        "hand", "Hand-made job", "for tests", "SELECT 1", ("lanes",), keys, ("trucks",), chart=chart
    )


def result(rows: list[dict[str, Any]], **run: Any) -> service.Result:
    table = pa.Table.from_pylist(rows)
    doc = JobRun(
        job="hand",
        title="Hand-made job",
        engine="duckdb",
        compute_country="CN",
        params={},
        columns=table.column_names,
        rows=[],
        row_count=table.num_rows,
        exclusions=[],
        foreign_owners=[],
        min_cell_size=5,
        suppressed_cells=0,
        seconds=0.0,
        lake="/nowhere",
    )
    return service.Result(table, doc.model_copy(update=run))


def svg_text(data: bytes) -> str:
    root = ET.fromstring(data)  # parses as XML
    assert root.tag == f"{SVG_NS}svg"
    return " ".join(t for t in root.itertext() if t.strip())


def test_trade_flows_as_png_and_svg(tmp_path: Path) -> None:
    r = run_job(small_lake(tmp_path / "lake"), "trade_flows")
    job = JOBS["trade_flows"]
    assert charts.render(job, r, "png").startswith(PNG)
    text = svg_text(charts.render(job, r, "svg"))
    assert job.title in text
    assert "export / 84 / USD" in text and "export / 85 / USD" in text  # series = columns joined
    assert "value (USD)" in text and "month" in text  # axis labels, unit from the currency
    assert "Left out" in text and "1 row(s) of KZ data" in text  # residency named under it


def test_top_series_drawn_and_the_rest_named() -> None:
    rows = [
        {"lane": lane, "day": d, "trucks": n}
        for lane, per_day in (("green", 50), ("yellow", 20), ("red", 5), ("blue", 1))
        for d, n in ((1, per_day), (2, per_day))
    ]
    job = hand_job(Chart(x="day", y="trucks", series=("lane",), kind="bar", top=2))
    drawing = charts.plan(job, result(rows).table)
    assert [(s.name, s.total) for s in drawing.series] == [("green", 100.0), ("yellow", 40.0)]
    assert drawing.notes == [
        "Not drawn: 2 smaller series (by total trucks): red, blue; the table holds every row."
    ]
    text = svg_text(charts.render(job, result(rows), "svg"))
    assert "green" in text and "Not drawn: 2 smaller series" in text


def test_rows_summed_over_hidden_keys_and_rows_without_values_are_named() -> None:
    rows = [
        {"lane": "green", "office": "A", "day": "mon", "trucks": 3},
        {"lane": "green", "office": "B", "day": "mon", "trucks": 4},
        {"lane": "green", "office": "B", "day": "tue", "trucks": None},
    ]
    job = hand_job(Chart(x="day", y="trucks", series=("lane",)), keys=("lane", "office", "day"))
    drawing = charts.plan(job, result(rows).table)
    assert drawing.series[0].points == {"mon": 7.0}
    assert drawing.notes == [
        "1 row(s) without a day or a numeric trucks are not drawn.",
        "trucks is summed over office (1 point(s) add up rows).",
    ]


def test_no_rows_draws_no_data_not_an_exception() -> None:
    job = hand_job(Chart(x="day", y="trucks", series=("lane",)))
    schema = pa.schema([("lane", pa.string()), ("day", pa.int64()), ("trucks", pa.int64())])
    empty = schema.empty_table()
    run = result([{"lane": "x", "day": 1, "trucks": 1}]).run
    gone = Exclusion(
        dataset="lanes",
        owner_country="KZ",
        crossing="KHG-NZH",
        partitions=2,
        rows=9,
        reason="no agreement",
    )
    r = service.Result(empty, run.model_copy(update={"exclusions": [gone], "row_count": 0}))
    assert charts.render(job, r, "png").startswith(PNG)
    text = svg_text(charts.render(job, r, "svg"))
    assert "No data" in text and "2 partition(s), 9 row(s) of KZ data" in text


def test_suppressed_cells_and_units_are_told() -> None:
    rows = [{"lane": "red", "day": 1, "wait_minutes": 12.5, "trucks": 9}]
    job = hand_job(Chart(x="day", y="wait_minutes", series=("lane",), kind="line"))
    text = svg_text(charts.render(job, result(rows, suppressed_cells=3), "svg"))
    assert "wait (minutes)" in text
    assert "Suppressed: 3 row(s)" in text and "fewer than 5" in text


def test_data_is_drawn_as_text_not_markup_or_mathtext() -> None:
    rows = [{"lane": "$a_{$ <script>", "day": 1, "trucks": 2}]  # mathtext would fail on it
    job = hand_job(Chart(x="day", y="trucks", series=("lane",)))
    data = charts.render(job, result(rows), "svg")
    assert b"<script>" not in data and b"&lt;script&gt;" in data
    assert "$a_{$ <script>" in svg_text(data)


def test_labels_carry_units_from_column_names() -> None:
    assert charts.label("net_mass_kg") == "net mass (kg)"
    assert charts.label("median_hours") == "median (hours)"
    assert charts.label("trucks") == "trucks"
    table = pa.table({"value": [1.0, 2.0], "currency": ["USD", "CNY"]})
    assert charts.label("value", table) == "value (invoice currency, not converted)"


@pytest.mark.parametrize(
    ("days", "kind"),
    [
        ([3, 1, 2], "number"),
        ([dt.date(2025, 1, 3), dt.date(2025, 1, 1)], "time"),
        (["b", "a"], "category"),
    ],
)
def test_numbers_and_dates_on_a_scale_the_rest_as_categories(days: list[Any], kind: str) -> None:
    rows = [{"lane": "green", "day": d, "trucks": i} for i, d in enumerate(days)]
    job = hand_job(Chart(x="day", y="trucks", series=("lane",)))
    drawing = charts.plan(job, result(rows).table)
    assert drawing.x_kind == kind and drawing.xs == sorted(days)
    assert charts.render(job, result(rows), "png").startswith(PNG)
    bars = hand_job(Chart(x="day", y="trucks", kind="bar"))
    assert charts.plan(bars, result(rows).table).x_kind == "category"


def test_a_job_without_a_chart_is_refused() -> None:
    one = result([{"lane": "x", "day": 1, "trucks": 1}])
    with pytest.raises(charts.ChartMissing):
        charts.render(hand_job(None), one, "svg")
    with pytest.raises(ValueError, match="choose line or bar"):
        charts.plan(hand_job(Chart(x="day", y="trucks", kind="pie")), one.table)
