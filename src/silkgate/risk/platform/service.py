"""A declaration's risk side: its assessment, a lane override and the inspection results.

Overrides and inspection records are for customs of the side the declaration is lodged with.
Reads go through the policy decision point: the lodging customs read everything; others —
the declarant, the other side's customs — only what a ``risk_lane``, ``risk_score`` or
``inspection_result`` agreement allows for their declared purpose (none is shipped), and 404
otherwise, so the existence of an assessment or an inspection is not disclosed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from silkgate.audit import service as audit
from silkgate.audit.service import AuditEvent
from silkgate.codelists.currencies import is_currency
from silkgate.core.errors import Conflict, FieldError, NotFound, ValidationFailed, pointer
from silkgate.core.platform import Platform
from silkgate.declarations.models import Declaration
from silkgate.declarations.schemas import DeclarationStatus as S
from silkgate.declarations.service import as_asking, load_visible
from silkgate.exchange import publish as pub
from silkgate.exchange.agreements.catalogue import Category
from silkgate.exchange.agreements.enforce import Asking, Point, PurposeRequired
from silkgate.exchange.agreements.fields import filter_document
from silkgate.exchange.agreements.policy import Decision, Record
from silkgate.exchange.agreements.records import risk_record
from silkgate.registry.service import Caller
from silkgate.risk.platform.models import InspectionResult, RiskAssessment
from silkgate.risk.platform.offices import is_lodging_customs, lodging_office
from silkgate.risk.platform.schemas import (
    AssessmentOut,
    ContributionOut,
    Duties,
    Finding,
    FiredOut,
    InspectionIn,
    InspectionOut,
    LaneOverrideIn,
    LaneOverrideOut,
    SharedAssessment,
    SharedInspection,
)
from silkgate.risk.selectivity.schemas import Lane

#: States in which a lane still matters and may be overridden.
OVERRIDABLE = frozenset({S.RISK_ASSESSED, S.AT_BORDER, S.HELD})
#: States in which no inspection can have happened yet, or never will.
NOT_INSPECTABLE = frozenset({S.SUBMITTED, S.CANCELLED})


def _declaration(s: Session, caller: Caller, decl_id: str, what: str) -> Declaration:
    decl, view = load_visible(s, caller, decl_id)
    if not is_lodging_customs(caller, decl, view):
        raise NotFound(f"{what} of declaration {decl_id}")
    return decl


def _assessment(s: Session, decl: Declaration, lock: bool = False) -> RiskAssessment | None:
    stmt = select(RiskAssessment).where(
        RiskAssessment.declaration_id == decl.id, RiskAssessment.version == decl.version
    )
    if lock:
        stmt = stmt.with_for_update()
    return s.scalars(stmt).first()


def assessment_out(a: RiskAssessment) -> AssessmentOut:
    override = None
    if a.override_lane is not None:
        assert a.override_reason is not None and a.overridden_by is not None
        assert a.overridden_at is not None
        override = LaneOverrideOut(
            lane=Lane(a.override_lane),
            reason=a.override_reason,
            by=a.overridden_by,
            at=a.overridden_at,
        )
    return AssessmentOut(
        declaration_id=a.declaration_id,
        version=a.version,
        office=a.office,
        direction=a.direction,
        lane=Lane(a.override_lane or a.lane),
        assessed_lane=Lane(a.lane),
        source=a.source,
        score=a.score,
        model_id=a.model_id,
        profile_version=a.profile_version,
        fired=[FiredOut.model_validate(f) for f in a.fired],
        explanation=[ContributionOut.model_validate(c) for c in a.explanation],
        reasons=list(a.reasons),
        assessed_at=a.assessed_at,
        override=override,
    )


def _decided(
    point: Point, s: Session, decl_id: str, what: str, categories: tuple[Category, ...]
) -> tuple[Declaration, list[tuple[Record, Decision]]]:
    """The declaration and the decision for each of its risk categories; 404 (400 for want of
    a purpose) when none allows anything."""
    d = s.get(Declaration, decl_id)
    if d is None:
        raise NotFound(f"{what} of declaration {decl_id}")
    decided = [(r, point.decide(r)) for r in (risk_record(d, c) for c in categories)]
    if not any(dec.allowed for _, dec in decided):
        purposes = [p for r, _ in decided for p in point.missing_purpose(r)]
        if purposes:
            raise PurposeRequired(purposes)
        raise NotFound(f"{what} of declaration {decl_id}")
    return d, decided


def _shared(
    point: Point, d: Declaration, decided: list[tuple[Record, Decision]], doc: dict[str, Any]
) -> dict[str, Any] | None:
    """None for the lodging customs (the whole document); else the allowed parts, disclosed."""
    if any(dec.full for _, dec in decided):
        return None
    allowed = frozenset().union(*(dec.fields for _, dec in decided))
    for record, dec in decided:
        point.disclose(record, d.id, dec)
    point.flush()
    return filter_document(doc, allowed)


def get_assessment(
    platform: Platform, who: Caller | Asking, decl_id: str
) -> AssessmentOut | SharedAssessment:
    """The assessment of the declaration's current version (404 until it is assessed): whole
    for the lodging customs, else the lane and score fields agreements allow."""
    cats = (Category.RISK_LANE, Category.RISK_SCORE)
    with platform.db.session() as s:
        point = Point(platform, s, as_asking(who))
        decl, decided = _decided(point, s, decl_id, "risk assessment", cats)
        found = _assessment(s, decl)
        if found is None:
            raise NotFound(f"risk assessment of declaration {decl_id} version {decl.version}")
        out = assessment_out(found)
        shown = _shared(point, decl, decided, out.model_dump(mode="json"))
        return out if shown is None else SharedAssessment.model_validate(shown)


def override_lane(
    platform: Platform, caller: Caller, decl_id: str, body: LaneOverrideIn
) -> AssessmentOut:
    """Customs of the lodging side put the declaration in another lane, with a reason."""
    with platform.db.session() as s:
        decl = _declaration(s, caller, decl_id, "risk assessment")
        if S(decl.status) not in OVERRIDABLE:
            raise Conflict(
                f"the lane of a declaration in state {decl.status} cannot be changed",
                [FieldError(None, "wrong_state", f"the declaration is {decl.status}")],
            )
        found = _assessment(s, decl, lock=True)
        if found is None:
            raise Conflict(
                f"version {decl.version} of declaration {decl_id} has not been assessed",
                [FieldError("/lane", "not_assessed", "no assessment to override yet")],
            )
        before = found.override_lane or found.lane
        now = platform.clock()
        found.override_lane = body.lane.value
        found.override_reason = body.reason
        found.overridden_by = caller.member_id
        found.overridden_at = now
        decl.lane = body.lane.value
        decl.updated_at = now
        audit.append(
            s,
            platform.signer,
            [
                AuditEvent(
                    caller.member_id,
                    "declaration.lane_overridden",
                    "declaration",
                    decl.id,
                    {
                        "version": decl.version,
                        "from": before,
                        "to": body.lane.value,
                        "assessed_lane": found.lane,
                        "reason": body.reason,
                    },
                ),
                *_published(
                    s,
                    platform,
                    pub.RISK_CATEGORIES,
                    lambda: pub.risk_fact(
                        decl,
                        assessment_out(found).model_dump(mode="json"),
                        f":override@{int(now.timestamp())}",
                    ),
                    caller.member_id,
                    now,
                ),
            ],
        )
        return assessment_out(found)


def _published(
    s: Session,
    platform: Platform,
    categories: tuple[Category, ...],
    fact: Callable[[], pub.Fact],
    actor: str,
    now: datetime,
) -> list[AuditEvent]:
    """Outbox messages of one fact for its category subscribers (built only if any)."""
    if not pub.wanted(s, *categories):
        return []
    return pub.publish(s, platform, [fact()], actor, now)


def _inspection_errors(body: InspectionIn, item_count: int) -> list[FieldError]:
    errors: list[FieldError] = []
    if body.outcome == "discrepancy" and not body.findings:
        errors.append(FieldError("/findings", "required", "say what was found"))
    if body.outcome == "no_discrepancy":
        if body.findings:
            errors.append(
                FieldError("/findings", "not_allowed", "no findings without a discrepancy")
            )
        if body.additional_duties is not None and body.additional_duties.amount > 0:
            errors.append(
                FieldError(
                    "/additional_duties/amount",
                    "not_allowed",
                    "no additional duties without a discrepancy",
                )
            )
    for i, f in enumerate(body.findings):
        if f.item is not None and f.item > item_count:
            errors.append(
                FieldError(
                    pointer("findings", i, "item"),
                    "unknown_item",
                    f"the declaration has {item_count} goods item(s)",
                )
            )
    duties = body.additional_duties
    if duties is not None and not is_currency(duties.currency):
        errors.append(
            FieldError("/additional_duties/currency", "unknown_currency", "not an ISO 4217 code")
        )
    return errors


def _inspection_out(r: InspectionResult) -> InspectionOut:
    duties = None
    if r.duties_amount is not None and r.duties_currency is not None:
        duties = Duties(amount=r.duties_amount, currency=r.duties_currency)
    return InspectionOut(
        declaration_id=r.declaration_id,
        version=r.version,
        office=r.office,
        outcome=r.outcome,
        findings=[Finding.model_validate(f) for f in r.findings],
        additional_duties=duties,
        note=r.note,
        recorded_at=r.recorded_at,
        recorded_by=r.recorded_by,
    )


def inspection_payload(r: InspectionResult | dict[str, Any]) -> dict[str, Any]:
    """What the ``inspection.recorded`` audit entry's digest covers."""
    get = r.get if isinstance(r, dict) else lambda k: getattr(r, k)
    keys = ("version", "office", "outcome", "findings", "duties_amount", "duties_currency", "note")
    return {k: get(k) for k in keys}


def record_inspection(
    platform: Platform, caller: Caller, decl_id: str, body: InspectionIn
) -> InspectionOut:
    """Store the outcome of inspecting the declaration's current version; audited, once."""
    with platform.db.session() as s:
        decl = _declaration(s, caller, decl_id, "inspection")
        if S(decl.status) in NOT_INSPECTABLE:
            raise Conflict(
                f"a declaration in state {decl.status} cannot have an inspection result",
                [FieldError(None, "wrong_state", f"the declaration is {decl.status}")],
            )
        errors = _inspection_errors(body, decl.item_count)
        if errors:
            raise ValidationFailed(errors)
        exists = s.scalar(
            select(InspectionResult.id).where(
                InspectionResult.declaration_id == decl.id,
                InspectionResult.version == decl.version,
            )
        )
        if exists is not None:
            raise Conflict(
                f"an inspection result for version {decl.version} is already recorded",
                [FieldError("/outcome", "duplicate", "recorded already")],
            )
        duties = body.additional_duties
        row = InspectionResult(
            declaration_id=decl.id,
            version=decl.version,
            office=lodging_office(decl),
            outcome=body.outcome,
            findings=[f.model_dump(mode="json") for f in body.findings],
            duties_amount=duties.amount if duties else None,
            duties_currency=duties.currency if duties else None,
            note=body.note or None,
            recorded_at=platform.clock(),
            recorded_by=caller.member_id,
        )
        s.add(row)
        s.flush()
        audit.append(
            s,
            platform.signer,
            [
                AuditEvent(
                    caller.member_id,
                    "inspection.recorded",
                    "declaration",
                    decl.id,
                    inspection_payload(row),
                ),
                *_published(
                    s,
                    platform,
                    (Category.INSPECTION_RESULT,),
                    lambda: pub.inspection_fact(decl, _inspection_out(row).model_dump(mode="json")),
                    caller.member_id,
                    row.recorded_at,
                ),
            ],
        )
        return _inspection_out(row)


def get_inspection(
    platform: Platform, who: Caller | Asking, decl_id: str
) -> InspectionOut | SharedInspection:
    """The inspection result of the current version (404 if none is recorded): whole for the
    lodging customs, else the fields an ``inspection_result`` agreement allows."""
    with platform.db.session() as s:
        point = Point(platform, s, as_asking(who))
        decl, decided = _decided(point, s, decl_id, "inspection", (Category.INSPECTION_RESULT,))
        row = s.scalars(
            select(InspectionResult).where(
                InspectionResult.declaration_id == decl.id,
                InspectionResult.version == decl.version,
            )
        ).first()
        if row is None:
            raise NotFound(f"inspection of declaration {decl_id} version {decl.version}")
        out = _inspection_out(row)
        shown = _shared(point, decl, decided, out.model_dump(mode="json"))
        return out if shown is None else SharedInspection.model_validate(shown)
