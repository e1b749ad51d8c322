"""Reading declarations: one, a filtered page, versions, audit trail, export.

Every read goes through the policy decision point (``exchange.agreements.enforce.Point``):
the owner and the lodging customs read everything, others what their agreements allow for the
purpose they declare; disclosures are logged in the read's transaction.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from silkgate.audit import service as audit
from silkgate.core.errors import FieldError, NotFound, Unavailable, ValidationFailed
from silkgate.core.platform import Platform
from silkgate.core.signing import canonical_json, sha256_hex
from silkgate.declarations import access, history
from silkgate.declarations.models import Declaration, DeclarationVersion
from silkgate.declarations.schemas import (
    AuditEntryOut,
    DeclarationPage,
    DeclarationView,
    VersionOut,
)
from silkgate.declarations.service import answer, as_asking, read_decided
from silkgate.exchange.agreements.active import guard
from silkgate.exchange.agreements.catalogue import Category
from silkgate.exchange.agreements.enforce import Asking, Point, PurposeRequired, covers
from silkgate.exchange.agreements.fields import filter_document
from silkgate.exchange.agreements.policy import Decision, Record
from silkgate.exchange.agreements.records import declaration_record
from silkgate.registry.service import Caller


def get(platform: Platform, who: Caller | Asking, decl_id: str) -> DeclarationView:
    """One declaration, as much of it as the policy decision allows the caller."""
    with platform.db.session() as s:
        point = Point(platform, s, as_asking(who))
        d, record, decision = read_decided(point, s, decl_id)
        out = answer(point, d, record, decision)
        point.flush()
        return out


@dataclass
class ListFilter:
    """Filters for listing declarations; all optional."""

    status: str | None = None
    type: str | None = None
    crossing: str | None = None
    exit_country: str | None = None
    entry_country: str | None = None
    lrn: str | None = None
    submitted_from: datetime | None = None
    submitted_to: datetime | None = None


def encode_cursor(decl_id: str) -> str:
    return base64.urlsafe_b64encode(decl_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raw = ""
    if not raw or len(raw) > 24 or not (raw.isascii() and raw.isalnum()):
        raise ValidationFailed(
            [FieldError("/query/cursor", "invalid_cursor", "not a cursor this API issued")]
        )
    return raw


#: Rows read at least per query while refused rows leave a page short.
REFILL = 64


def filtered(f: ListFilter) -> Select[Declaration]:
    """The rows matching the list filters (before any entitlement)."""
    stmt = select(Declaration)
    for column, value in (
        (Declaration.status, f.status),
        (Declaration.type, f.type),
        (Declaration.crossing_code, f.crossing),
        (Declaration.exit_country, f.exit_country),
        (Declaration.entry_country, f.entry_country),
        (Declaration.lrn, f.lrn),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if f.submitted_from is not None:
        stmt = stmt.where(Declaration.submitted_at >= f.submitted_from)
    if f.submitted_to is not None:
        stmt = stmt.where(Declaration.submitted_at < f.submitted_to)
    return stmt


def list_declarations(
    platform: Platform, who: Caller | Asking, f: ListFilter, cursor: str | None, limit: int
) -> DeclarationPage:
    """Newest first; ``next_cursor`` continues after the last item returned.

    SQL narrows the rows to those a decision may allow (``access.reachable_clause``); each row
    is then decided (conditions, purposes, places) and answered with its allowed fields. A row
    the decision refuses is skipped and the next ones read, so a page stays full. With no
    purpose declared, a row another organization shares with the caller makes the answer 400.
    """
    asking = as_asking(who)
    with platform.db.session() as s:
        point = Point(platform, s, asking)
        for _ in range(RECHECKS):
            kept = _page(point, s, f, cursor, limit)
            if kept is not None:
                break
        else:  # agreements changing under every attempt: let the client try again
            raise Unavailable("the agreements changed while reading; send the request again", 1)
        more = len(kept) > limit
        kept = kept[:limit]
        items = [answer(point, d, record, decision) for d, record, decision in kept]
        point.flush()
    return DeclarationPage(
        items=items, next_cursor=encode_cursor(kept[-1][0].id) if more and kept else None
    )


#: Attempts of a list whose agreements changed while it was read (each change is a signed
#: activation or a revocation: two in a row are rare, ten are a fault).
RECHECKS = 10


def _page(
    point: Point, s: Session, f: ListFilter, cursor: str | None, limit: int
) -> list[tuple[Declaration, Record, Decision]] | None:
    """Up to ``limit + 1`` rows the decision allows, or None when the active agreements were
    not those the query was built from (``Point.assume``): then ``point`` holds the current
    ones and the caller reads again."""
    asking = point.asking
    cat = Category.DECLARATION
    key = point.assume(cat)
    rules = point.rules(cat) if asking.purpose else point.all_rules(cat)
    stmt = filtered(f).where(access.reachable_clause(asking.caller, rules), guard(cat))
    after = decode_cursor(cursor) if cursor else None
    kept: list[tuple[Declaration, Record, Decision]] = []
    flagged: set[str] = set()
    first = True
    while len(kept) <= limit:
        # the page first; if refused rows left it short, read on in batches of at least
        # REFILL rows, not row by row
        want = limit + 1 - len(kept) if first else max(limit + 1 - len(kept), REFILL)
        first = False
        page = stmt if after is None else stmt.where(Declaration.id < after)
        query = page.order_by(Declaration.id.desc()).limit(want)
        rows = list(s.scalars(query, {"active_key": key}))
        if len(rows) < want and not point.confirm(cat):
            return None  # the guard refused the rows: other agreements are active now
        for d in rows:
            record = declaration_record(d)
            decision = point.decide_or_flag(record, flagged)
            if flagged:  # withheld for want of a purpose: the whole answer is 400
                raise PurposeRequired(flagged)
            if decision.allowed:
                kept.append((d, record, decision))
                if len(kept) > limit:
                    break
        if len(rows) < want:
            break
        after = rows[-1].id
    return kept


def versions(platform: Platform, who: Caller | Asking, decl_id: str) -> list[VersionOut]:
    """Every stored version, with the data the decision allows (its digest then of what is
    answered: a digest of the whole would let the withheld parts be guessed)."""
    with platform.db.session() as s:
        point = Point(platform, s, as_asking(who))
        d, record, decision = read_decided(point, s, decl_id)
        rows = s.scalars(
            select(DeclarationVersion)
            .where(DeclarationVersion.declaration_id == decl_id)
            .order_by(DeclarationVersion.version)
        )
        creator = decision.full or bool(filter_document({"declarant": "x"}, decision.fields))
        out = []
        for r in rows:
            if decision.full:
                data, digest = r.payload, r.payload_digest
            else:
                data = filter_document({"data": r.payload}, decision.fields).get("data", {})
                digest = sha256_hex(canonical_json(data))
            v = VersionOut(
                version=r.version, created_at=r.created_at, payload_digest=digest, data=data
            )
            if creator:
                v.created_by = r.created_by
            out.append(v)
        point.disclose(record, d.id, decision, *({"data": v.data} for v in out))
        point.flush()
        return out


def audit_trail(platform: Platform, who: Caller | Asking, decl_id: str) -> list[AuditEntryOut]:
    """The declaration's audit entries: every one for the owner and the lodging customs, the
    state changes the decision shares for anyone else allowed ``/status`` (``history``)."""
    with platform.db.session() as s:
        point = Point(platform, s, as_asking(who))
        d, record, decision = read_decided(point, s, decl_id)
        if not (decision.full or covers(decision, "/status")):
            raise NotFound(f"declaration {decl_id}")
        seen = history.visible(point, record, decision, audit.trail(s, "declaration", decl_id))
        point.disclose(record, d.id, decision)
        point.flush()
        return [e.out() for e in seen]


def export_all(platform: Platform, declarant: str | None = None) -> Iterable[dict[str, Any]]:
    """Current payloads with ``_``-prefixed metadata (id, status…) that imports ignore: the
    operator's export (no organization asks: whoever holds the database holds every row)."""
    stmt = select(Declaration).order_by(Declaration.id).execution_options(yield_per=1000)
    if declarant:
        stmt = stmt.where(Declaration.declarant == declarant)
    with platform.db.session() as s:
        for d in s.scalars(stmt):
            meta = {
                "_id": d.id,
                "_status": d.status,
                "_version": d.version,
                "_declarant": d.declarant,
            }
            yield {**meta, **d.payload}


#: Export metadata and the declaration pointer each needs.
EXPORT_META = {
    "_id": "/id",
    "_status": "/status",
    "_version": "/version",
    "_declarant": "/declarant",
}


def export_for(
    platform: Platform, who: Caller | Asking, declarant: str | None = None
) -> list[dict[str, Any]]:
    """What ``export_all`` writes, for one organization: every declaration the policy decision
    lets it read, each with only the allowed metadata and payload (disclosures logged). Decided
    whole before anything is written: a row withheld for want of a purpose makes it 400."""
    asking = as_asking(who)
    with platform.db.session() as s:
        point = Point(platform, s, asking)
        cat = Category.DECLARATION
        rules = point.rules(cat) if asking.purpose else point.all_rules(cat)
        stmt = select(Declaration).where(access.reachable_clause(asking.caller, rules))
        if declarant:
            stmt = stmt.where(Declaration.declarant == declarant)
        out: list[dict[str, Any]] = []
        flagged: set[str] = set()
        for d in s.scalars(stmt.order_by(Declaration.id).execution_options(yield_per=1000)):
            record = declaration_record(d)
            decision = point.decide_or_flag(record, flagged)
            if flagged:
                raise PurposeRequired(flagged)
            if not decision.allowed:
                continue
            meta = {
                "_id": d.id,
                "_status": d.status,
                "_version": d.version,
                "_declarant": d.declarant,
            }
            if decision.full:
                out.append({**meta, **d.payload})
                continue
            data = filter_document({"data": d.payload}, decision.fields).get("data", {})
            shown = {k: v for k, v in meta.items() if covers(decision, EXPORT_META[k])}
            out.append({**shown, **data})
            point.disclose(record, d.id, decision, {"data": data})
        point.flush()
        return out
