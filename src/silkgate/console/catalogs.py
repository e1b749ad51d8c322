"""Build steps of the console's gettext catalogs: extract, update, compile and check.

``extract`` reads the code and templates with ``babel.cfg`` (the same file ``pybabel`` takes)
into ``locale/messages.pot``; ``update`` merges it into each language's ``.po`` (new strings
empty, to be translated); ``compile`` writes the ``.mo`` files the console loads (made by the
build, not committed); ``check`` names every string that is missing, empty, fuzzy or no
longer used in any catalog, which the test suite and CI fail on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from silkgate.console.i18n import DOMAIN, LANGUAGES, LOCALE_DIR

HERE = Path(__file__).parent
POT = LOCALE_DIR / f"{DOMAIN}.pot"
#: A fixed creation date keeps the template byte-identical between runs.
_EPOCH = datetime(2026, 12, 1, tzinfo=UTC)


def template() -> Catalog:
    """Every translatable string of the console's code and templates, as a fresh catalog."""
    with (HERE / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f, "babel.cfg")
    catalog = Catalog(
        project="Silkgate console", version="1", charset="utf-8", creation_date=_EPOCH
    )
    catalog.revision_date = _EPOCH
    for filename, lineno, message, comments, context in extract_from_dir(
        HERE, method_map, options_map, comment_tags=("TRANSLATORS:",), strip_comment_tags=True
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def po_path(language: str, root: Path = LOCALE_DIR) -> Path:
    return root / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def read(language: str, root: Path = LOCALE_DIR) -> Catalog:
    with po_path(language, root).open("rb") as f:
        return read_po(f, locale=language, domain=DOMAIN)


def _write(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        write_po(f, catalog, width=100, sort_output=False, include_previous=True)


def extract() -> Path:
    _write(template(), POT)
    return POT


def update() -> list[Path]:
    """Merge the template into every language's catalog (creating missing ones)."""
    pot = template()
    out = []
    for language in LANGUAGES:
        path = po_path(language)
        if path.exists():
            catalog = read(language)
        else:
            catalog = Catalog(locale=language, domain=DOMAIN, creation_date=_EPOCH)
        catalog.update(pot, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        _write(catalog, path)
        out.append(path)
    return out


def compile_all() -> list[Path]:
    """Write each language's .mo (refusing a catalog that fails the check)."""
    problems = check()
    if problems:
        raise SystemExit("catalogs incomplete:\n" + "\n".join(problems))
    out = []
    for language in LANGUAGES:
        mo = po_path(language).with_suffix(".mo")
        with mo.open("wb") as f:
            write_mo(f, read(language))
        out.append(mo)
    return out


def _key(message: object) -> object:
    return (getattr(message, "id", None), getattr(message, "context", None))


def check(root: Path = LOCALE_DIR) -> list[str]:
    """What is wrong with the catalogs, one line per problem (empty: all complete)."""
    wanted = {_key(m): m for m in template() if m.id}
    problems: list[str] = []
    pot = root / f"{DOMAIN}.pot"
    if pot.exists():
        with pot.open("rb") as f:
            if {_key(m) for m in read_po(f) if m.id} != set(wanted):
                problems.append(f"{pot.name} is out of date (run i18n update)")
    for language in LANGUAGES:
        if not po_path(language, root).exists():
            problems.append(f"{language}: no catalog at {po_path(language, root)}")
            continue
        catalog = read(language, root)
        have = {_key(m): m for m in catalog if m.id}
        for key, m in wanted.items():
            found = have.get(key)
            ident = m.id if isinstance(m.id, str) else m.id[0]
            if found is None:
                problems.append(f"{language}: missing {ident!r}")
            elif found.fuzzy:
                problems.append(f"{language}: fuzzy {ident!r}")
            elif isinstance(m.id, tuple) != isinstance(found.string, tuple | list):
                problems.append(f"{language}: singular/plural mismatch {ident!r}")
            else:
                plural = isinstance(found.string, tuple | list)
                forms = list(found.string or ()) if plural else [found.string]
                if (plural and len(forms) < catalog.num_plurals) or not all(forms):
                    problems.append(f"{language}: untranslated {ident!r}")
        for key, m in have.items():
            if key not in wanted:
                ident = m.id if isinstance(m.id, str) else m.id[0]
                problems.append(f"{language}: no longer used {ident!r} (run i18n update)")
    return problems
