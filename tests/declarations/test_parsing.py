"""Arbitrary input never crashes declaration parsing: it is accepted or refused with fields."""

from __future__ import annotations

import json
from typing import Any

import pytest
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


def _objects(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], str]]:
    """(object path, key) for every key of every object in a JSON document."""
    out: list[tuple[tuple[Any, ...], str]] = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append((path, k))
            out += _objects(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _objects(v, (*path, i))
    return out


def _dump(
    node: Any,
    colon: str,
    comma: str,
    repeat: tuple[tuple[Any, ...], str] | None,
    path: tuple[Any, ...] = (),
) -> str:
    """JSON text with chosen separators; ``repeat`` writes that key of that object twice."""
    if isinstance(node, dict):
        parts = []
        for k, v in node.items():
            text = json.dumps(k) + colon + _dump(v, colon, comma, repeat, (*path, k))
            parts.append(text)
            if repeat == (path, k):
                parts.append(text)
        return "{" + comma.join(parts) + "}"
    if isinstance(node, list):
        return (
            "["
            + comma.join(_dump(v, colon, comma, repeat, (*path, i)) for i, v in enumerate(node))
            + "]"
        )
    return json.dumps(node)


SEPARATORS = st.sampled_from([":", ": ", " :", " : ", "\n:\t", ":\r\n"])
COMMAS = st.sampled_from([",", ", ", " ,", ",\n  "])
BODY = export_cn_to_kz("DUP-1")
BODY["goods_items"][0]["description"] = 'cable "type": C \\": ok'
KEYS = _objects(BODY)


@settings(max_examples=150)
@given(st.sampled_from(KEYS), SEPARATORS, COMMAS, st.booleans())
def test_a_repeated_key_is_always_found_and_named(
    where: tuple[tuple[Any, ...], str], colon: str, comma: str, as_bytes: bool
) -> None:
    text = _dump(BODY, colon, comma, where)
    with pytest.raises(ValidationFailed) as err:
        prepare(text.encode() if as_bytes else text)
    (path, key) = where
    assert {(e.field, e.code) for e in err.value.errors} == {
        ("/" + "/".join(map(str, (*path, key))), "duplicate_key")
    }


@settings(max_examples=30)
@given(SEPARATORS, COMMAS)
def test_any_spacing_without_repeats_is_accepted(colon: str, comma: str) -> None:
    assert (
        prepare(_dump(BODY, colon, comma, None)).body.goods_items[0].description
        == (BODY["goods_items"][0]["description"])
    )
