"""Codes as officers read them: HS codes with their descriptions, countries with their names."""

from __future__ import annotations

from silkgate.codelists.countries import country_name, is_country
from silkgate.codelists.hs import hs_description

DESCRIPTION_CHARS = 60


def hs_named(code: str) -> str:
    """An HS code with its (shortened) description, e.g. ``080810 (Fruit, edible; apples,
    fresh)``; a code the nomenclature does not know is returned as it is."""
    text = hs_description(code)
    if not text:
        return code
    if len(text) > DESCRIPTION_CHARS:
        text = text[: DESCRIPTION_CHARS - 1].rstrip() + "…"
    return f"{code} ({text})"


def country_named(code: str) -> str:
    """A country code with its name, e.g. ``China (CN)``; unknown codes as they are."""
    return f"{country_name(code)} ({code})" if is_country(code) else code
