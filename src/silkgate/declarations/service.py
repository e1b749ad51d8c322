"""Declaration operations: lodge (one or a batch), read, list, amend, cancel, change state."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, insert, select
from sqlalchemy.orm import Session

from silkgate.audit import service as audit
from silkgate.audit.service import AuditEvent
from silkgate.core.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InternalError,
    NotFound,
    SilkgateError,
    Unavailable,
    ValidationFailed,
)
from silkgate.core.platform import Platform
from silkgate.core.signing import canonical_json, sha256_hex
from silkgate.core.validation import parse_json, parse_model
from silkgate.core.writes import current_person, current_write
from silkgate.declarations import access
from silkgate.declarations.access import View
from silkgate.declarations.lodging import (
    OUT_COLUMNS,
    Lodging,
    Prepared,
    lodging_events,
    out_from_row,
    rows_for,
    store_isolated,
    store_single,
)
from silkgate.declarations.models import Declaration, DeclarationVersion, GoodsItem
from silkgate.declarations.rules import check_declaration
from silkgate.declarations.schemas import (
    BatchLineResult,
    BatchReport,
    DeclarationIn,
    DeclarationOut,
    DeclarationStatus,
    DeclarationView,
    SharedDeclaration,
)
from silkgate.exchange.agreements.catalogue import Category, Purpose
from silkgate.exchange.agreements.enforce import DISCLOSING, Asking, Point
from silkgate.exchange.agreements.fields import filter_document
from silkgate.exchange.agreements.policy import Decision, Record
from silkgate.exchange.agreements.records import declaration_record
from silkgate.exchange.agreements.service import active_set
from silkgate.registry.schemas import DECLARANT_ROLES, Role
from silkgate.registry.service import Caller

log = logging.getLogger("silkgate.declarations")
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
        lodging.write = current_write()  # the committer's thread does not see the request
        lodging.person = current_person()
        return committer.submit(lodging)
    return store_single(platform, lodging)


async def lodge(
    platform: Platform, caller: Caller, data: bytes, idempotency_key: str | None
) -> tuple[DeclarationOut, bool]:
    """``create`` for the event loop: parse inline, store through the group committer.

    Waiting on the committer's future instead of a worker thread saves a thread hop per request.
    """
    import asyncio

    from starlette.concurrency import run_in_threadpool

    committer = platform.group_committer
    if committer is None:
        return await run_in_threadpool(create, platform, caller, data, idempotency_key)
    require_declarant(caller)
    lodging = Lodging(caller, prepare(data), idempotency_key, current_write(), current_person())
    return await asyncio.wrap_future(committer.enqueue(lodging))


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
            results.append(_rejected(n, _lrn_of(line), exc))
            continue
        except RecursionError:
            too_deep = FieldError("", "too_deep", "the JSON is nested too deeply to read")
            results.append(_rejected(n, _lrn_of(line), ValidationFailed([too_deep])))
            continue
        except Exception:  # one unreadable line must not sink the batch
            log.exception("batch line %d could not be checked", n)
            results.append(_rejected(n, _lrn_of(line), InternalError()))
            continue
        if p.body.lrn in seen:
            repeated = FieldError("/lrn", "duplicate", "LRN repeated earlier in this batch")
            results.append(_rejected(n, p.body.lrn, ValidationFailed([repeated])))
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
    outcomes = store_isolated(platform, [Lodging(caller, p) for _, p in ready])
    busy = [o for o in outcomes if isinstance(o, Unavailable)]
    if busy and len(busy) == len(outcomes):
        raise busy[0]  # nothing stored: the whole batch can be sent again
    out = []
    for (n, p), outcome in zip(ready, outcomes, strict=True):
        if isinstance(outcome, SilkgateError):
            out.append(_rejected(n, p.body.lrn, outcome))
        else:
            out.append(
                BatchLineResult(line=n, lrn=p.body.lrn, outcome="accepted", id=outcome[0].id)
            )
    return out


def _rejected(n: int, lrn: str | None, exc: SilkgateError) -> BatchLineResult:
    """A rejected line; an error without field errors is reported against the whole line."""
    errors = exc.errors or [FieldError("", exc.type_slug, exc.detail or exc.title)]
    return BatchLineResult(
        line=n, lrn=lrn, outcome="rejected", errors=[e.as_dict() for e in errors]
    )


def as_asking(who: Caller | Asking) -> Asking:
    """A bare caller reads with no purpose declared, processing in its own country."""
    return who if isinstance(who, Asking) else Asking(who)


def full_document(d: Declaration, pre_arrival: bool = False) -> dict[str, Any]:
    """Every field of ``DeclarationOut`` for a row (values as stored): what a decision filters."""
    return {
        "id": d.id,
        "lrn": d.lrn,
        "version": d.version,
        "status": d.status,
        "type": d.type,
        "declarant": d.declarant,
        "crossing": d.crossing_code,
        "exit_country": d.exit_country,
        "entry_country": d.entry_country,
        "submitted_at": d.submitted_at,
        "updated_at": d.updated_at,
        "pre_arrival": pre_arrival,
        "lane": d.lane,
        "data": d.payload,
    }


def shown(d: Declaration, decision: Decision) -> DeclarationView:
    """The declaration as ``decision`` allows: whole, or only the allowed pointers."""
    return _shown(d, decision)[0]


def _shown(d: Declaration, decision: Decision) -> tuple[DeclarationView, dict[str, Any] | None]:
    if decision.full:
        return out_from_row({c: getattr(d, c) for c in OUT_COLUMNS}), None
    pre = Category.PRE_ARRIVAL in decision.categories
    doc = filter_document(full_document(d, pre), decision.fields)
    return SharedDeclaration.model_validate(doc), doc


@cache
def _with_agreements() -> Select[Any]:
    """One declaration by id with the active agreements of its category (built once: building
    and keying a statement per read costs more than running it)."""
    return select(Declaration, active_set(Category.DECLARATION)).where(
        Declaration.id == bindparam("decl_id")
    )


def read_decided(point: Point, s: Session, decl_id: str) -> tuple[Declaration, Record, Decision]:
    """A declaration through the policy decision point: 404 when nothing of it is allowed,
    400 when a purpose would have allowed some."""
    # the agreements a decision may need, in the same round trip as the declaration
    found = s.execute(_with_agreements(), {"decl_id": decl_id}).first()
    if found is None:
        raise NotFound(f"declaration {decl_id}")
    d, active = found
    point.prime(Category.DECLARATION, active)
    record = declaration_record(d)
    return d, record, point.require(record, f"declaration {decl_id}")


def answer(point: Point, d: Declaration, record: Record, decision: Decision) -> DeclarationView:
    """``shown`` and the disclosure it makes (collected on ``point``; written by its flush)."""
    out, doc = _shown(d, decision)
    if decision.basis in DISCLOSING:
        point.disclose(record, d.id, decision, doc)
    return out


def load_visible(s: Session, caller: Caller, decl_id: str) -> tuple[Declaration, View]:
    decl = s.get(Declaration, decl_id)
    view = access.view_of(caller, decl) if decl is not None else View.NONE
    if decl is None or view is View.NONE:
        raise NotFound(f"declaration {decl_id}")
    return decl, view


def view_out(platform: Platform, caller: Caller, d: Declaration, view: View) -> DeclarationOut:
    """A stored declaration in today's hard-coded view (pre-arrival: no driver, no lane).

    Kept for the signed receipts and for bench/exchange.py, which compares the reads through
    the policy decision point with this view."""
    out = out_from_row({c: getattr(d, c) for c in OUT_COLUMNS})
    if view is View.PRE_ARRIVAL:
        out.pre_arrival = True
        # The lane is the lodging side's control decision: not part of pre-arrival information.
        out.lane = None
        out.data = access.redact(d.payload, platform.settings.share_driver_data_across_border)
    return out


def amend(
    platform: Platform,
    caller: Caller,
    decl_id: str,
    data: bytes | dict[str, Any],
    expected_version: int | None = None,
) -> DeclarationOut:
    """Store a new numbered version; earlier versions stay as they were. The row is locked
    while the version is numbered; ``expected_version``: refuse (409) if the declaration has
    been amended since the caller read that version."""
    p = prepare(data)
    now = platform.clock()
    auto = platform.settings.auto_accept
    with platform.db.session() as s:
        decl, _ = load_visible(s, caller, decl_id)
        if decl.declarant_org_id != caller.id:
            raise Forbidden("only the declarant may amend a declaration")
        s.execute(select(Declaration.id).where(Declaration.id == decl.id).with_for_update())
        s.refresh(decl)
        if expected_version is not None and decl.version != expected_version:
            raise Conflict(
                f"the declaration is at version {decl.version}, not {expected_version}",
                [FieldError("/version", "changed", f"now version {decl.version}")],
            )
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
        events = lodging_events(caller, decl_id, p, "declaration.amended", auto)
        audit.append(s, platform.signer, events + _published(s, platform, decl, now))
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
        _move(platform, s, caller, decl, S.CANCELLED, reason)
        return view_out(platform, caller, decl, View.FULL)


def transition(
    platform: Platform, who: Caller | Asking, decl_id: str, to: S, reason: str | None
) -> DeclarationView:
    """The customs the declaration is lodged with moves it along its lifecycle.

    The declaration is read through the policy decision point for the declared purpose, by
    default customs control (what a transition is): 404 for whoever may not read it. Only the
    lodging customs (decision basis ``authority``: its state, a crossing it serves) may change
    the state; the declarant (who cancels instead) and the other side's customs reading
    pre-arrival information get 403. The answer carries what the decision allows."""
    asking = as_asking(who)
    if asking.purpose is None:
        asking = Asking(asking.caller, Purpose.CUSTOMS_CONTROL.value, asking.place)
    caller = asking.caller
    with platform.db.session() as s:
        point = Point(platform, s, asking, read_only=False)  # a state change: durable commit
        decl, _, decision = read_decided(point, s, decl_id)
        if decision.basis != "authority" or not caller.has(Role.CUSTOMS):
            raise Forbidden(
                f"only the customs this declaration is lodged with ({access.lodged_with(decl)}, "
                f"at {decl.crossing_code}) change its state"
            )
        allowed = TRANSITIONS.get(S(decl.status), frozenset())
        if to not in allowed:
            names = ", ".join(sorted(a.value for a in allowed)) or "none"
            raise Conflict(
                f"cannot go from {decl.status} to {to.value} (allowed: {names})",
                [FieldError("/to", "wrong_state", f"not allowed from {decl.status}")],
            )
        _move(platform, s, caller, decl, to, reason)
        after = declaration_record(decl)  # a condition may read the new status
        out = answer(point, decl, after, point.decide(after))
        point.flush()
        return out


def _move(
    platform: Platform, s: Session, caller: Caller, decl: Declaration, to: S, reason: str | None
) -> None:
    before = decl.status
    decl.status = to.value
    decl.updated_at = now = platform.clock()
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
            ),
            *_published(s, platform, decl, now),
        ],
    )


def _published(
    s: Session, platform: Platform, decl: Declaration, now: datetime
) -> list[AuditEvent]:
    """Outbox messages of a declaration's new state for its category subscribers."""
    from silkgate.exchange import publish as pub

    if not pub.wanted(s, *pub.DECLARATION_CATEGORIES):
        return []
    doc = out_from_row({c: getattr(decl, c) for c in OUT_COLUMNS}).model_dump(mode="json")
    return pub.publish(s, platform, [pub.declaration_fact(decl, doc)], "platform", now)
