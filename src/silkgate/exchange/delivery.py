"""Webhook delivery: claim due deliveries under a lease, send them concurrently, record the
outcomes in one transaction.

A pass (``deliver_due``) claims up to ``SILKGATE_EXCHANGE_BATCH`` due deliveries and leases
them (``next_attempt_at`` moved past the time the pass may take), so another worker — in
this process or another — skips them, and a worker killed mid-pass leaves them due again
once the lease ends: they are sent again under the same message id. The pass then POSTs them
signed from ``SILKGATE_EXCHANGE_CONCURRENCY`` threads over keep-alive connections,
and records delivered / next try / dead letter with one statement per outcome.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update

from silkgate.core.db import table_of
from silkgate.core.platform import Platform
from silkgate.core.settings import Settings
from silkgate.core.signing import canonical_json
from silkgate.exchange.egress import EgressRefused, Target, resolve
from silkgate.exchange.models import Delivery, OutboxMessage, Subscription
from silkgate.exchange.schemas import DeliverReport, DeliveryStatus, MessageOut
from silkgate.exchange.signing import sign_headers
from silkgate.exchange.webhook_http import SendFailed, WebhookSender
from silkgate.registry.models import Organization

D = DeliveryStatus
LEASE_MARGIN_SECONDS = 30.0

# ---------------------------------------------------------------- wake-up on enqueue

_listeners: set[threading.Event] = set()
_listeners_lock = threading.Lock()


def listen(event: threading.Event) -> None:
    """Have ``wake`` set ``event`` (a worker waiting between passes)."""
    with _listeners_lock:
        _listeners.add(event)


def unlisten(event: threading.Event) -> None:
    with _listeners_lock:
        _listeners.discard(event)


def wake() -> None:
    """A message was committed in this process: workers here start a pass now rather than at
    their next poll (``enqueue`` registers this after its transaction's commit)."""
    with _listeners_lock:
        for event in _listeners:
            event.set()


# ---------------------------------------------------------------- claim


@dataclass
class _Claimed:
    delivery_id: int
    url: str
    message_id: str
    topic: str
    body: bytes
    attempts: int
    start_by: datetime  # no try begins later (``last_start``)


def lease_for(settings: Settings) -> timedelta:
    """How long claimed deliveries stay reserved for the worker that claimed them."""
    return timedelta(seconds=settings.exchange_timeout_seconds + LEASE_MARGIN_SECONDS)


def last_start(settings: Settings, claimed_at: datetime) -> datetime:
    """The last moment a try of a delivery claimed at ``claimed_at`` may begin: late enough
    tries are left for the next pass, so none is still running when the lease ends."""
    margin = settings.exchange_timeout_seconds + LEASE_MARGIN_SECONDS / 2
    return claimed_at + lease_for(settings) - timedelta(seconds=margin)


def _claim(platform: Platform, now: datetime, limit: int) -> list[_Claimed]:
    """Take due deliveries and lease them, so no other worker sends them meanwhile."""
    t, o = table_of(Delivery), table_of(OutboxMessage)
    if platform.settings.is_sqlite and not _any_due(platform, now):
        return []  # without taking SQLite's write lock, which producers need
    with platform.db.session() as s:
        q = (
            select(
                t.c.id.label("delivery_id"),
                t.c.attempts,
                Subscription.url,
                o,
                Organization.member_id,
            )
            .join(o, o.c.id == t.c.outbox_id)
            .join(Subscription, Subscription.id == t.c.subscription_id)
            .join(Organization, Organization.id == o.c.organization_id)
            .where(t.c.status == D.PENDING.value, t.c.next_attempt_at <= now)
            .order_by(t.c.next_attempt_at, t.c.id)
            .limit(limit)
        )
        if not platform.settings.is_sqlite:  # SQLite: BEGIN IMMEDIATE already serialises
            q = q.with_for_update(of=t, skip_locked=True)
        due = list(s.execute(q))
        if not due:
            return []
        # messages of an agreement revoked or expired since they were written are not sent
        from silkgate.exchange.publish import ended_deliveries  # publish imports the service

        ended = ended_deliveries(s, [(d.delivery_id, d.agreement_id) for d in due], now)
        due = [d for d in due if d.delivery_id not in ended]
        if not due:
            return []
        s.execute(
            update(t)
            .where(t.c.id.in_([d.delivery_id for d in due]))
            .values(next_attempt_at=now + lease_for(platform.settings))
        )
    # the bodies are built after the commit: the lease holds the rows, not a lock
    start_by = last_start(platform.settings, now)
    bodies: dict[int, bytes] = {}
    out = []
    for d in due:
        body = bodies.get(d.id)
        if body is None:
            body = bodies[d.id] = _body(d)
        out.append(
            _Claimed(d.delivery_id, d.url, d.message_id, d.topic, body, d.attempts, start_by)
        )
    return out


def _any_due(platform: Platform, now: datetime) -> bool:
    t = table_of(Delivery)
    with platform.db.snapshot() as s:
        q = select(t.c.id).where(t.c.status == D.PENDING.value, t.c.next_attempt_at <= now)
        return s.execute(q.limit(1)).first() is not None


def _body(m: Any) -> bytes:
    """The canonical JSON a receiver gets (``MessageOut``), from an outbox row (``id`` the
    sequence number) with the organization's ``member_id``."""
    out = MessageOut(
        id=m.message_id,
        seq=m.id,
        topic=m.topic,
        organization=m.member_id,
        created_at=m.created_at,
        data=m.payload,
    )
    return canonical_json(out.model_dump(mode="json"))


# ---------------------------------------------------------------- send


def _targets(platform: Platform, claimed: list[_Claimed]) -> dict[str, Target | str]:
    """Each URL of the pass resolved and checked once: its target, or why it is refused."""
    out: dict[str, Target | str] = {}
    for url in {c.url for c in claimed}:
        try:
            out[url] = resolve(url, platform.settings.exchange_webhook_allow)
        except EgressRefused as exc:
            out[url] = f"refused: {exc}"[:300]
    return out


LATE = "late"  # not tried: the lease would end during the try; released for the next pass


def _send(
    platform: Platform, sender: WebhookSender, c: _Claimed, target: Target | str
) -> str | None:
    """POST one delivery to its checked target; None on a 2xx answer, ``LATE`` if not tried,
    else the reason."""
    now = platform.clock()
    if now > c.start_by:
        return LATE
    if isinstance(target, str):
        return target
    headers = sign_headers(platform.signer, c.message_id, c.topic, int(now.timestamp()), c.body)
    try:
        status = sender.post(target, headers, c.body)
    except SendFailed as exc:
        return str(exc)[:300]
    return None if 200 <= status < 300 else f"HTTP {status}"


def new_sender(settings: Settings) -> WebhookSender:
    """The keep-alive HTTP client a worker sends through (no redirects followed)."""
    return WebhookSender(settings.exchange_timeout_seconds)


def new_pool(settings: Settings) -> ThreadPoolExecutor | None:
    """The sending threads of a worker; None when deliveries go one after another."""
    n = settings.exchange_concurrency
    return ThreadPoolExecutor(n, thread_name_prefix="silkgate-webhook") if n > 1 else None


def _send_all(
    platform: Platform,
    sender: WebhookSender,
    pool: ThreadPoolExecutor | None,
    claimed: list[_Claimed],
) -> list[str | None]:
    """Send every claimed delivery: each sending thread takes the next one not yet taken."""
    targets = _targets(platform, claimed)
    errors: list[str | None] = [None] * len(claimed)
    turns = iter(range(len(claimed)))
    lock = threading.Lock()

    def drain() -> None:
        while True:
            with lock:
                i = next(turns, None)
            if i is None:
                return
            errors[i] = _send(platform, sender, claimed[i], targets[claimed[i].url])

    if pool is None or len(claimed) == 1:
        drain()
    else:
        n = min(platform.settings.exchange_concurrency, len(claimed))
        for f in [pool.submit(drain) for _ in range(n)]:
            f.result()
    return errors


# ---------------------------------------------------------------- record


def _record(platform: Platform, claimed: list[_Claimed], errors: list[str | None]) -> DeliverReport:
    """Write every outcome of a pass in one transaction; a delivery no longer pending (its
    subscription removed meanwhile) is left as the removal recorded it, one not tried is
    due again at once."""
    st = platform.settings
    report = DeliverReport(delivered=0, retried=0, dead=0)
    now = platform.clock()
    t = table_of(Delivery)
    delivered: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    late: list[dict[str, Any]] = []
    with platform.db.session() as s:
        q = select(t.c.id).where(
            t.c.id.in_([c.delivery_id for c in claimed]), t.c.status == D.PENDING.value
        )
        if not st.is_sqlite:
            q = q.with_for_update()
        pending = set(s.scalars(q))
        for c, error in zip(claimed, errors, strict=True):
            if c.delivery_id not in pending:
                continue
            if error == LATE:
                late.append({"did": c.delivery_id})
                continue
            attempts = c.attempts + 1
            if error is None:
                delivered.append({"did": c.delivery_id, "n": attempts})
                report.delivered += 1
                continue
            row = {"did": c.delivery_id, "n": attempts, "err": error, "st": D.PENDING.value}
            if attempts >= st.exchange_max_attempts:
                row["st"], row["at"] = D.DEAD.value, now
                report.dead += 1
            else:
                delay = st.exchange_retry_base_seconds * 2 ** (attempts - 1)
                row["at"] = now + timedelta(seconds=delay)
                report.retried += 1
            failed.append(row)
        where = t.c.id == bindparam("did")
        if delivered:
            s.execute(
                update(t)
                .where(where)
                .values(
                    status=D.DELIVERED.value,
                    attempts=bindparam("n"),
                    last_error=None,
                    delivered_at=now,
                ),
                delivered,
            )
        if failed:
            s.execute(
                update(t)
                .where(where)
                .values(
                    status=bindparam("st"),
                    attempts=bindparam("n"),
                    last_error=bindparam("err"),
                    next_attempt_at=bindparam("at"),
                ),
                failed,
            )
        if late:
            s.execute(update(t).where(where).values(next_attempt_at=now), late)
    return report


def deliver_due(
    platform: Platform,
    sender: WebhookSender | None = None,
    pool: ThreadPoolExecutor | None = None,
) -> DeliverReport:
    """One pass: send every claimed due delivery once, then record delivered / next try /
    dead. Without ``sender`` and ``pool`` the pass makes its own and closes them."""
    st = platform.settings
    own_client, own_pool = sender is None, pool is None
    http = sender or new_sender(st)
    threads = pool or new_pool(st)
    try:
        claimed = _claim(platform, platform.clock(), st.exchange_batch)
        if not claimed:
            return DeliverReport(delivered=0, retried=0, dead=0)
        errors = _send_all(platform, http, threads, claimed)
    finally:
        if own_client:
            http.close()
        if own_pool and threads is not None:
            threads.shutdown()
    return _record(platform, claimed, errors)
