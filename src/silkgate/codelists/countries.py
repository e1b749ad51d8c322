"""ISO 3166-1 countries with names in the console languages (pycountry and its translations)."""

from __future__ import annotations

import gettext
from functools import cache

import pycountry

# Console language → gettext locale of pycountry's iso3166-1 catalogue (None: the English source).
LANGUAGES: dict[str, str | None] = {"en": None, "zh": "zh_CN", "ru": "ru", "kk": "kk"}


@cache
def _alpha2() -> frozenset[str]:
    return frozenset(c.alpha_2 for c in pycountry.countries)


def is_country(code: str) -> bool:
    """True for an assigned ISO 3166-1 alpha-2 code (upper case, as exchanged)."""
    return isinstance(code, str) and code in _alpha2()


@cache
def _translator(lang: str) -> gettext.NullTranslations:
    locale = LANGUAGES[lang]
    if locale is None:
        return gettext.NullTranslations()
    # fallback=True: a missing catalogue then shows up as "no translation", not as a crash.
    return gettext.translation(
        "iso3166-1", pycountry.LOCALES_DIR, languages=[locale], fallback=True
    )


def translated_name(code: str, lang: str) -> str | None:
    """The name from pycountry's catalogue for lang, or None when it has no translation."""
    country = pycountry.countries.get(alpha_2=code) if is_country(code) else None
    if country is None:
        raise KeyError(code)
    name = _translator(lang).gettext(country.name)
    return name if lang == "en" or name != country.name else None


def country_name(code: str, lang: str = "en") -> str:
    """The country's ISO short name in en, zh, ru or kk (English when untranslated).

    Raises KeyError for an unknown code or language.
    """
    if lang not in LANGUAGES:
        raise KeyError(lang)
    name = translated_name(code, lang)
    return name if name is not None else translated_name(code, "en") or code
