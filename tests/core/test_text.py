"""The control-character rule: which characters are refused, where, and how it is reported."""

from __future__ import annotations

from typing import Annotated

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from silkgate.core.errors import FieldError, ValidationFailed
from silkgate.core.text import LINE_PATTERN, MULTI_PATTERN, Line, MultiLine, NoControls
from silkgate.core.validation import parse_model

CONTROLS = [chr(c) for c in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]]
LINE_BREAKS = ["\t", "\n", "\r"]
SAFE = st.characters(
    blacklist_categories=("Cs",), blacklist_characters="".join(CONTROLS)
)  # everything else, CJK and Cyrillic included


class M(BaseModel):
    line: Line = "x"
    text: MultiLine = "x"
    bounded: Annotated[str, NoControls()] = "x"


def _refused(**fields: str) -> list[FieldError]:
    with pytest.raises(ValidationFailed) as err:
        parse_model(M, fields)
    return err.value.errors


@settings(max_examples=200)
@given(st.text(SAFE, max_size=20), st.sampled_from(CONTROLS), st.text(SAFE, max_size=20))
def test_one_line_fields_refuse_every_control_and_say_where(head: str, bad: str, tail: str) -> None:
    (e,) = _refused(line=head + bad + tail)
    assert e.code == "control_character" and e.field == "/line"
    assert f"U+{ord(bad):04X}" in e.message and f"position {len(head) + 1}" in e.message


@settings(max_examples=200)
@given(st.text(SAFE, max_size=40))
def test_text_without_controls_is_kept_as_sent(value: str) -> None:
    assert M(line=value, text=value).line == value


@given(st.text(st.sampled_from([*LINE_BREAKS, "a", "б", "中"]), max_size=30))
def test_free_text_allows_tab_and_line_breaks_only(value: str) -> None:
    assert M(text=value).text == value
    if any(c in value.strip() for c in LINE_BREAKS):
        assert [e.code for e in _refused(line=value)] == ["control_character"]


@pytest.mark.parametrize("bad", [c for c in CONTROLS if c not in LINE_BREAKS])
def test_free_text_refuses_the_other_controls(bad: str) -> None:
    assert [(e.field, e.code) for e in _refused(text=f"ok{bad}ok")] == [
        ("/text", "control_character")
    ]


def test_the_rule_is_in_the_json_schema() -> None:
    props = M.model_json_schema()["properties"]
    assert props["line"]["pattern"] == LINE_PATTERN
    assert props["text"]["pattern"] == MULTI_PATTERN
