"""Writing the disclosure log (batched, in the read's transaction) and reading it back.

The log is stored, not audited: a read is not a state change, and appending every read to the
signed audit chain would make each read wait for the chain's head (one writer at a time). What
authorises a disclosure — each agreement version, its signatures, revocation — is audited, and
every disclosure row names the agreement versions it was made under (see docs/exchange.md).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import (
    ColumnElement,
    Engine,
    Insert,
    event,
    false,
    func,
    insert,
    or_,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause

from silkgate.core.bulk import insert_rows
from silkgate.core.db import table_of
from silkgate.core.errors import FieldError, ValidationFailed
from silkgate.core.platform import Platform
from silkgate.exchange.agreements.catalogue import Category
from silkgate.exchange.agreements.models import Agreement
from silkgate.exchange.agreements.service import represents
from silkgate.exchange.agreements.terms import parties
from silkgate.exchange.disclosures.models import Disclosure, DisclosureGrant, PersonalTransfer
from silkgate.exchange.disclosures.schemas import (
    AgreementRef,
    DisclosureOut,
    DisclosurePage,
    PersonalTransferCount,
)
from silkgate.registry.service import Caller


def _ignore_duplicates(s: Session, model: type[Any], keys: list[str]) -> Any:
    """An INSERT that skips rows whose ``keys`` already exist (SQLite and PostgreSQL)."""
    dialect = sqlite if s.get_bind().dialect.name == "sqlite" else postgresql
    return dialect.insert(model).on_conflict_do_nothing(index_elements=keys)


#: Grant digests known to be stored, per database engine (added once their transaction
#: committed), so a read under the same terms skips re-inserting its grant.
_GRANTS: WeakKeyDictionary[Engine, set[str]] = WeakKeyDictionary()
#: From this many rows COPY; below, one INSERT statement (on PostgreSQL its rows as one JSON
#: parameter): one round trip that also relaxes the commit (a list read is at most 500).
COPY_FROM = 1000


def store(
    s: Session,
    grants: Sequence[dict[str, Any]],
    rows: Sequence[dict[str, Any]],
    persons: Sequence[dict[str, Any]],
    relaxed: bool = False,
) -> None:
    """Grants not yet stored, then every disclosure row in one bulk insert (COPY on
    PostgreSQL for large reads), then each person once per agreement and year.

    ``relaxed``: the transaction only read and logged; on PostgreSQL it then commits without
    waiting for the disk (``synchronous_commit`` off for this transaction alone)."""
    engine = s.get_bind().engine
    postgres = engine.dialect.name == "postgresql"
    known = _GRANTS.setdefault(engine, set())
    fresh = [g for g in grants if g["digest"] not in known]
    if fresh:
        s.execute(_ignore_duplicates(s, DisclosureGrant, ["digest"]), fresh)
        digests = {g["digest"] for g in fresh}
        event.listen(s, "after_commit", lambda _s: known.update(digests), once=True)
    if postgres and rows and len(rows) < COPY_FROM:
        _insert_one_statement(s, rows, relaxed)
    elif rows:
        if relaxed and postgres:
            s.execute(text("SET LOCAL synchronous_commit TO OFF"))
        if len(rows) >= COPY_FROM:
            insert_rows(s, table_of(Disclosure), rows)
        else:  # Core on the session's connection: no ORM bulk-insert bookkeeping
            s.connection().execute(_insert(), list(rows))
    if persons:
        s.execute(
            _ignore_duplicates(s, PersonalTransfer, ["agreement_id", "year", "person"]),
            list(persons),
        )


@cache
def _insert() -> Insert:
    return insert(table_of(Disclosure))


def _insert_one_statement(s: Session, rows: Sequence[dict[str, Any]], relaxed: bool) -> None:
    """PostgreSQL, a few rows: one statement, one round trip — the rows as one JSON
    parameter, and (``relaxed``) this transaction's asynchronous commit set in the same
    statement instead of a ``SET LOCAL`` of its own. (Sending it with the commit in one
    round trip, in psycopg's pipeline mode, was measured slower: see docs/benchmarks.md.)"""
    value = json.dumps(list(rows), default=_iso)
    s.execute(_one_statement(tuple(rows[0]), relaxed), {"rows": value})


@lru_cache(maxsize=16)
def _one_statement(names: tuple[str, ...], relaxed: bool) -> TextClause:
    """The INSERT of ``_insert_one_statement`` (built once per column list)."""
    quote = postgresql.dialect().identifier_preparer.quote
    columns = ", ".join(quote(n) for n in names)
    picked = ", ".join(f"r.{quote(n)}" for n in names)
    relax = " WHERE set_config('synchronous_commit', 'off', true) IS NOT NULL" if relaxed else ""
    return text(
        f"INSERT INTO exchange_disclosures ({columns}) SELECT {picked} "
        "FROM json_populate_recordset(NULL::exchange_disclosures, CAST(:rows AS json)) AS r" + relax
    )


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


# ---------------------------------------------------------------- reading the log


@dataclass
class DisclosureFilter:
    record_id: str | None = None
    consumer: str | None = None
    category: Category | None = None
    since: datetime | None = None
    until: datetime | None = None


def provided_by(caller: Caller) -> ColumnElement[bool]:
    """Rows about records the caller made, or (a GOV customs organization speaking for its
    state) records lodged with its state."""
    mine: list[ColumnElement[bool]] = [Disclosure.owner == caller.member_id]
    if represents(caller, caller.country):
        mine.append(Disclosure.authority == caller.country)
    return or_(false(), *mine)


#: Row ids are 64-bit signed integers (a cursor beyond would overflow the query parameter).
MAX_ID = 2**63 - 1


def parse_cursor(raw: str) -> int:
    """The row id a cursor this API issued stands for; anything else is 422 naming it."""
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        text = ""
    if not (text.isascii() and text.isdigit() and len(text) <= 19 and int(text) <= MAX_ID):
        raise ValidationFailed(
            [FieldError("/query/cursor", "invalid_cursor", "not a cursor: pass next_cursor")]
        )
    return int(text)


def _encode(value: int) -> str:
    return base64.urlsafe_b64encode(str(value).encode()).decode().rstrip("=")


def list_disclosures(
    platform: Platform,
    caller: Caller | None,
    f: DisclosureFilter,
    cursor: str | None = None,
    limit: int = 100,
) -> DisclosurePage:
    """Newest first: what was disclosed about the caller's records (``None``: the operator,
    every row)."""
    stmt = select(Disclosure, DisclosureGrant).join(
        DisclosureGrant, DisclosureGrant.digest == Disclosure.grant
    )
    if caller is not None:
        stmt = stmt.where(provided_by(caller))
    for column, value in (
        (Disclosure.record_id, f.record_id),
        (Disclosure.consumer, f.consumer),
        (Disclosure.category, f.category.value if f.category else None),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if f.since is not None:
        stmt = stmt.where(Disclosure.at >= f.since)
    if f.until is not None:
        stmt = stmt.where(Disclosure.at < f.until)
    if cursor:
        stmt = stmt.where(Disclosure.id < parse_cursor(cursor))
    stmt = stmt.order_by(Disclosure.id.desc()).limit(limit + 1)
    with platform.db.snapshot() as s:
        rows = list(s.execute(stmt))
        more = len(rows) > limit
        items = [_out(d, g) for d, g in rows[:limit]]
    return DisclosurePage(
        items=items, next_cursor=_encode(items[-1].id) if more and items else None
    )


def _out(d: Disclosure, g: DisclosureGrant) -> DisclosureOut:
    return DisclosureOut(
        id=d.id,
        at=d.at,
        request_id=d.request_id,
        channel=d.channel,
        consumer=d.consumer,
        category=Category(d.category),
        record_id=d.record_id,
        owner=d.owner,
        authority=d.authority,
        basis=g.basis,
        purpose=g.purpose,
        place=g.place,
        agreements=[AgreementRef(agreement_id=str(a), version=int(v)) for a, v in g.agreements],
        fields=list(g.fields),
        personal=d.personal,
    )


# ---------------------------------------------------------------- personal data counts


def personal_counts(
    platform: Platform, caller: Caller | None, year: int | None = None
) -> list[PersonalTransferCount]:
    """Distinct persons per agreement and year whose personal data crossed a border; a caller
    sees the agreements it is a party to (``None``: the operator, all)."""
    stmt = select(
        PersonalTransfer.agreement_id,
        PersonalTransfer.year,
        func.count(),
    ).group_by(PersonalTransfer.agreement_id, PersonalTransfer.year)
    where = select(
        PersonalTransfer.agreement_id,
        PersonalTransfer.year,
        PersonalTransfer.origin,
        PersonalTransfer.place,
    ).distinct()
    if year is not None:
        stmt = stmt.where(PersonalTransfer.year == year)
        where = where.where(PersonalTransfer.year == year)
    with platform.db.snapshot() as s:
        counts: list[tuple[str, int, int]] = [(a, y, n) for a, y, n in s.execute(stmt)]
        ids = sorted({a for a, _, _ in counts})
        visible = set(ids) if caller is None else _party_to(s, caller, ids)
        routes: dict[tuple[str, int], tuple[set[str], set[str]]] = {}
        for a, y, origin, place in s.execute(where):
            o, p = routes.setdefault((a, y), (set(), set()))
            o.add(origin)
            p.add(place)
    return [
        PersonalTransferCount(
            agreement_id=a,
            year=y,
            persons=n,
            origins=sorted(routes.get((a, y), (set(), set()))[0]),
            places=sorted(routes.get((a, y), (set(), set()))[1]),
        )
        for a, y, n in sorted(counts, key=lambda r: (r[1], r[0]))
        if a in visible
    ]


def _party_to(s: Session, caller: Caller, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    rows = s.scalars(select(Agreement).where(Agreement.agreement_id.in_(ids)))
    return {r.agreement_id for r in rows if any(represents(caller, p) for p in parties(r))}


__all__ = ["DisclosureFilter", "list_disclosures", "personal_counts", "store"]
