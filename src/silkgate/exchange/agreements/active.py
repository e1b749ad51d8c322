"""The active agreements a read consults, cached per process and checked on every read.

A read of a category consults the active versions of that category and of those it includes.
Which versions are active is named by a **key**: ``"id:terms digest,…"`` in id order. A
version's terms never change once stored (a change is a new version, a new row), so a key
names exactly one set of rules, and each process keeps the rules of the keys it has seen
(``set_for``). Every read still learns the current key from the database, in the statement
that reads its records — as a column of a single record (``key_column``), or as a condition
of a list's query (``guard``: no row comes back unless the key is still the one the query was
built from). A revocation or a new version, committed by this process or any other, thus
changes what the very next read decides, with no extra round trip while nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import (
    ColumnElement,
    Engine,
    ScalarSelect,
    Select,
    String,
    bindparam,
    cast,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import GenericFunction

from silkgate.core.db import table_of
from silkgate.exchange.agreements.catalogue import Category, spec
from silkgate.exchange.agreements.models import Agreement
from silkgate.exchange.agreements.policy import Rule

ACTIVE = "active"
#: Keys remembered per engine and category before the oldest are dropped (a key changes only
#: when an agreement of the category is activated, superseded or revoked).
KEYS_KEPT = 32


class _KeyList(GenericFunction[str]):
    """``"id:digest"`` pairs joined by commas in id order (the rows come sorted from a
    subquery; PostgreSQL is also told so in the aggregate)."""

    type = String()
    inherit_cache = True
    name = "silkgate_key_list"


@compiles(_KeyList)
def _key_list_sqlite(element: _KeyList, compiler: Any, **kw: Any) -> str:
    pair, _order = element.clauses.clauses  # the subquery's order (SQLite 3.44 takes it here)
    return f"group_concat({compiler.process(pair, **kw)}, ',')"


@compiles(_KeyList, "postgresql")
def _key_list_postgresql(element: _KeyList, compiler: Any, **kw: Any) -> str:
    pair, order = element.clauses.clauses
    return (
        f"string_agg({compiler.process(pair, **kw)}, ',' ORDER BY {compiler.process(order, **kw)})"
    )


def categories(category: Category) -> list[str]:
    """The categories whose agreements a read of ``category`` consults."""
    return [category.value, *(x.value for x in spec(category).includes)]


@cache
def key_column(category: Category) -> ScalarSelect[Any]:
    """The current key of ``category`` as a column (``""`` when nothing is active): selected
    with a record, it tells the read which rules apply without a round trip of its own."""
    c = table_of(Agreement).c
    ordered = (
        select(c.id, (cast(c.id, String) + literal(":") + c.terms_digest).label("pair"))
        .where(c.status == ACTIVE, or_(*(c.category == x for x in categories(category))))
        .order_by(c.id)
        .subquery()
    )
    keys = select(func.coalesce(_KeyList(ordered.c.pair, ordered.c.id), "")).scalar_subquery()
    return keys


def guard(category: Category) -> ColumnElement[bool]:
    """A list's condition: the key is still the bound ``active_key`` (an uncorrelated
    subquery, evaluated once per statement)."""
    return key_column(category) == bindparam("active_key", type_=String())


@cache
def _key_query(category: Category) -> Select[Any]:
    return select(key_column(category))


def current_key(s: Session, category: Category) -> str:
    """The key as the database has it now (one small statement)."""
    return str(s.connection().execute(_key_query(category)).scalar_one())


def parse(key: str | None) -> list[tuple[int, str]]:
    """A key back into (id, digest) pairs."""
    if not key:
        return []
    return [(int(i), d) for i, _, d in (p.partition(":") for p in key.split(","))]


@dataclass(frozen=True)
class ActiveSet:
    """The rules of the active versions named by ``key`` (for reads of ``category``)."""

    category: Category
    key: str
    rules: tuple[Rule, ...]


#: Per engine (one per database a process talks to): the sets by category and key, and the
#: set of each category the database named last.
_SETS: WeakKeyDictionary[Engine, dict[Category, dict[str, ActiveSet]]] = WeakKeyDictionary()
_LATEST: WeakKeyDictionary[Engine, dict[Category, ActiveSet]] = WeakKeyDictionary()


def set_for(s: Session, category: Category, key: str | None) -> ActiveSet:
    """The set named by ``key`` as read from the database: from the cache, or built (the
    versions' rules built once per version, see ``service.rules_from``) and remembered."""
    key = key or ""
    engine = s.get_bind().engine
    by_key = _SETS.setdefault(engine, {}).setdefault(category, {})
    found = by_key.get(key)
    if found is not None:
        _LATEST.setdefault(engine, {})[category] = found
        return found
    from silkgate.exchange.agreements.service import rules_from

    pairs = parse(key)
    rules = tuple(rules_from(s, pairs))
    built = ActiveSet(category, key, rules)
    if len(rules) == len(pairs):  # a version replaced meanwhile (tests delete rows): not kept
        if len(by_key) >= KEYS_KEPT:
            by_key.pop(next(iter(by_key)))
        by_key[key] = built
    _LATEST.setdefault(engine, {})[category] = built
    return built


def latest(s: Session, category: Category) -> ActiveSet:
    """The set this process saw last for ``category`` — unchecked: a list builds its query
    from it and lets ``guard`` check it — or, before any, the one the database has now."""
    found = _LATEST.get(s.get_bind().engine, {}).get(category)
    return found if found is not None else current(s, category)


def current(s: Session, category: Category) -> ActiveSet:
    """The set the database has now (one small statement; the rules from the cache)."""
    return set_for(s, category, current_key(s, category))
