"""Category subscriptions under an agreement: their checks, and each subscription's delivery state.

A consumer subscribes to data categories of an agreement it is a consumer of, for one of the
agreement's purposes, processing the data at one of its places. The checks name the field at
fault (422); an agreement the caller is not a consumer of is refused as if it did not exist.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from silkgate.core.errors import FieldError, NotFound, ValidationFailed
from silkgate.core.platform import Platform
from silkgate.exchange.agreements.catalogue import Category, spec
from silkgate.exchange.agreements.policy import Rule, for_caller
from silkgate.exchange.agreements.service import active_rules
from silkgate.exchange.models import Delivery, OutboxMessage, Subscription
from silkgate.exchange.schemas import DeliveryStatus, SubscriptionIn, SubscriptionStatus
from silkgate.exchange.service import sub_out
from silkgate.registry.service import Caller

D = DeliveryStatus
#: Categories a subscription may name: those a fact is published for (``publish``).
DELIVERED = frozenset(
    {
        Category.DECLARATION,
        Category.PRE_ARRIVAL,
        Category.RISK_LANE,
        Category.RISK_SCORE,
        Category.INSPECTION_RESULT,
        Category.BOOKING,
        Category.GATE_EVENTS,
    }
)


def check_kind(body: SubscriptionIn) -> None:
    """Raw topics or categories under an agreement, not a mixture (422 naming the field)."""
    errors = []
    if body.agreement_id is None:
        for name in ("categories", "purpose", "place"):
            if getattr(body, name) is not None:
                errors.append(FieldError(f"/{name}", "needs_agreement", "needs agreement_id"))
    else:
        if body.topics is not None:
            errors.append(
                FieldError("/topics", "excluded", "name categories, not topics, with agreement_id")
            )
        if not body.categories:
            errors.append(FieldError("/categories", "required", "required with agreement_id"))
        if body.purpose is None:
            errors.append(FieldError("/purpose", "required", "required with agreement_id"))
    if errors:
        raise ValidationFailed(errors)


def agreement_rules(s: Session, caller: Caller, agreement_id: str) -> list[Rule]:
    """The active versions of ``agreement_id`` that name the caller (or its state's customs)."""
    return [r for r in for_caller(caller, active_rules(s)) if r.agreement_id == agreement_id]


def check_terms(s: Session, caller: Caller, body: SubscriptionIn, now: datetime) -> str:
    """Check a category subscription against its agreement; the place it processes at."""
    assert body.agreement_id is not None and body.categories and body.purpose is not None
    rules = [
        r
        for r in agreement_rules(s, caller, body.agreement_id)
        if r.valid_from <= now and (r.valid_until is None or now < r.valid_until)
    ]
    if not rules:
        raise ValidationFailed(
            [
                FieldError(
                    "/agreement_id",
                    "not_consumer",
                    f"no agreement {body.agreement_id} in force names you as a consumer",
                )
            ]
        )
    errors = []
    for i, c in enumerate(body.categories):
        if c not in DELIVERED:
            errors.append(FieldError(f"/categories/{i}", "not_delivered", f"{c} is not delivered"))
        elif not any(r.category in spec(c).scope for r in rules):
            names = ", ".join(sorted({r.category.value for r in rules}))
            errors.append(
                FieldError(
                    f"/categories/{i}",
                    "not_in_agreement",
                    f"the agreement covers {names}, not {c.value}",
                )
            )
    purposes = sorted({p for r in rules for p in r.purposes})
    if body.purpose.value not in purposes:
        errors.append(
            FieldError("/purpose", "not_allowed", f"the agreement allows {', '.join(purposes)}")
        )
    place = body.place or caller.country
    places = sorted({p for r in rules for p in r.places})
    if place not in places:
        errors.append(
            FieldError(
                "/place",
                "not_allowed",
                f"the agreement allows processing in {', '.join(places)}"
                + ("" if body.place else f" (default {place}: your country)"),
            )
        )
    if errors:
        raise ValidationFailed(errors)
    return place


def _topic_in(categories: list[str] | None) -> list[ColumnElement[bool]]:
    return [OutboxMessage.topic.like(f"{c}.%") for c in categories or []]


def status(platform: Platform, caller: Caller, sub_id: int) -> SubscriptionStatus:
    """Lag, counts, last error and last success of one of the caller's subscriptions."""
    now = platform.clock()
    with platform.db.session() as s:
        sub = s.get(Subscription, sub_id)
        if sub is None or sub.organization_id != caller.id:
            raise NotFound(f"subscription {sub_id}")
        if not sub.url:
            return _pull_status(s, sub, now)
        pending = Delivery.status == D.PENDING.value
        row = s.execute(
            select(
                func.count().filter(pending),
                func.min(Delivery.created_at).filter(pending),
                func.count().filter(Delivery.status == D.DELIVERED.value),
                func.coalesce(
                    func.sum(
                        Delivery.attempts - case((Delivery.status == D.DELIVERED.value, 1), else_=0)
                    ),
                    0,
                ),
                func.count().filter(pending, Delivery.last_error.is_not(None)),
                func.count().filter(Delivery.status == D.DEAD.value),
                func.max(Delivery.delivered_at),
            ).where(Delivery.subscription_id == sub.id)
        ).one()
        last_error = s.scalar(
            select(Delivery.last_error)
            .where(Delivery.subscription_id == sub.id, Delivery.last_error.is_not(None))
            .order_by(Delivery.id.desc())
            .limit(1)
        )
        oldest = _utc(row[1])
        return SubscriptionStatus(
            subscription=sub_out(sub),
            as_of=now,
            undelivered=row[0],
            oldest_undelivered_at=oldest,
            lag_seconds=(now - oldest).total_seconds() if oldest else None,
            delivered=row[2],
            failures=int(row[3]),
            failing=row[4],
            dead=row[5],
            last_error=last_error,
            last_success_at=_utc(row[6]),
        )


def _pull_status(s: Session, sub: Subscription, now: datetime) -> SubscriptionStatus:
    from sqlalchemy import or_

    from silkgate.exchange.publish import in_force_ids

    mine = [OutboxMessage.organization_id == sub.organization_id]
    after: ColumnElement[bool] = OutboxMessage.id > sub.feed_seq
    if sub.agreement_id is not None:
        mine += [OutboxMessage.agreement_id == sub.agreement_id, or_(*_topic_in(sub.categories))]
        # what the feed will no longer serve is not waiting (an ended agreement: no lag)
        after = and_(after, OutboxMessage.agreement_id.in_(in_force_ids(now)))
    row = s.execute(
        select(
            func.count().filter(after),
            func.min(OutboxMessage.created_at).filter(after),
            func.count().filter(OutboxMessage.id <= sub.feed_seq),
        ).where(*mine)
    ).one()
    oldest = _utc(row[1])
    return SubscriptionStatus(
        subscription=sub_out(sub),
        as_of=now,
        undelivered=row[0],
        oldest_undelivered_at=oldest,
        lag_seconds=(now - oldest).total_seconds() if oldest else None,
        delivered=row[2],
        failures=0,
        failing=0,
        dead=0,
        last_error=None,
        last_success_at=_utc(sub.feed_acked_at),
        position=sub.feed_seq,
    )


def _utc(value: datetime | None) -> datetime | None:
    from datetime import UTC

    if value is not None and value.tzinfo is None:  # SQLite returns naive UTC
        return value.replace(tzinfo=UTC)
    return value
