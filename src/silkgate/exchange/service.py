"""Outbox, subscriptions and deliveries.

``enqueue`` is called inside the caller's transaction: the message and one delivery per
matching subscription commit or roll back with the business change. The worker
(``deliver_due``, in ``exchange.delivery``) claims due deliveries, POSTs them signed, and
records success, the next try (exponential back-off) or the dead letter.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from silkgate.audit.service import AuditEvent, append
from silkgate.core.db import after_commit
from silkgate.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from silkgate.core.platform import Platform
from silkgate.exchange import delivery
from silkgate.exchange.egress import EgressRefused, check_url
from silkgate.exchange.models import Delivery, OutboxMessage, Subscription
from silkgate.exchange.schemas import (
    DeliverReport,
    DeliveryOut,
    DeliveryStatus,
    MessageOut,
    PruneReport,
    SigningKeyOut,
    SubscriptionIn,
    SubscriptionOut,
)
from silkgate.registry.service import Caller

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from silkgate.exchange.webhook_http import WebhookSender

D = DeliveryStatus


def _matches(topics: list[str], topic: str) -> bool:
    return "*" in topics or topic in topics


def enqueue(
    s: Session,
    organization_id: int,
    topic: str,
    data: dict[str, Any],
    message_id: str,
    now: datetime,
    *,
    to: Sequence[Subscription] | None = None,
    agreement_id: str | None = None,
) -> OutboxMessage:
    """Write a message for an organization in the caller's transaction (idempotent by id).

    Deliveries go to the organization's active webhooks whose topics match, or, with ``to``,
    to exactly those subscriptions' webhooks (category messages: each decided for its
    subscription). ``agreement_id``: the agreement the message was written under. The caller
    appends ``message_event(msg, actor)`` to the audit log in the same transaction: ``audit
    verify`` reports a message without a log entry.
    """
    return enqueue_new(
        s, organization_id, topic, data, message_id, now, to=to, agreement_id=agreement_id
    )[0]


def enqueue_new(
    s: Session,
    organization_id: int,
    topic: str,
    data: dict[str, Any],
    message_id: str,
    now: datetime,
    *,
    to: Sequence[Subscription] | None = None,
    agreement_id: str | None = None,
) -> tuple[OutboxMessage, bool]:
    """``enqueue``, telling whether the message is new (False: stored before under its id)."""
    found = s.scalar(
        select(OutboxMessage).where(
            OutboxMessage.organization_id == organization_id,
            OutboxMessage.message_id == message_id,
        )
    )
    if found is not None:
        return found, False
    msg = OutboxMessage(
        message_id=message_id,
        organization_id=organization_id,
        topic=topic,
        payload=data,
        created_at=now,
        agreement_id=agreement_id,
    )
    s.add(msg)
    s.flush()
    if to is None:
        subs = [
            sub
            for sub in s.scalars(
                select(Subscription).where(
                    Subscription.organization_id == organization_id,
                    Subscription.active.is_(True),
                    Subscription.url != "",
                )
            )
            if _matches(sub.topics, topic)
        ]
    else:
        subs = [sub for sub in to if sub.url]  # pull subscriptions read the feed
    s.add_all(
        Delivery(
            outbox_id=msg.id,
            subscription_id=sub.id,
            organization_id=organization_id,
            status=D.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        for sub in subs
    )
    after_commit(s, delivery.wake)  # a worker in this process sends it now, not at its next poll
    return msg, True


def message_state(msg: OutboxMessage) -> dict[str, Any]:
    """What the audit log records of a message besides its payload (whose digest it keeps)."""
    state = {
        "organization_id": msg.organization_id,
        "message_id": msg.message_id,
        "topic": msg.topic,
    }
    if msg.agreement_id is not None:  # category messages only: older entries lack the key
        state["agreement_id"] = msg.agreement_id
    return state


def message_event(msg: OutboxMessage, actor: str) -> AuditEvent:
    """The audit event of an enqueued message: its payload's digest and its state."""
    return AuditEvent(
        actor,
        "exchange.enqueued",
        "exchange_message",
        str(msg.id),
        msg.payload,
        state=message_state(msg),
    )


def subscription_state(sub: Subscription) -> dict[str, Any]:
    """A subscription as its audit entries record it (no secrets: there are none). The terms
    of a category subscription are added only for those (older entries lack the keys); the
    pull position is bookkeeping, not recorded."""
    state: dict[str, Any] = {
        "organization_id": sub.organization_id,
        "url": sub.url,
        "topics": list(sub.topics),
        "active": bool(sub.active),
        "created_by": sub.created_by,
    }
    if sub.agreement_id is not None:
        state["agreement_id"] = sub.agreement_id
        state["categories"] = list(sub.categories or [])
        state["purpose"] = sub.purpose
        state["place"] = sub.place
    return state


def message_out(msg: OutboxMessage, organization: str) -> MessageOut:
    return MessageOut(
        id=msg.message_id,
        seq=msg.id,
        topic=msg.topic,
        organization=organization,
        created_at=msg.created_at,
        data=msg.payload,
    )


# ---------------------------------------------------------------- subscriptions


def sub_out(sub: Subscription) -> SubscriptionOut:
    return SubscriptionOut(
        id=sub.id,
        kind="webhook" if sub.url else "pull",
        url=sub.url or None,
        topics=sub.topics,
        agreement_id=sub.agreement_id,
        categories=sub.categories,
        purpose=sub.purpose,
        place=sub.place,
        active=sub.active,
        created_by=sub.created_by,
        created_at=sub.created_at,
    )


def add_subscription(platform: Platform, caller: Caller, body: SubscriptionIn) -> SubscriptionOut:
    """Register a webhook or a pull subscription for the caller's organization; audited (the
    URL and terms only, no secrets). Category subscriptions are checked against the
    agreement they name (``subscriptions.check_terms``).

    A URL naming a non-public address (loopback, private, link-local...) is refused unless
    the operator allowed it; names are resolved and checked again at every delivery.
    """
    from silkgate.exchange.subscriptions import check_kind, check_terms

    check_kind(body)
    if body.url:
        try:
            check_url(body.url, platform.settings.exchange_webhook_allow)
        except EgressRefused as exc:
            raise ValidationFailed([FieldError("/url", "not_public", str(exc))]) from None
    now = platform.clock()
    with platform.db.session() as s:
        place = None
        if body.agreement_id is not None:
            place = check_terms(s, caller, body, now)
        sub = Subscription(
            organization_id=caller.id,
            url=body.url or "",
            topics=[] if body.agreement_id is not None else sorted(set(body.topics or ["*"])),
            active=True,
            created_by=caller.member_id,
            created_at=now,
            agreement_id=body.agreement_id,
            categories=sorted({c.value for c in body.categories or []}) or None,
            purpose=body.purpose.value if body.purpose is not None else None,
            place=place,
            feed_seq=0,
        )
        s.add(sub)
        s.flush()
        payload: dict[str, Any] = {"url": sub.url, "topics": sub.topics}
        if sub.agreement_id is not None:
            payload |= {"agreement_id": sub.agreement_id, "categories": sub.categories}
        append(
            s,
            platform.signer,
            [
                AuditEvent(
                    caller.member_id,
                    "exchange.subscribed",
                    "exchange_subscription",
                    str(sub.id),
                    payload,
                    state=subscription_state(sub),
                )
            ],
        )
        return sub_out(sub)


def list_subscriptions(platform: Platform, caller: Caller) -> list[SubscriptionOut]:
    with platform.db.session() as s:
        rows = s.scalars(
            select(Subscription)
            .where(Subscription.organization_id == caller.id)
            .order_by(Subscription.id)
        )
        return [sub_out(r) for r in rows]


def remove_subscription(platform: Platform, caller: Caller, sub_id: int) -> SubscriptionOut:
    """Deactivate a webhook; its pending deliveries become dead letters (reason given)."""
    now = platform.clock()
    with platform.db.session() as s:
        sub = s.get(Subscription, sub_id, with_for_update=True)
        if sub is None or sub.organization_id != caller.id:
            raise NotFound(f"subscription {sub_id}")
        if not sub.active:
            raise Conflict(
                "the subscription is already removed",
                [FieldError("/id", "wrong_state", "removed")],
            )
        sub.active = False
        for d in s.scalars(
            select(Delivery).where(
                Delivery.subscription_id == sub.id, Delivery.status == D.PENDING.value
            )
        ):
            d.status, d.last_error, d.next_attempt_at = D.DEAD.value, "subscription removed", now
        append(
            s,
            platform.signer,
            [
                AuditEvent(
                    caller.member_id,
                    "exchange.unsubscribed",
                    "exchange_subscription",
                    str(sub.id),
                    {"url": sub.url},
                    state=subscription_state(sub),
                )
            ],
        )
        return sub_out(sub)


# ---------------------------------------------------------------- deliveries


def list_deliveries(
    platform: Platform, caller: Caller | None, status: DeliveryStatus | None, limit: int = 100
) -> list[DeliveryOut]:
    """An organization's deliveries (all organizations' for the console, ``caller`` None)."""
    with platform.db.session() as s:
        q = (
            select(Delivery, OutboxMessage, Subscription)
            .join(OutboxMessage, OutboxMessage.id == Delivery.outbox_id)
            .join(Subscription, Subscription.id == Delivery.subscription_id)
            .order_by(Delivery.id.desc())
            .limit(limit)
        )
        if caller is not None:
            q = q.where(Delivery.organization_id == caller.id)
        if status is not None:
            q = q.where(Delivery.status == status.value)
        return [
            DeliveryOut(
                id=d.id,
                message_id=m.message_id,
                topic=m.topic,
                subscription_id=sub.id,
                url=sub.url,
                status=D(d.status),
                attempts=d.attempts,
                next_attempt_at=d.next_attempt_at if d.status == D.PENDING.value else None,
                last_error=d.last_error,
                delivered_at=d.delivered_at,
                created_at=d.created_at,
            )
            for d, m, sub in s.execute(q)
        ]


def retry_delivery(platform: Platform, caller: Caller, delivery_id: int) -> None:
    """Send a dead letter again from its first try (the subscription must still be active)."""
    now = platform.clock()
    with platform.db.session() as s:
        d = s.get(Delivery, delivery_id, with_for_update=True)
        if d is None or d.organization_id != caller.id:
            raise NotFound(f"delivery {delivery_id}")
        sub = s.get(Subscription, d.subscription_id)
        if d.status != D.DEAD.value or sub is None or not sub.active:
            raise Conflict(
                "only a dead letter of an active subscription can be retried",
                [FieldError("/id", "wrong_state", d.status)],
            )
        from silkgate.exchange.publish import agreement_live

        msg = s.get(OutboxMessage, d.outbox_id)
        if msg is not None and msg.agreement_id and not agreement_live(s, msg.agreement_id, now):
            raise Conflict(
                f"agreement {msg.agreement_id} is no longer in force: its messages are not sent",
                [FieldError("/id", "agreement_ended", msg.agreement_id)],
            )
        d.status, d.attempts, d.next_attempt_at = D.PENDING.value, 0, now
        after_commit(s, delivery.wake)
        append(
            s,
            platform.signer,
            [AuditEvent(caller.member_id, "exchange.retried", "exchange_delivery", str(d.id), {})],
        )


def deliver_due(
    platform: Platform,
    sender: WebhookSender | None = None,
    pool: ThreadPoolExecutor | None = None,
) -> DeliverReport:
    """One delivery pass (``exchange.delivery.deliver_due``: claim, send, record)."""
    return delivery.deliver_due(platform, sender, pool)


def prune_outbox(
    platform: Platform, actor: str = "platform", older_than: timedelta | None = None
) -> PruneReport:
    """Delete messages older than the retention with no delivery pending (and their delivery
    rows); audited with the cut-off, the counts and the highest sequence number removed."""
    now = platform.clock()
    cutoff = now - (older_than or timedelta(days=platform.settings.exchange_retention_days))
    with platform.db.session() as s:
        pending = select(Delivery.outbox_id).where(Delivery.status == D.PENDING.value)
        ids = list(
            s.scalars(
                select(OutboxMessage.id).where(
                    OutboxMessage.created_at < cutoff, OutboxMessage.id.not_in(pending)
                )
            )
        )
        if not ids:
            return PruneReport(before=cutoff, messages=0, deliveries=0, through_seq=None)
        deliveries = 0
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            res = s.execute(delete(Delivery).where(Delivery.outbox_id.in_(chunk)))
            deliveries += res.rowcount or 0  # type: ignore[attr-defined]
            s.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(chunk)))
        report = PruneReport(
            before=cutoff, messages=len(ids), deliveries=deliveries, through_seq=max(ids)
        )
        append(
            s,
            platform.signer,
            [
                AuditEvent(
                    actor,
                    "exchange.outbox_pruned",
                    "exchange_outbox",
                    f"before:{cutoff.isoformat()}",
                    report.model_dump(mode="json"),
                    state=report.model_dump(mode="json"),
                )
            ],
        )
        return report


# ---------------------------------------------------------------- stream and key


def messages_after(
    platform: Platform, caller: Caller, after: int, limit: int = 500
) -> list[MessageOut]:
    """The caller's organization's messages with a sequence number above ``after``, but not
    those of an agreement no longer in force (as the feed and the webhooks)."""
    from silkgate.exchange.publish import in_force_ids

    now = platform.clock()
    with platform.db.session() as s:
        rows = s.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.organization_id == caller.id,
                OutboxMessage.id > after,
                or_(
                    OutboxMessage.agreement_id.is_(None),
                    OutboxMessage.agreement_id.in_(in_force_ids(now)),
                ),
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        return [message_out(m, caller.member_id) for m in rows]


def signing_key(platform: Platform) -> SigningKeyOut:
    return SigningKeyOut(key_id=platform.signer.key_id, public_key=platform.signer.public_key)
