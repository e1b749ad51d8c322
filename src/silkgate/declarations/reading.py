"""Reading declarations: one, a filtered page, versions, audit trail, export, verification."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from silkgate.audit import service as audit
from silkgate.core.errors import FieldError, ValidationFailed
from silkgate.core.platform import Platform
from silkgate.declarations import access
from silkgate.declarations.access import View
from silkgate.declarations.models import Declaration, DeclarationVersion
from silkgate.declarations.schemas import AuditEntryOut, DeclarationOut, DeclarationPage, VersionOut
from silkgate.declarations.service import load_visible, view_out
from silkgate.registry.service import Caller


def get(platform: Platform, caller: Caller, decl_id: str) -> DeclarationOut:
    with platform.db.session() as s:
        decl, view = load_visible(s, caller, decl_id)
        return view_out(platform, caller, decl, view)


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
    if not raw or len(raw) > 24 or not raw.isalnum():
        raise ValidationFailed(
            [FieldError("/cursor", "invalid_cursor", "not a cursor this API issued")]
        )
    return raw


def list_declarations(
    platform: Platform, caller: Caller, f: ListFilter, cursor: str | None, limit: int
) -> DeclarationPage:
    """Newest first; ``next_cursor`` continues after the last item returned."""
    stmt = select(Declaration).where(access.visible_clause(caller))
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
    if cursor:
        stmt = stmt.where(Declaration.id < decode_cursor(cursor))
    stmt = stmt.order_by(Declaration.id.desc()).limit(limit + 1)
    with platform.db.session() as s:
        rows = list(s.scalars(stmt))
        more = len(rows) > limit
        rows = rows[:limit]
        items = [view_out(platform, caller, d, access.view_of(caller, d)) for d in rows]
    return DeclarationPage(
        items=items, next_cursor=encode_cursor(rows[-1].id) if more and rows else None
    )


def versions(platform: Platform, caller: Caller, decl_id: str) -> list[VersionOut]:
    with platform.db.session() as s:
        _, view = load_visible(s, caller, decl_id)
        rows = s.scalars(
            select(DeclarationVersion)
            .where(DeclarationVersion.declaration_id == decl_id)
            .order_by(DeclarationVersion.version)
        )
        share = platform.settings.share_driver_data_across_border
        return [
            VersionOut(
                version=r.version,
                created_at=r.created_at,
                created_by=r.created_by,
                payload_digest=r.payload_digest,
                data=access.redact(r.payload, share) if view is View.PRE_ARRIVAL else r.payload,
            )
            for r in rows
        ]


def audit_trail(platform: Platform, caller: Caller, decl_id: str) -> list[AuditEntryOut]:
    with platform.db.session() as s:
        load_visible(s, caller, decl_id)
        return [AuditEntryOut.model_validate(e) for e in audit.trail(s, "declaration", decl_id)]


def export_all(platform: Platform, declarant: str | None = None) -> Iterable[dict[str, Any]]:
    """Current payloads with ``_``-prefixed metadata (id, status…) that imports ignore."""
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
