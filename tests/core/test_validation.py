"""Strict JSON reading: repeated keys, NaN/Infinity, bad UTF-8 and deep nesting are field errors."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from silkgate.core.errors import FieldError, ValidationFailed
from silkgate.core.validation import load_json


def _errors(raw: str | bytes) -> list[FieldError]:
    with pytest.raises(ValidationFailed) as err:
        load_json(raw)
    return err.value.errors


def test_a_repeated_key_is_refused_naming_where() -> None:
    (e,) = _errors('{"a": {"b": [{"c": 1}, {"c": 2, "c": 3}]}}')
    assert (e.field, e.code) == ("/a/b/1/c", "duplicate_key")
    (e,) = _errors('{"lrn": "A", "lrn": "B"}')
    assert e.field == "/lrn"


@pytest.mark.parametrize("raw", ['{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}'])
def test_non_numbers_are_refused(raw: str) -> None:
    (e,) = _errors(raw)
    assert e.code == "malformed_json" and e.field is None


def test_whole_document_problems_have_no_field() -> None:
    for raw in (b"\xff\xfe{}", "[" * 100_000, "{nope"):
        (e,) = _errors(raw)
        assert e.field is None and e.as_dict().keys() == {"code", "message"}


def test_empty_pointer_is_never_a_field() -> None:
    assert FieldError("", "x", "y").field is None


json_docs = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(json_docs)
def test_any_json_document_without_repeats_reads_back(doc: object) -> None:
    raw = json.dumps(doc)
    if "Infinity" in raw:
        return
    assert load_json(raw) == doc
