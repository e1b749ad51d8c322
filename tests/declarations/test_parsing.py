"""Arbitrary input never crashes declaration parsing: it is accepted or refused with fields."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from silkgate.core.errors import ValidationFailed
from silkgate.declarations.service import prepare
from tests.factories import export_cn_to_kz

json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
PATHS = [
    ("lrn",),
    ("type",),
    ("crossing", "code"),
    ("crossing", "exit_country"),
    ("invoice", "currency"),
    ("invoice", "total_amount"),
    ("totals", "gross_mass_kg"),
    ("goods_items", 0, "hs_code"),
    ("goods_items", 0, "net_mass_kg"),
    ("goods_items",),
    ("exporter", "identifier"),
    ("transport",),
]


def _set(body: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    target: Any = body
    for p in path[:-1]:
        target = target[p]
    target[path[-1]] = value


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=200)
@given(st.sampled_from(PATHS), json_values)
def test_any_value_anywhere_is_accepted_or_refused_with_a_field(
    path: tuple[Any, ...], value: Any
) -> None:
    body = export_cn_to_kz("H-1")
    _set(body, path, value)
    try:
        prepare(json.dumps(body).encode())
    except ValidationFailed as exc:
        # a field is a JSON pointer; a whole-document problem has none (never "")
        assert exc.errors and all(e.field is None or e.field.startswith("/") for e in exc.errors)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_are_refused_cleanly(raw: bytes) -> None:
    try:
        prepare(raw)
    except ValidationFailed as exc:
        assert exc.errors
