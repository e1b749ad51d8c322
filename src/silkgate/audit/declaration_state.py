"""What the log says about each declaration, and its stored rows, read in batches.

The log holds digests, not bodies, so a replay of a declaration's entries knows: every
version's payload digest, the status after each state change (the action names it), and which
assessments, overrides and inspection results were recorded (their digests). The log is
streamed ordered by declaration; the rows of each id range are loaded at once.
``declaration_checks`` compares the two.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, Text, and_, cast, select, true
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from silkgate.audit.consistency import Report
from silkgate.audit.models import AuditEntry
from silkgate.audit.service import payload_digest
from silkgate.core.db import table_of
from silkgate.declarations.models import Declaration, DeclarationVersion, GoodsItem
from silkgate.declarations.schemas import DeclarationStatus
from silkgate.risk.platform.models import InspectionResult, RiskAssessment
from silkgate.risk.selectivity.schemas import Lane

BATCH = 500
LODGING = frozenset({"declaration.submitted", "declaration.amended"})
STATUS_OF = {f"declaration.{s.value}": s.value for s in DeclarationStatus}
LANES = tuple(lane.value for lane in Lane)
ITEM_COLUMNS = (
    "hs_code",
    "hs6",
    "description",
    "origin_country",
    "packages",
    "gross_mass_kg",
    "net_mass_kg",
    "invoice_value",
    "customs_value",
)


@dataclass
class Replay:
    """What a declaration's entries say about it, in log order."""

    lodgings: list[Any] = field(default_factory=list)  # submitted/amended entries
    status: str | None = None
    status_seq: int = 0
    lane: tuple[str, int] | None = None  # ("assessed" | "override", version)
    assessed: dict[int, list[Any]] = field(default_factory=lambda: defaultdict(list))
    overrides: dict[int, list[Any]] = field(default_factory=lambda: defaultdict(list))
    inspected: dict[int, list[Any]] = field(default_factory=lambda: defaultdict(list))


def replay(entries: list[Any], report: Report, entity: str) -> Replay:
    r = Replay()
    for e in entries:
        a, version = e.action, len(r.lodgings)
        if a in LODGING:
            r.lodgings.append(e)
            r.status, r.status_seq, r.lane = "submitted", e.seq, None
        elif a == "declaration.risk_assessed":
            r.assessed[version].append(e)
            r.status, r.status_seq, r.lane = "risk_assessed", e.seq, ("assessed", version)
        elif a == "declaration.lane_overridden":
            r.overrides[version].append(e)
            r.lane = ("override", version)
        elif a == "inspection.recorded":
            r.inspected[version].append(e)
        elif a in STATUS_OF:
            r.status, r.status_seq = STATUS_OF[a], e.seq
        else:
            report.add(entity, f"entry {e.seq} has an action this verifier does not know: {a}")
    return r


def item_rows(payload: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """The goods-item columns a version's payload gives (as ``declarations.service.rows_for``)."""
    out = {}
    for n, it in enumerate(payload.get("goods_items") or [], start=1):
        out[n] = {
            "hs_code": it.get("hs_code"),
            "hs6": (it.get("hs_code") or "")[:6],
            "description": it.get("description"),
            "origin_country": it.get("origin_country"),
            "packages": (it.get("packages") or {}).get("count"),
            "gross_mass_kg": it.get("gross_mass_kg"),
            "net_mass_kg": it.get("net_mass_kg"),
            "invoice_value": it.get("invoice_value"),
            "customs_value": it.get("customs_value"),
        }
    return out


def header_of(payload: dict[str, Any]) -> dict[str, Any]:
    """The declaration-row columns a payload gives."""
    crossing = payload.get("crossing") or {}
    invoice = payload.get("invoice") or {}
    return {
        "lrn": payload.get("lrn"),
        "type": payload.get("type"),
        "crossing_code": crossing.get("code"),
        "exit_country": crossing.get("exit_country"),
        "entry_country": crossing.get("entry_country"),
        "item_count": len(payload.get("goods_items") or []),
        "total_gross_kg": (payload.get("totals") or {}).get("gross_mass_kg"),
        "total_invoice_value": invoice.get("total_amount"),
        "currency": invoice.get("currency"),
    }


@dataclass
class Batch:
    """Stored rows of the declarations whose ids fall in one range.

    Payloads are read as the stored JSON text: the current payload and its latest version are
    normally the same text, so each distinct text is parsed and digested once (``parsed``).
    """

    decls: dict[str, Row[Any]]
    versions: dict[str, dict[int, Row[Any]]]
    items: dict[tuple[str, int], dict[int, Row[Any]]]
    assessments: dict[str, list[Row[Any]]]
    inspections: dict[str, list[Row[Any]]]
    _parsed: dict[str, tuple[Any, str]] = field(default_factory=dict)

    def parsed(self, text: str) -> tuple[Any, str]:
        """The JSON value of a stored payload text and the digest of its canonical form."""
        found = self._parsed.get(text)
        if found is None:
            value = json.loads(text)
            found = self._parsed[text] = (value, payload_digest(value))
        return found


def _in_range(column: Any, lo: str | None, hi: str | None) -> ColumnElement[bool]:
    conds: list[ColumnElement[bool]] = []
    if lo is not None:
        conds.append(column > lo)
    if hi is not None:
        conds.append(column <= hi)
    return and_(true(), *conds)


def _as_text(table: Table) -> Select[Any]:
    """Every column, the JSON ``payload`` as its stored text (``payload_text``)."""
    columns = [c for c in table.c if c.name != "payload"]
    return select(*columns, cast(table.c.payload, Text).label("payload_text"))


def load(s: Session, lo: str | None, hi: str | None) -> Batch:
    d, v, g = table_of(Declaration), table_of(DeclarationVersion), table_of(GoodsItem)
    a, i = table_of(RiskAssessment), table_of(InspectionResult)
    batch = Batch({}, defaultdict(dict), defaultdict(dict), defaultdict(list), defaultdict(list))
    for row in s.execute(_as_text(d).where(_in_range(d.c.id, lo, hi))):
        batch.decls[row.id] = row
    for row in s.execute(_as_text(v).where(_in_range(v.c.declaration_id, lo, hi))):
        batch.versions[row.declaration_id][row.version] = row
    for row in s.execute(select(g).where(_in_range(g.c.declaration_id, lo, hi))):
        batch.items[(row.declaration_id, row.version)][row.item_no] = row
    for row in s.execute(select(a).where(_in_range(a.c.declaration_id, lo, hi))):
        batch.assessments[row.declaration_id].append(row)
    for row in s.execute(select(i).where(_in_range(i.c.declaration_id, lo, hi))):
        batch.inspections[row.declaration_id].append(row)
    return batch


def groups(s: Session) -> Iterator[tuple[str, list[Any]]]:
    stmt = (
        select(
            AuditEntry.seq,
            AuditEntry.actor,
            AuditEntry.action,
            AuditEntry.entity_id,
            AuditEntry.payload_digest,
        )
        .where(AuditEntry.entity_type == "declaration")
        .order_by(AuditEntry.entity_id, AuditEntry.seq)
        .execution_options(yield_per=5000)
    )
    current: str | None = None
    entries: list[Any] = []
    for e in s.execute(stmt):
        if e.entity_id != current:
            if current is not None:
                yield current, entries
            current, entries = e.entity_id, []
        entries.append(e)
    if current is not None:
        yield current, entries
