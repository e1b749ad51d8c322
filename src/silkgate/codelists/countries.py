"""ISO 3166-1 countries with names in the console languages (pycountry and its translations)."""

from __future__ import annotations

import gettext
from functools import cache

import pycountry

LANGUAGES = {"en": None, "zh": "zh_CN", "ru": "ru", "kk": "kk"}


@cache
def _alpha2() -> frozenset[str]:
    return frozenset(c.alpha_2 for c in pycountry.countries)


def is_country(code: str) -> bool:
    """True for an assigned ISO 3166-1 alpha-2 code."""
    return code in _alpha2()


@cache
def _translator(lang: str) -> gettext.NullTranslations:
    locale = LANGUAGES[lang]
    if locale is None:
        return gettext.NullTranslations()
    return gettext.translation(
        "iso3166-1", pycountry.LOCALES_DIR, languages=[locale], fallback=True
    )


def country_name(code: str, lang: str = "en") -> str:
    """The country's common name in en, zh, ru or kk."""
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        raise KeyError(code)
    return _translator(lang).gettext(country.name)
