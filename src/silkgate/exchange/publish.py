"""Publishing facts to the subscribers of data categories, in the fact's own transaction.

A write path describes what happened as a ``Fact`` and calls ``publish`` inside its
transaction, before its audit append, adding the returned events to its own. For each active
category subscription naming a category of the fact, the record is decided exactly as a read
(``policy.decide``) for the subscriber, the subscription's purpose and place, against the
active versions of the subscription's agreement only; when that agreement allows something, an
outbox message carrying only the allowed fields (``fields.filter_document``) is written with
``service.enqueue`` (id ``<category>:<fact key>``, so the same fact is stored once per
organization) and the disclosure is logged with channel ``delivery``.

Cost on the write paths: with no category subscription, one indexed query per transaction
(``ix_exchange_subscriptions_agreement``), remembered on the session; the agreements of a
category are read once per transaction too, however many ``publish`` calls it makes.

Messages of an agreement no longer in force (revoked, or past ``valid_until``) are not sent:
``withdraw`` dead-letters them at revocation, ``ended_agreement_rows`` lets the delivery worker
drop them from a claimed batch (expiry has no event), ``in_force_ids`` filters feed and stream.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import Select, or_, select, update
from sqlalchemy.orm import Session

from silkgate.audit.service import AuditEvent
from silkgate.core.platform import Platform
from silkgate.core.times import as_utc
from silkgate.exchange.agreements.catalogue import Category
from silkgate.exchange.agreements.enforce import Asking, Point
from silkgate.exchange.agreements.fields import filter_document
from silkgate.exchange.agreements.models import Agreement
from silkgate.exchange.agreements.policy import Decision, Record, Rule, decide
from silkgate.exchange.agreements.service import active_rules
from silkgate.exchange.models import Delivery, OutboxMessage, Subscription
from silkgate.exchange.schemas import DeliveryStatus
from silkgate.exchange.service import enqueue_new, message_event
from silkgate.registry.models import CrossingAssignment, Organization
from silkgate.registry.service import Caller

D = DeliveryStatus
REVOKED = "agreement revoked"
ENDED = "agreement ended"
_SUBSCRIBERS = "silkgate.exchange.subscribers"
_RULES = "silkgate.exchange.rules"
DECLARATION_CATEGORIES = (Category.DECLARATION, Category.PRE_ARRIVAL)
RISK_CATEGORIES = (Category.RISK_LANE, Category.RISK_SCORE)


@dataclass(frozen=True)
class Fact:
    """Something that happened to a record, as subscribers of ``categories`` receive it.

    ``key``: the fact's stable id within its category (``<record id>:v<version>[:<what>]``);
    ``event``: the topic's second part (``pre_arrival.accepted``); ``document``: the whole
    document of the record (JSON-able), filtered per subscriber."""

    categories: tuple[Category, ...]
    record: Record
    record_id: str
    key: str
    event: str
    document: dict[str, Any]


@dataclass(frozen=True)
class Subscriber:
    sub: Subscription
    caller: Caller


def jsonable(doc: dict[str, Any]) -> dict[str, Any]:
    """A document as stored in the outbox (datetimes as ISO 8601, decimals as numbers)."""
    out: dict[str, Any] = to_jsonable_python(doc)
    return out


def subscribers(s: Session) -> list[Subscriber]:
    """The active category subscriptions with their organizations: one query per session
    (a transaction), none more when there are none."""
    found: list[Subscriber] | None = s.info.get(_SUBSCRIBERS)
    if found is not None:
        return found
    rows = s.execute(
        select(Subscription, Organization)
        .join(Organization, Organization.id == Subscription.organization_id)
        .where(Subscription.active.is_(True), Subscription.agreement_id.is_not(None))
        .order_by(Subscription.id)
    ).all()
    out: list[Subscriber] = []
    if rows:
        crossings: dict[int, set[str]] = {}
        org_ids = sorted({org.id for _, org in rows})
        for org_id, code in s.execute(
            select(CrossingAssignment.organization_id, CrossingAssignment.crossing_code).where(
                CrossingAssignment.organization_id.in_(org_ids)
            )
        ):
            crossings.setdefault(org_id, set()).add(code)
        out = [
            Subscriber(
                sub,
                Caller(
                    org.id,
                    org.member_id,
                    org.country,
                    frozenset(org.roles),
                    frozenset(crossings.get(org.id, ())),
                ),
            )
            for sub, org in rows
            if org.active
        ]
    s.info[_SUBSCRIBERS] = out
    return out


def wanted(s: Session, *categories: Category) -> bool:
    """Some active subscription names one of ``categories``: a write path builds its facts
    (documents) only then."""
    names = {c.value for c in categories}
    return any(names.intersection(x.sub.categories or ()) for x in subscribers(s))


def publish(
    s: Session, platform: Platform, facts: Iterable[Fact], actor: str, now: datetime
) -> list[AuditEvent]:
    """Write each fact's messages for the subscribers its agreements allow; the audit events
    of the messages written (the caller appends them with its own, in this transaction)."""
    facts = list(facts)
    if not facts:
        return []
    subs = subscribers(s)
    if not subs:
        return []
    rules: dict[Category, list[Rule]] = s.info.setdefault(_RULES, {})
    points: dict[tuple[int, str | None, str | None], Point] = {}
    events: list[AuditEvent] = []
    for fact in facts:
        for c in fact.categories:
            if c not in rules:
                rules[c] = active_rules(s, c)
            record = replace(fact.record, category=c)
            # one message per organization and agreement: each carries only what its own
            # agreement allows and is withdrawn with it
            by_org: dict[tuple[int, str], list[tuple[Subscriber, Decision]]] = {}
            for x in subs:
                if c.value not in (x.sub.categories or ()):
                    continue
                mine = [r for r in rules[c] if r.agreement_id == x.sub.agreement_id]
                if not mine:
                    continue
                decision = decide(x.caller, x.sub.purpose, x.sub.place, record, mine, now)
                if decision.basis == "agreement" and decision.allowed:
                    group = (x.sub.organization_id, str(x.sub.agreement_id))
                    by_org.setdefault(group, []).append((x, decision))
            firsts: dict[int, str] = {}
            for org_id, aid in sorted(by_org):
                firsts.setdefault(org_id, aid)
            for (org_id, aid), allowed in sorted(by_org.items()):
                first, decision = allowed[0]
                data = filter_document(_document(fact, c, decision), decision.fields)
                msg, new = enqueue_new(
                    s,
                    org_id,
                    f"{c.value}.{fact.event}",
                    data,
                    _message_id(c, fact.key, aid, firsts[org_id] == aid),
                    now,
                    to=[x.sub for x, _ in allowed],
                    agreement_id=first.sub.agreement_id,
                )
                if not new:
                    continue
                events.append(message_event(msg, actor))
                key = (first.caller.id, first.sub.purpose, first.sub.place)
                point = points.get(key)
                if point is None:
                    asking = Asking(first.caller, first.sub.purpose, first.sub.place)
                    point = points[key] = Point(platform, s, asking, now, read_only=False)
                point.disclose(record, fact.record_id, decision, data, channel="delivery")
    for point in points.values():
        point.flush()
    return events


def _message_id(c: Category, key: str, agreement_id: str, first: bool) -> str:
    """``<category>:<key>``; an organization subscribed under several agreements gets one
    message per agreement, the others' ids suffixed with a digest of the agreement id."""
    if first:
        return f"{c.value}:{key}"
    return f"{c.value}:{key}#{hashlib.sha256(agreement_id.encode()).hexdigest()[:8]}"


def _document(fact: Fact, c: Category, decision: Decision) -> dict[str, Any]:
    if c in DECLARATION_CATEGORIES:  # as a read shows it: pre-arrival when decided so
        return {**fact.document, "pre_arrival": Category.PRE_ARRIVAL in decision.categories}
    return fact.document


def in_force_ids(now: datetime) -> Select[Any]:
    """The ids of the agreements with a version in force at ``now``: active, and ``now``
    within its validity (as ``agreements.service.in_force``)."""
    at = as_utc(now)
    return select(Agreement.agreement_id).where(
        Agreement.status == "active",
        Agreement.valid_from <= at,
        or_(Agreement.valid_until.is_(None), Agreement.valid_until > at),
    )


def agreements_in_force(s: Session, agreement_ids: Iterable[str], now: datetime) -> set[str]:
    """Of ``agreement_ids``, those in force at ``now`` (one query; none for no ids)."""
    ids = sorted(set(agreement_ids))
    if not ids:
        return set()
    return set(s.scalars(in_force_ids(now).where(Agreement.agreement_id.in_(ids)).distinct()))


def agreement_live(s: Session, agreement_id: str, now: datetime) -> bool:
    """The agreement is in force (its messages may still be sent)."""
    return bool(agreements_in_force(s, [agreement_id], now))


def ended_agreement_rows(s: Session, deliveries: Iterable[Any], now: datetime) -> set[int]:
    """For the delivery worker, once per claimed batch, before sending: the deliveries (rows
    with ``id`` and ``outbox_id``) whose message was written under an agreement no longer in
    force at ``now`` (revoked or expired). Those still pending become dead letters (reason
    ``agreement ended``) in the caller's transaction; the caller does not send them.

    One query decides the batch; one update when something ended."""
    rows = list(deliveries)
    outbox_ids = sorted({d.outbox_id for d in rows})
    if not outbox_ids:
        return set()
    ended_msgs = set(
        s.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.id.in_(outbox_ids),
                OutboxMessage.agreement_id.is_not(None),
                OutboxMessage.agreement_id.not_in(in_force_ids(now)),
            )
        )
    )
    ended = {d.id for d in rows if d.outbox_id in ended_msgs}
    _dead_letter(s, ended, now)
    return ended


def ended_deliveries(
    s: Session, deliveries: Iterable[tuple[int, str | None]], now: datetime
) -> set[int]:
    """``ended_agreement_rows`` for a worker that already read each message's agreement:
    ``deliveries`` are (delivery id, the message's ``agreement_id``) pairs. One query
    (``agreements_in_force``) when some message has an agreement; one update when some ended."""
    pairs = list(deliveries)
    live = agreements_in_force(s, {a for _, a in pairs if a is not None}, now)
    ended = {d for d, a in pairs if a is not None and a not in live}
    _dead_letter(s, ended, now)
    return ended


def _dead_letter(s: Session, delivery_ids: set[int], now: datetime) -> None:
    if delivery_ids:
        s.execute(
            update(Delivery)
            .where(Delivery.id.in_(sorted(delivery_ids)), Delivery.status == D.PENDING.value)
            .values(status=D.DEAD.value, last_error=ENDED, next_attempt_at=now)
        )


def withdraw(s: Session, agreement_id: str, now: datetime) -> int:
    """On revocation: the pending deliveries of the agreement's messages become dead letters
    (reason ``agreement revoked``); the number withdrawn."""
    res = s.execute(
        update(Delivery)
        .where(
            Delivery.status == D.PENDING.value,
            Delivery.outbox_id.in_(
                select(OutboxMessage.id).where(OutboxMessage.agreement_id == agreement_id)
            ),
        )
        .values(status=D.DEAD.value, last_error=REVOKED, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(res.rowcount or 0)  # type: ignore[attr-defined]


# ---------------------------------------------------------------- facts of each domain


def declaration_fact(d: Any, document: dict[str, Any]) -> Fact:
    """A declaration stored or changed (``d``: a row or an object with its columns): key
    ``<id>:v<version>:<status>`` — statuses never repeat within a version."""
    from silkgate.exchange.agreements.records import declaration_record

    return Fact(
        DECLARATION_CATEGORIES,
        declaration_record(d),
        d.id,
        f"{d.id}:v{d.version}:{d.status}",
        d.status,
        jsonable(document),
    )


def risk_fact(d: Any, document: dict[str, Any], suffix: str = "") -> Fact:
    """A risk assessment of the declaration's current version (``suffix``: an override)."""
    from silkgate.exchange.agreements.records import risk_record

    return Fact(
        RISK_CATEGORIES,
        risk_record(d, Category.RISK_LANE),
        d.id,
        f"{d.id}:v{d.version}{suffix}",
        "overridden" if suffix else "assessed",
        jsonable(document),
    )


def inspection_fact(d: Any, document: dict[str, Any]) -> Fact:
    from silkgate.exchange.agreements.records import risk_record

    return Fact(
        (Category.INSPECTION_RESULT,),
        risk_record(d, Category.INSPECTION_RESULT),
        d.id,
        f"{d.id}:v{d.version}",
        "recorded",
        jsonable(document),
    )


def booking_fact(b: Any, document: dict[str, Any], event: str | None = None) -> Fact:
    """A booking made or changed: key ``<id>:<status>@<updated_at ms>`` (each change).

    ``event``: ``made`` or ``changed`` (default: ``made`` for a confirmed booking never
    changed). The topic never names the status: a subscriber may not be allowed ``/status``."""
    from silkgate.exchange.agreements.records import booking_record

    at = int(b.updated_at.timestamp() * 1000)
    if event is None:
        event = "made" if b.status == "confirmed" and b.created_at == b.updated_at else "changed"
    return Fact(
        (Category.BOOKING,),
        booking_record(b),
        b.id,
        f"{b.id}:{b.status}@{at}",
        event,
        jsonable(document),
    )


def gate_event_fact(row: dict[str, Any], document: dict[str, Any]) -> Fact:
    """A gate event stored (its id is the digest of reporter and signed content)."""
    return Fact(
        (Category.GATE_EVENTS,),
        Record(
            Category.GATE_EVENTS,
            owner=row["reporter"],
            authority=row["side"],
            crossing=row["crossing_code"],
        ),
        row["event_id"],
        row["event_id"],
        "stored",
        jsonable(document),
    )
