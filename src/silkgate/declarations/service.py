"""Declaration operations: lodge (one or a batch), read, list, amend, cancel, change state."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from silkgate.audit import service as audit
from silkgate.audit.service import AuditEvent
from silkgate.core.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    SilkgateError,
    ValidationFailed,
)
from silkgate.core.platform import Platform
from silkgate.core.signing import canonical_json, sha256_hex
from silkgate.core.validation import parse_json, parse_model
from silkgate.declarations import access
from silkgate.declarations.access import View
from silkgate.declarations.lodging import Lodging, store_group
from silkgate.declarations.models import Declaration, DeclarationVersion, GoodsItem
from silkgate.declarations.rules import check_declaration
from silkgate.declarations.schemas import (
    BatchLineResult,
    BatchReport,
    DeclarationIn,
    DeclarationOut,
    DeclarationStatus,
)
from silkgate.registry.schemas import DECLARANT_ROLES, Role
from silkgate.registry.service import Caller

S = DeclarationStatus
TRANSITIONS: dict[S, frozenset[S]] = {
    S.SUBMITTED: frozenset({S.ACCEPTED, S.REJECTED}),
    # accepted → risk_assessed is the assessor's step (silkgate.risk), not a manual one
    S.ACCEPTED: frozenset({S.AT_BORDER, S.REJECTED}),
    S.RISK_ASSESSED: frozenset({S.AT_BORDER, S.REJECTED}),
    S.AT_BORDER: frozenset({S.RELEASED, S.HELD, S.REJECTED}),
    S.HELD: frozenset({S.RELEASED, S.REJECTED}),
}
BEFORE_ARRIVAL = frozenset({S.SUBMITTED, S.ACCEPTED, S.RISK_ASSESSED})


@cache
def crossing_sides() -> dict[str, tuple[str, ...]]:
    """Crossing code → the two countries it joins, from the shipped reference data."""
    from silkgate.codelists.crossings import load_crossings

    return {c.code: tuple(c.countries) for c in load_crossings()}


def new_declaration_id() -> str:
    """Time-ordered id: 12 hex digits of milliseconds then 10 random hex digits."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(5)}"


@dataclass
class Prepared:
    """A declaration that passed every check, ready to store."""

    body: DeclarationIn
    payload: dict[str, Any]
    digest: str


def prepare(data: bytes | str | dict[str, Any]) -> Prepared:
    """Parse and check one declaration; raises ValidationFailed naming every bad field."""
    body = (
        parse_model(DeclarationIn, data)
        if isinstance(data, dict)
        else parse_json(DeclarationIn, data)
    )
    errors = check_declaration(body, crossing_sides())
    if errors:
        raise ValidationFailed(errors)
    payload = body.model_dump(mode="json", exclude_none=True)
    return Prepared(body, payload, sha256_hex(canonical_json(payload)))


def require_declarant(caller: Caller) -> None:
    if not any(r.value in caller.roles for r in DECLARANT_ROLES):
        raise Forbidden(
            "only brokers, customs-service companies, carriers and e-ports lodge declarations"
        )


def rows_for(
    p: Prepared, caller: Caller, decl_id: str, version: int, now: datetime
) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
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


def create(
    platform: Platform,
    caller: Caller,
    data: bytes | dict[str, Any],
    idempotency_key: str | None = None,
) -> tuple[DeclarationOut, bool]:
    """Lodge one declaration; returns it and whether it was created now (False on a replay)."""
    require_declarant(caller)
    lodging = Lodging(caller, prepare(data), idempotency_key)
    committer = platform.group_committer
    if committer is not None:
        return committer.submit(lodging)
    return store_single(platform, lodging)


def store_single(platform: Platform, lodging: Lodging) -> tuple[DeclarationOut, bool]:
    """Store one lodging in its own transaction, answering a lost race as the winner did."""
    try:
        outcome = store_group(platform, [lodging])[0]
    except IntegrityError:
        # A concurrent transaction committed the same LRN or key; now we can see it.
        outcome = store_group(platform, [lodging])[0]
    if isinstance(outcome, SilkgateError):
        raise outcome
    return outcome


def duplicate_lrn(lrn: str) -> Conflict:
    return Conflict(
        f"LRN {lrn} is already used by this declarant",
        [FieldError("/lrn", "duplicate", "LRN already used by this declarant")],
    )


def create_batch(
    platform: Platform, caller: Caller, lines: Iterable[bytes | str | dict[str, Any]]
) -> BatchReport:
    """Lodge many declarations; each line is accepted or rejected on its own."""
    require_declarant(caller)
    results: list[BatchLineResult] = []
    ready: list[tuple[int, Prepared]] = []
    seen: set[str] = set()
    for n, line in enumerate(lines, start=1):
        if isinstance(line, (bytes, str)) and not line.strip():
            continue
        try:
            p = prepare(line)
        except SilkgateError as exc:
            results.append(
                BatchLineResult(
                    line=n,
                    lrn=_lrn_of(line),
                    outcome="rejected",
                    errors=[e.as_dict() for e in exc.errors],
                )
            )
            continue
        if p.body.lrn in seen:
            results.append(
                BatchLineResult(
                    line=n,
                    lrn=p.body.lrn,
                    outcome="rejected",
                    errors=[
                        FieldError(
                            "/lrn", "duplicate", "LRN repeated earlier in this batch"
                        ).as_dict()
                    ],
                )
            )
            continue
        seen.add(p.body.lrn)
        ready.append((n, p))
    results += _store_batch(platform, caller, ready)
    results.sort(key=lambda r: r.line)
    accepted = sum(1 for r in results if r.outcome == "accepted")
    return BatchReport(accepted=accepted, rejected=len(results) - accepted, lines=results)


def _lrn_of(line: Any) -> str | None:
    if isinstance(line, dict):
        v = line.get("lrn")
        return v if isinstance(v, str) else None
    return None


def _store_batch(
    platform: Platform, caller: Caller, ready: list[tuple[int, Prepared]]
) -> list[BatchLineResult]:
    if not ready:
        return []
    group = [Lodging(caller, p) for _, p in ready]
    try:
        outcomes: list[Any] = store_group(platform, group)
    except IntegrityError:
        outcomes = []
        for lodging in group:
            try:
                outcomes.append(store_single(platform, lodging))
            except SilkgateError as exc:
                outcomes.append(exc)
    out = []
    for (n, p), outcome in zip(ready, outcomes, strict=True):
        if isinstance(outcome, SilkgateError):
            out.append(
                BatchLineResult(
                    line=n,
                    lrn=p.body.lrn,
                    outcome="rejected",
                    errors=[e.as_dict() for e in outcome.errors],
                )
            )
        else:
            out.append(
                BatchLineResult(line=n, lrn=p.body.lrn, outcome="accepted", id=outcome[0].id)
            )
    return out


def load_visible(s: Session, caller: Caller, decl_id: str) -> tuple[Declaration, View]:
    decl = s.get(Declaration, decl_id)
    view = access.view_of(caller, decl) if decl is not None else View.NONE
    if decl is None or view is View.NONE:
        raise NotFound(f"declaration {decl_id}")
    return decl, view


def view_out(platform: Platform, caller: Caller, d: Declaration, view: View) -> DeclarationOut:
    """A stored declaration as ``caller`` may see it (pre-arrival: no driver, no lane)."""
    out = out_from_row({c: getattr(d, c) for c in _OUT_COLUMNS})
    if view is View.PRE_ARRIVAL:
        out.pre_arrival = True
        # The lane is the lodging side's control decision: not part of pre-arrival information.
        out.lane = None
        out.data = access.redact(d.payload, platform.settings.share_driver_data_across_border)
    return out


_OUT_COLUMNS = (
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


def amend(
    platform: Platform, caller: Caller, decl_id: str, data: bytes | dict[str, Any]
) -> DeclarationOut:
    """Store a new numbered version; earlier versions stay as they were."""
    p = prepare(data)
    now = datetime.now(UTC)
    auto = platform.settings.auto_accept
    with platform.db.session() as s:
        decl, _ = load_visible(s, caller, decl_id)
        if decl.declarant_org_id != caller.id:
            raise Forbidden("only the declarant may amend a declaration")
        if p.body.lrn != decl.lrn:
            raise ValidationFailed(
                [FieldError("/lrn", "immutable", f"the LRN of this declaration is {decl.lrn}")]
            )
        if S(decl.status) not in BEFORE_ARRIVAL:
            raise Conflict(
                f"a declaration in state {decl.status} cannot be amended",
                [FieldError(None, "wrong_state", f"the declaration is {decl.status}")],
            )
        version = decl.version + 1
        d, v, items = rows_for(p, caller, decl_id, version, now)
        for key in (
            "version",
            "crossing_code",
            "exit_country",
            "entry_country",
            "type",
            "item_count",
            "total_gross_kg",
            "total_invoice_value",
            "currency",
            "payload",
        ):
            setattr(decl, key, d[key])
        decl.status = S.ACCEPTED.value if auto else S.SUBMITTED.value
        decl.lane = None
        decl.updated_at = now
        s.add(DeclarationVersion(**v))
        s.execute(insert(GoodsItem), items)
        audit.append(
            s, platform.signer, lodging_events(caller, decl_id, p, "declaration.amended", auto)
        )
        return view_out(platform, caller, decl, View.FULL)


def cancel(platform: Platform, caller: Caller, decl_id: str, reason: str) -> DeclarationOut:
    """The declarant withdraws a declaration before the truck reaches the border."""
    with platform.db.session() as s:
        decl, _ = load_visible(s, caller, decl_id)
        if decl.declarant_org_id != caller.id:
            raise Forbidden("only the declarant may cancel a declaration")
        if S(decl.status) not in BEFORE_ARRIVAL:
            raise Conflict(
                f"a declaration in state {decl.status} can no longer be cancelled",
                [FieldError(None, "wrong_state", f"the declaration is {decl.status}")],
            )
        return _move(platform, s, caller, decl, S.CANCELLED, reason)


def transition(
    platform: Platform, caller: Caller, decl_id: str, to: S, reason: str | None
) -> DeclarationOut:
    """A customs organization of the crossing moves a declaration along its lifecycle."""
    with platform.db.session() as s:
        decl, _view = load_visible(s, caller, decl_id)
        if not caller.has(Role.CUSTOMS) or decl.crossing_code not in caller.crossings:
            raise Forbidden("only customs of this crossing change a declaration's state")
        allowed = TRANSITIONS.get(S(decl.status), frozenset())
        if to not in allowed:
            names = ", ".join(sorted(a.value for a in allowed)) or "none"
            raise Conflict(
                f"cannot go from {decl.status} to {to.value} (allowed: {names})",
                [FieldError("/to", "wrong_state", f"not allowed from {decl.status}")],
            )
        return _move(platform, s, caller, decl, to, reason)


def _move(
    platform: Platform, s: Session, caller: Caller, decl: Declaration, to: S, reason: str | None
) -> DeclarationOut:
    before = decl.status
    decl.status = to.value
    decl.updated_at = datetime.now(UTC)
    audit.append(
        s,
        platform.signer,
        [
            AuditEvent(
                caller.member_id,
                f"declaration.{to.value}",
                "declaration",
                decl.id,
                {"from": before, "to": to.value, "reason": reason},
            )
        ],
    )
    return view_out(platform, caller, decl, access.view_of(caller, decl))
