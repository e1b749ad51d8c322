"""The CSV form round-trips declarations and never crashes on arbitrary text."""

from __future__ import annotations

import contextlib
import csv
import io
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from silkgate.core.errors import ValidationFailed
from silkgate.declarations import flatfile
from silkgate.declarations.service import prepare
from silkgate.demo.traffic import TrafficGenerator


def _to_csv(bodies: list[dict[str, Any]]) -> io.StringIO:
    rows = list(flatfile.to_rows(bodies))
    columns: dict[str, None] = {}
    for r in rows:
        columns.update(dict.fromkeys(r))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns))
    writer.writeheader()
    writer.writerows(rows)
    buf.seek(0)
    return buf


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=2**31), st.integers(min_value=1, max_value=4))
def test_csv_round_trip_keeps_every_declaration(seed: int, count: int) -> None:
    gen = TrafficGenerator(seed)
    bodies = [gen.declaration() for _ in range(count)]
    parsed = [d for _, d in flatfile.read_csv(_to_csv(bodies))]
    assert [prepare(d).payload for d in parsed] == [prepare(b).payload for b in bodies]


@given(st.text(max_size=300))
def test_arbitrary_csv_text_is_read_or_refused_cleanly(text: str) -> None:
    # Files are opened with newline="" (as the CLI does), so the csv module sees raw line ends.
    with contextlib.suppress(ValidationFailed):
        for _, declaration in flatfile.read_csv(io.StringIO(text, newline="")):
            with contextlib.suppress(ValidationFailed):
                prepare(declaration)


def test_malformed_csv_names_the_line() -> None:
    import pytest

    text = 'lrn,type\nA-1,export\nA-2,"exp"ort\n'
    with pytest.raises(ValidationFailed) as info:
        list(flatfile.read_csv(io.StringIO(text, newline="")))
    assert info.value.errors[0].field.startswith("/lines/")
