"""Writing the disclosure log (batched, in the read's transaction) and reading it back.

The log is stored, not audited: a read is not a state change, and appending every read to the
signed audit chain would make each read wait for the chain's head (one writer at a time). What
authorises a disclosure — each agreement version, its signatures, revocation — is audited, and
every disclosure row names the agreement versions it was made under (see docs/exchange.md).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

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


def store(
    s: Session,
    grants: Sequence[dict[str, Any]],
    rows: Sequence[dict[str, Any]],
    persons: Sequence[dict[str, Any]],
) -> None:
    """Grants not yet stored, then every disclosure row in one bulk insert (COPY on
    PostgreSQL), then each person once per agreement and year."""
    if grants:
        s.execute(_ignore_duplicates(s, DisclosureGrant, ["digest"]), list(grants))
    insert_rows(s, table_of(Disclosure), rows)
    if persons:
        s.execute(
            _ignore_duplicates(s, PersonalTransfer, ["agreement_id", "year", "person"]),
            list(persons),
        )


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


def _cursor(raw: str) -> int:
    try:
        value = int(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode())
    except (ValueError, UnicodeDecodeError):
        value = -1
    if value < 0:
        raise ValidationFailed([FieldError("/query/cursor", "invalid_cursor", "not a cursor")])
    return value


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
        stmt = stmt.where(Disclosure.id < _cursor(cursor))
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
        counts = [tuple(r) for r in s.execute(stmt)]
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
