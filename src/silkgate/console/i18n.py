"""The console's languages: catalogs, the choice of a language, and locale formatting.

Four languages: English, Russian as used in Kazakhstan (``ru_KZ``: tenge as ₸), Kazakh in
Cyrillic (``kk_KZ``) and Simplified Chinese (``zh_Hans_CN``). Strings come from the gettext
catalogs in ``locale/`` (compiled by ``silkgate console i18n compile``); dates, numbers and
money are formatted by Babel from CLDR; country and currency names come from pycountry's
ISO catalogs where it ships the language, else from CLDR.
"""

from __future__ import annotations

import datetime as dt
import gettext
import io
import logging
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal

log = logging.getLogger("silkgate.console")

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
DEFAULT = "en"
#: The console's languages, in the order the switcher lists them.
LANGUAGES = ("kk_KZ", "ru_KZ", "zh_Hans_CN", "en")
#: A browser's language (primary subtag of Accept-Language) → the console's.
_BY_PRIMARY = {"kk": "kk_KZ", "ru": "ru_KZ", "zh": "zh_Hans_CN", "en": "en"}
#: pycountry's catalog names for each language.
_PYCOUNTRY = {"kk_KZ": "kk", "ru_KZ": "ru", "zh_Hans_CN": "zh_CN"}
#: Where a country's people read times (the crossings' own clocks).
_ZONES = {"CN": "Asia/Shanghai", "KZ": "Asia/Almaty"}


def html_lang(language: str) -> str:
    """The BCP 47 tag for ``<html lang>`` (``zh-Hans-CN``, ``kk-KZ``, …)."""
    return language.replace("_", "-")


def native_name(language: str) -> str:
    """The language's name in itself, for the language switcher."""
    name = Locale.parse(language).get_display_name(language) or language
    return name[:1].upper() + name[1:]


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalog of a language; compiled in memory from the .po file when the
    build step has not made the .mo (a warning: run ``silkgate console i18n compile``)."""
    if language not in LANGUAGES:
        return gettext.NullTranslations()
    folder = LOCALE_DIR / language / "LC_MESSAGES"
    mo = folder / f"{DOMAIN}.mo"
    if mo.exists():
        with mo.open("rb") as f:
            return gettext.GNUTranslations(f)
    po = folder / f"{DOMAIN}.po"
    if not po.exists():
        log.error("no catalog for %s at %s", language, folder)
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    log.warning("%s is not compiled; run 'silkgate console i18n compile'", mo)
    with po.open("rb") as f:
        catalog = read_po(f, locale=language)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def from_accept_language(header: str | None) -> str | None:
    """The console language a browser prefers most (RFC 9110 weights), if any is offered."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().split("-")[0].lower()
        if q > 0 and primary in _BY_PRIMARY:
            ranked.append((-q, i, _BY_PRIMARY[primary]))
    return min(ranked)[2] if ranked else None


def choose(account: str | None, cookie: str | None, accept: str | None) -> str:
    """The page's language: the account's choice, else the browser's stored choice, else its
    Accept-Language, else English."""
    for choice in (account, cookie):
        if choice in LANGUAGES:
            return choice
    return from_accept_language(accept) or DEFAULT


@cache
def _iso(language: str, domain: str) -> gettext.NullTranslations | None:
    import pycountry

    code = _PYCOUNTRY.get(language)
    if code is None:
        return None
    try:
        return gettext.translation(domain, pycountry.LOCALES_DIR, languages=[code])
    except OSError:
        return None


@dataclass(frozen=True)
class Formatter:
    """Locale formatting for one page: times in the reader's zone, numbers, money, names."""

    language: str
    zone: str = "UTC"

    @property
    def locale(self) -> Locale:
        return Locale.parse(self.language)

    def datetime(self, value: dt.datetime | None, form: str = "medium") -> str:
        if value is None:
            return "—"
        return format_datetime(value, form, tzinfo=ZoneInfo(self.zone), locale=self.language)

    def date(self, value: dt.datetime | None) -> str:
        if value is None:
            return "—"
        return format_date(value.astimezone(ZoneInfo(self.zone)), "medium", locale=self.language)

    def day(self, value: dt.date | None) -> str:
        """A calendar day (no zone: a crossing's local day is already a day)."""
        return "—" if value is None else format_date(value, "medium", locale=self.language)

    def number(self, value: float | int | Decimal | None) -> str:
        return "—" if value is None else format_decimal(value, locale=self.language)

    def money(self, amount: float | int | Decimal | None, currency: str | None) -> str:
        if amount is None or not currency:
            return "—"
        return format_currency(amount, currency, locale=self.language)

    def country(self, alpha2: str | None) -> str:
        """A country's name in the page's language (pycountry's ISO 3166 catalog, else CLDR)."""
        if not alpha2:
            return "—"
        import pycountry

        found = pycountry.countries.get(alpha_2=alpha2.upper())
        if found is None:
            return alpha2
        iso = _iso(self.language, "iso3166-1")
        if iso is not None:
            return iso.gettext(found.name)
        if self.language == DEFAULT:
            return str(found.name)
        return str(self.locale.territories.get(alpha2.upper(), found.name))

    def currency(self, code: str | None) -> str:
        """A currency's name in the page's language (pycountry's ISO 4217 catalog, else CLDR)."""
        if not code:
            return "—"
        import pycountry

        found = pycountry.currencies.get(alpha_3=code.upper())
        if found is None:
            return code
        iso = _iso(self.language, "iso4217")
        if iso is not None:
            return iso.gettext(found.name)
        if self.language == DEFAULT:
            return str(found.name)
        return str(self.locale.currencies.get(code.upper(), found.name))


def zone_of(country: str | None) -> str:
    return _ZONES.get(country or "", "UTC")
