"""Today's reads before agreements: the hard-coded view (``access.view_of``), no decision, no
disclosure log. Not routed: kept so bench/exchange.py can measure the policy decision point
against it side by side in one run (the code of ``reading.get`` and ``list_declarations``
before the wiring, unchanged)."""

from __future__ import annotations

from silkgate.core.platform import Platform
from silkgate.declarations import access
from silkgate.declarations.models import Declaration
from silkgate.declarations.reading import ListFilter, decode_cursor, encode_cursor, filtered
from silkgate.declarations.schemas import DeclarationOut, DeclarationPage
from silkgate.declarations.service import load_visible, view_out
from silkgate.registry.service import Caller


def get(platform: Platform, caller: Caller, decl_id: str) -> DeclarationOut:
    with platform.db.session() as s:
        decl, view = load_visible(s, caller, decl_id)
        return view_out(platform, caller, decl, view)


def list_declarations(
    platform: Platform, caller: Caller, f: ListFilter, cursor: str | None, limit: int
) -> DeclarationPage:
    stmt = filtered(f).where(access.visible_clause(caller))
    if cursor:
        stmt = stmt.where(Declaration.id < decode_cursor(cursor))
    stmt = stmt.order_by(Declaration.id.desc()).limit(limit + 1)
    with platform.db.session() as s:
        rows = list(s.scalars(stmt))
        more = len(rows) > limit
        rows = rows[:limit]
        items = [view_out(platform, caller, d, access.view_of(caller, d)) for d in rows]
    return DeclarationPage(
        items=list(items), next_cursor=encode_cursor(rows[-1].id) if more and rows else None
    )


__all__ = ["ListFilter", "get", "list_declarations"]
