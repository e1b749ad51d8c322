"""Storing new declarations: a group of lodgings shares one transaction and one audit append.

Every lodging needs the audit chain's head, so appends are serialised; committing each
declaration on its own would serialise one disk flush per declaration. ``store_group`` stores
many together and answers each separately — a duplicate LRN or a reused Idempotency-Key fails
only its own lodging. ``store_isolated`` goes further: when the database refuses the group, it
splits the group until the refusal is pinned to the one lodging that caused it, and stores the
rest. This module sits below ``service`` (which imports it) and never imports it back.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, tuple_
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from silkgate.audit import service as audit
from silkgate.audit.service import AuditEvent
from silkgate.audit.submissions import stored_with
from silkgate.core.db import after_commit, db_problem, is_transient, table_of
from silkgate.core.errors import (
    Conflict,
    FieldError,
    InternalError,
    SilkgateError,
    Unavailable,
    ValidationFailed,
    pointer,
)
from silkgate.core.writes import WriteContext
from silkgate.declarations.models import (
    VERSION_ROUTING,
    Declaration,
    DeclarationVersion,
    GoodsItem,
    IdempotencyKey,
)
from silkgate.declarations.schemas import DeclarationIn, DeclarationOut, DeclarationStatus

if TYPE_CHECKING:
    from silkgate.core.platform import Platform
    from silkgate.registry.service import Caller

log = logging.getLogger("silkgate.lodging")
S = DeclarationStatus
Outcome = tuple[DeclarationOut, bool] | SilkgateError


@dataclass
class Prepared:
    """A declaration that passed every check, ready to store."""

    body: DeclarationIn
    payload: dict[str, Any]
    digest: str


@dataclass
class Lodging:
    """One request to store a prepared declaration."""

    caller: Caller
    prepared: Prepared
    idempotency_key: str | None = None
    # the HTTP write it answers, when stored by the group committer's thread (which has no
    # request context): its signature is stored with it and its audit entries reported to it
    write: WriteContext | None = None
    # the console user acting (``core.writes.acting``), for the same reason: named in its entries
    person: str | None = None


def new_declaration_id() -> str:
    """Time-ordered id: 12 hex digits of milliseconds then 10 random hex digits."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(5)}"


def key_reused() -> ValidationFailed:
    return ValidationFailed(
        [
            FieldError(
                "/headers/idempotency-key",
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different body",
            )
        ],
        detail="Idempotency-Key reuse with a different request",
    )


def duplicate_lrn(lrn: str) -> Conflict:
    return Conflict(
        f"LRN {lrn} is already used by this declarant",
        [FieldError("/lrn", "duplicate", "LRN already used by this declarant")],
    )


def lodging_trader(decl_type: str, payload: dict[str, Any]) -> str | None:
    """``COUNTRY:IDENTIFIER`` of the trader the declaration is lodged for: the importer of an
    import, the exporter of an export or transit; None when the payload lacks either part."""
    party = payload.get("importer" if decl_type == "import" else "exporter")
    if not isinstance(party, dict):
        return None
    country, identifier = party.get("country"), party.get("identifier")
    if not isinstance(country, str) or not isinstance(identifier, str):
        return None
    return f"{country}:{identifier}"


def rows_for(
    p: Prepared, caller: Caller, decl_id: str, version: int, now: datetime
) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """The declaration, version and goods-item rows of one prepared declaration."""
    b = p.body
    decl = {
        "id": decl_id,
        "declarant_org_id": caller.id,
        "declarant": caller.member_id,
        "lrn": b.lrn,
        "type": b.type.value,
        "status": S.SUBMITTED.value,
        "version": version,
        "crossing_code": b.crossing.code,
        "exit_country": b.crossing.exit_country,
        "entry_country": b.crossing.entry_country,
        "item_count": len(b.goods_items),
        "total_gross_kg": b.totals.gross_mass_kg,
        "total_invoice_value": b.invoice.total_amount,
        "currency": b.invoice.currency,
        "lane": None,
        "submitted_at": now,
        "updated_at": now,
        "payload": p.payload,
    }
    ver = {
        "declaration_id": decl_id,
        "version": version,
        "payload": p.payload,
        "payload_digest": p.digest,
        "trader": lodging_trader(b.type.value, p.payload),
        **{key: decl[key] for key in VERSION_ROUTING},
        "created_at": now,
        "created_by": caller.member_id,
    }
    items = [
        {
            "declaration_id": decl_id,
            "version": version,
            "item_no": n,
            "hs_code": it.hs_code,
            "hs6": it.hs_code[:6],
            "description": it.description,
            "origin_country": it.origin_country,
            "packages": it.packages.count,
            "gross_mass_kg": it.gross_mass_kg,
            "net_mass_kg": it.net_mass_kg,
            "invoice_value": it.invoice_value,
            "customs_value": it.customs_value,
        }
        for n, it in enumerate(b.goods_items, start=1)
    ]
    return decl, ver, items


def lodging_events(
    caller: Caller, decl_id: str, p: Prepared, action: str, auto_accept: bool
) -> list[AuditEvent]:
    events = [AuditEvent(caller.member_id, action, "declaration", decl_id, p.payload, p.digest)]
    if auto_accept:
        events.append(
            AuditEvent(
                "platform",
                "declaration.accepted",
                "declaration",
                decl_id,
                {"from": S.SUBMITTED.value, "to": S.ACCEPTED.value, "digest": p.digest},
            )
        )
    return events


OUT_COLUMNS = (
    "id", "lrn", "version", "status", "type", "declarant", "crossing_code", "exit_country",
    "entry_country", "submitted_at", "updated_at", "lane", "payload",
)  # fmt: skip


def out_from_row(d: dict[str, Any]) -> DeclarationOut:
    """The full view of a declaration row (also used for a row just stored, without a read)."""
    return DeclarationOut(
        id=d["id"],
        lrn=d["lrn"],
        version=d["version"],
        status=S(d["status"]),
        type=d["type"],
        declarant=d["declarant"],
        crossing=d["crossing_code"],
        exit_country=d["exit_country"],
        entry_country=d["entry_country"],
        submitted_at=d["submitted_at"],
        updated_at=d["updated_at"],
        pre_arrival=False,
        lane=d["lane"],
        data=d["payload"],
    )


def store_group(platform: Platform, group: list[Lodging]) -> list[Outcome]:
    """Store a group in one transaction; each entry gets its own outcome.

    Raises whatever the database raises: then nothing of the group is stored.
    """
    now = platform.clock()  # business time: tests and the demo set it
    auto = platform.settings.auto_accept
    outcomes: list[Outcome | None] = [None] * len(group)
    explicit = any(g.write is not None for g in group)
    with platform.db.session() as s:
        # LRNs before keys: under READ COMMITTED each statement sees what was committed when it
        # began, so a concurrent winner whose LRN shows here also shows its Idempotency-Key
        # below, and an identical retry is answered as a replay rather than a duplicate LRN.
        lrns = sorted({(g.caller.id, g.prepared.body.lrn) for g in group})
        taken: set[tuple[int, str]] = set()
        for chunk in _chunks(lrns):
            stmt2 = select(Declaration.declarant_org_id, Declaration.lrn).where(
                tuple_(Declaration.declarant_org_id, Declaration.lrn).in_(chunk)
            )
            taken.update((r[0], r[1]) for r in s.execute(stmt2))
        keyed = {(g.caller.id, g.idempotency_key) for g in group if g.idempotency_key}
        known_keys: dict[tuple[int, str], tuple[str, str]] = {}
        for chunk in _chunks(sorted(keyed)):
            stmt = select(IdempotencyKey).where(
                tuple_(IdempotencyKey.organization_id, IdempotencyKey.key).in_(chunk)
            )
            known_keys.update(
                {
                    (r.organization_id, r.key): (r.request_digest, r.declaration_id)
                    for r in s.scalars(stmt)
                }
            )
        decls, vers, items, idem = [], [], [], []
        events: list[AuditEvent] = []
        spans: list[tuple[WriteContext, int, int]] = []  # a lodging's events in ``events``
        new_rows: dict[str, dict[str, object]] = {}
        replay_ids: dict[int, str] = {}
        for i, g in enumerate(group):
            p, who = g.prepared, g.caller
            if g.idempotency_key:
                seen = known_keys.get((who.id, g.idempotency_key))
                if seen is not None:
                    if seen[0] != p.digest:
                        outcomes[i] = key_reused()
                    else:
                        replay_ids[i] = seen[1]
                    continue
            if (who.id, p.body.lrn) in taken:
                outcomes[i] = duplicate_lrn(p.body.lrn)
                continue
            decl_id = new_declaration_id()
            d, v, it = rows_for(p, who, decl_id, 1, now)
            if auto:
                d["status"] = S.ACCEPTED.value
            decls.append(d)
            vers.append(v)
            items.extend(it)
            if g.idempotency_key:
                idem.append(
                    {
                        "organization_id": who.id,
                        "key": g.idempotency_key,
                        "request_digest": p.digest,
                        "declaration_id": decl_id,
                        "created_at": now,
                    }
                )
                known_keys[(who.id, g.idempotency_key)] = (p.digest, decl_id)
            taken.add((who.id, p.body.lrn))
            start = len(events)
            made = lodging_events(who, decl_id, p, "declaration.submitted", auto)
            if g.person is not None:
                made = [e if e.person is not None else replace(e, person=g.person) for e in made]
            events.extend(made)
            if g.write is not None:
                events.extend(stored_with(s, g.write, events[start:]))
                spans.append((g.write, start, len(events)))
            new_rows[decl_id] = d
            outcomes[i] = (out_from_row(d), True)
        if decls:
            # Core inserts (executemany): the ORM unit of work costs more than the database here.
            s.execute(insert(table_of(Declaration)), decls)
            s.execute(insert(table_of(DeclarationVersion)), vers)
            s.execute(insert(table_of(GoodsItem)), items)
            if idem:
                s.execute(insert(table_of(IdempotencyKey)), idem)
            events.extend(published(s, platform, decls, now))
            rows = audit.append(s, platform.signer, events, ambient=not explicit)
            for write, a, b in spans:
                signed = write.submission is not None
                after_commit(s, partial(write.committed, rows[a:b], signed))
        for i, decl_id in replay_ids.items():
            row = new_rows.get(decl_id)
            if row is not None:
                outcomes[i] = (out_from_row(row), False)
                continue
            decl = s.get(Declaration, decl_id)
            assert decl is not None
            outcomes[i] = (out_from_row({c: getattr(decl, c) for c in OUT_COLUMNS}), False)
    return [o for o in outcomes if o is not None]


def published(
    s: Session, platform: Platform, rows: list[dict[str, Any]], now: datetime
) -> list[AuditEvent]:
    """Outbox messages of newly stored declarations for their category subscribers."""
    from types import SimpleNamespace

    from silkgate.exchange import publish as pub

    if not pub.wanted(s, *pub.DECLARATION_CATEGORIES):
        return []
    facts = [
        pub.declaration_fact(SimpleNamespace(**d), out_from_row(d).model_dump(mode="json"))
        for d in rows
    ]
    return pub.publish(s, platform, facts, "platform", now)


def _chunks(values: list[tuple[int, str]], size: int = 400) -> list[list[tuple[int, str]]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def store_isolated(platform: Platform, group: list[Lodging]) -> list[Outcome]:
    """Store a group; a refusal by the database fails only the lodging that caused it.

    On a refused group, each half is tried on its own, down to single lodgings: k bad lodgings
    in n cost about k·log2(n) extra transactions, and the good ones are all stored. A transient
    refusal (a lock held elsewhere, a lost connection) is no lodging's fault: the whole group
    fails at once with 503, since trying each again would only wait again.
    """
    if not group:
        return []
    try:
        return store_group(platform, group)
    except Exception as exc:  # every error becomes some lodging's outcome
        if is_transient(exc):
            log.warning("database unavailable for %d lodgings: %s", len(group), exc)
            return [_unavailable(platform, exc)] * len(group)
        if len(group) == 1:
            return [_alone(platform, group[0], exc)]
    mid = len(group) // 2
    return store_isolated(platform, group[:mid]) + store_isolated(platform, group[mid:])


def store_single(platform: Platform, lodging: Lodging) -> tuple[DeclarationOut, bool]:
    """Store one lodging in its own transaction; raise its refusal as a SilkgateError."""
    outcome = store_isolated(platform, [lodging])[0]
    if isinstance(outcome, SilkgateError):
        raise outcome
    return outcome


def _alone(platform: Platform, lodging: Lodging, exc: Exception) -> Outcome:
    """The outcome of one lodging the database refused with ``exc``."""
    for _ in range(3):
        if not isinstance(exc, IntegrityError):
            break
        # A concurrent transaction committed the same LRN or key: now its row is visible and
        # the lodging is answered as a replay or a duplicate, as the winner decides.
        try:
            return store_group(platform, [lodging])[0]
        except Exception as again:
            exc = again
    if isinstance(exc, DBAPIError):
        if is_transient(exc):
            return _unavailable(platform, exc)
        found = db_problem(exc)
        if isinstance(exc, DataError):
            where = _nul_pointer(lodging.prepared.payload)
            if where is not None:
                return ValidationFailed(
                    [FieldError(where, "nul_character", "text cannot contain NUL (U+0000)")]
                )
            return found
        if not isinstance(found, InternalError):
            return found
    log.error("lodging %s refused", lodging.prepared.body.lrn, exc_info=exc)
    return InternalError("The server failed on this declaration; nothing of it was stored.")


def _unavailable(platform: Platform, exc: Exception) -> SilkgateError:
    retry = max(1, round(platform.settings.db_lock_timeout / 2))
    return db_problem(exc, retry) if isinstance(exc, DBAPIError) else Unavailable("busy", retry)


def _nul_pointer(value: Any, path: tuple[str | int, ...] = ()) -> str | None:
    """JSON pointer to the first string holding NUL, which PostgreSQL cannot store in text."""
    if isinstance(value, str):
        return pointer(*path) if "\x00" in value else None
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for k, v in items:
        if isinstance(k, str) and "\x00" in k:
            return pointer(*path, k)
        found = _nul_pointer(v, (*path, k))
        if found is not None:
            return found
    return None
