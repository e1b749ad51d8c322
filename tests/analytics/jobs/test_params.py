"""Analysts' parameters: every problem named by its parameter; literals cannot break out."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from silkgate.analytics.jobs import params, service
from silkgate.analytics.jobs.spec import Kind
from silkgate.codelists.hs import is_hs_prefix
from silkgate.core.errors import ValidationFailed
from tests.analytics.jobs.conftest import make_engine


def _errors(name: str, given_params: dict[str, object], **kw: str) -> list[tuple[str | None, str]]:
    with pytest.raises(ValidationFailed) as exc:
        service.check(name, given_params, **kw)
    return [(e.field, e.code) for e in exc.value.errors]


def test_bad_parameters_named_together() -> None:
    got = _errors(
        "trade_flows",
        {"hs": "9999", "since": "2025-03-01", "until": "2025-01-31", "partner": "XX", "levle": "x"},
        engine="presto",
        compute_country="ZZ",
    )
    assert sorted(got) == sorted(
        [
            ("/params/levle", "unknown_param"),
            ("/params/hs", "unknown_hs"),
            ("/params/partner", "unknown_country"),
            ("/params/until", "inverted_range"),
            ("/engine", "unknown_engine"),
            ("/compute_country", "unknown_country"),
        ]
    )


def test_unknown_job_named() -> None:
    assert _errors("trade_flow", {}) == [("/job", "unknown_job")]


def test_defaults_and_normalised_values() -> None:
    r = service.check("trade_flows", {"reporter": " kz ", "since": "2025-01-01"})
    assert r.values["reporter"] == "KZ" and r.values["since"] == dt.date(2025, 1, 1)
    assert r.values["until"] == params.LATEST and r.values["level"] == "chapter"
    assert r.values["hs"] is None and r.engine == "duckdb" and r.compute_country is None


@given(st.text(max_size=12))
def test_any_text_is_a_date_or_named_bad_date(text: str) -> None:
    try:
        expected: dt.date | None = dt.date.fromisoformat(text.strip())
    except ValueError:
        expected = None
    if not text.strip():
        return  # empty means "not given": the default applies
    try:
        got = service.check("trade_flows", {"since": text}).values["since"]
    except ValidationFailed as exc:
        assert expected is None
        assert [(e.field, e.code) for e in exc.errors] == [("/params/since", "bad_date")]
    else:
        assert got == expected


@given(st.from_regex(r"[0-9]{1,8}", fullmatch=True))
def test_hs_codes_accepted_only_from_the_nomenclature(code: str) -> None:
    try:
        service.check("trade_flows", {"hs": code})
    except ValidationFailed as exc:
        assert not is_hs_prefix(code)
        assert exc.errors[0].field == "/params/hs"
    else:
        assert is_hs_prefix(code) and len(code) in (2, 4, 6)


#: One connection for the round trips (connecting per example is slow on a busy machine).
CON = duckdb.connect()


@settings(deadline=None)
@given(st.text().filter(lambda s: "\x00" not in s))
def test_string_literals_round_trip_through_sql(text: str) -> None:
    """A parameter value is data: whatever it holds comes back unchanged, never run."""
    assert CON.execute(f"SELECT {params.literal(text)}").fetchone() == (text,)


@settings(deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**62), 2**62))
def test_number_literals_round_trip(value: float) -> None:
    kind = Kind.INT if isinstance(value, int) else Kind.FLOAT
    assert CON.execute(f"SELECT {params.literal(value, kind)}").fetchone()[0] == value


@pytest.mark.xdist_group("spark")
def test_string_literals_read_the_same_on_spark() -> None:
    """Spark takes backslashes in quoted strings as escapes and substitutes ${...}; a literal
    must let it do neither."""
    texts = ["\\' = ' OR TRUE --", "a\\nb", "\\", "'", "''", "it's", "\\u0041", "`x`", ""]
    texts += ["${env:HOME}", "${system:user.name}", "a${x}b", "$"]  # Spark substitutes ${...}
    spark = make_engine("spark")
    selected = ", ".join(f"{params.literal(t)} AS c{i}" for i, t in enumerate(texts))
    assert list(spark.query(f"SELECT {selected}").to_pylist()[0].values()) == texts


@given(
    since=st.dates(dt.date(1900, 1, 1), dt.date(9999, 12, 31)),
    days=st.integers(0, 800),
)
@settings(max_examples=300, deadline=None)
def test_whole_months_are_exactly_those_inside_the_range(since: dt.date, days: int) -> None:
    until = min(since + dt.timedelta(days=days), dt.date(9999, 12, 31))
    first, last = params.whole_months(since, until)

    def bounds(index: int) -> tuple[dt.date, dt.date]:
        year, month = divmod(index - 1, 12)
        start = dt.date(year, month + 1, 1)
        nxt = (
            dt.date(year + (month == 11), (month + 1) % 12 + 1, 1)
            if year < 9999 or month < 11
            else None
        )
        return start, (nxt - dt.timedelta(days=1)) if nxt else dt.date(9999, 12, 31)

    for index in range(first - 1, last + 2):
        if not 1 <= (index - 1) // 12 <= 9999:
            continue
        start, end = bounds(index)
        assert (first <= index <= last) == (since <= start and end <= until), index
