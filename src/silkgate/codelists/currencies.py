"""ISO 4217 currencies (pycountry)."""

from __future__ import annotations

from functools import cache

import pycountry


@cache
def _codes() -> frozenset[str]:
    return frozenset(c.alpha_3 for c in pycountry.currencies)


def is_currency(code: str) -> bool:
    """True for an ISO 4217 alphabetic code (upper case, e.g. CNY, KZT)."""
    return isinstance(code, str) and code in _codes()
