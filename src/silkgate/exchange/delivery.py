"""Webhook delivery: claim due deliveries under a lease, send them concurrently, record the
outcomes in one transaction.

A pass (``deliver_due``) claims up to ``SILKGATE_EXCHANGE_BATCH`` due deliveries and leases
them (``next_attempt_at`` moved past the time the pass may take), so another worker — in
this process or another — skips them, and a worker killed mid-pass leaves them due again
once the lease ends: they are sent again under the same message id. The pass then POSTs them
signed from ``SILKGATE_EXCHANGE_CONCURRENCY`` threads over one keep-alive connection pool,
and records delivered / next try / dead letter with one statement per outcome.
"""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import bindparam, select, update

from silkgate.core.db import table_of
from silkgate.core.platform import Platform
from silkgate.core.settings import Settings
from silkgate.core.signing import canonical_json
from silkgate.exchange.egress import EgressRefused, Target, resolve
from silkgate.exchange.models import Delivery, OutboxMessage, Subscription
from silkgate.exchange.schemas import DeliverReport, DeliveryStatus, MessageOut
from silkgate.exchange.signing import sign_headers
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


def lease_for(settings: Settings, n: int) -> timedelta:
    """How long ``n`` claimed deliveries stay reserved: every try may take the HTTP timeout,
    ``concurrency`` at a time, plus a margin for the database round trips."""
    rounds = math.ceil(max(n, 1) / settings.exchange_concurrency)
    return timedelta(seconds=settings.exchange_timeout_seconds * rounds + LEASE_MARGIN_SECONDS)


def _claim(platform: Platform, now: datetime, limit: int) -> list[_Claimed]:
    """Take due deliveries and lease them, so no other worker sends them meanwhile."""
    t = table_of(Delivery)
    with platform.db.session() as s:
        q = (
            select(t.c.id, t.c.outbox_id, t.c.subscription_id, t.c.attempts)
            .where(t.c.status == D.PENDING.value, t.c.next_attempt_at <= now)
            .order_by(t.c.next_attempt_at, t.c.id)
            .limit(limit)
        )
        if not platform.settings.is_sqlite:
            q = q.with_for_update(skip_locked=True)
        due = list(s.execute(q))
        if not due:
            return []
        lease = now + lease_for(platform.settings, len(due))
        s.execute(update(t).where(t.c.id.in_([d.id for d in due])).values(next_attempt_at=lease))
        o = table_of(OutboxMessage)
        rows = s.execute(
            select(o, Organization.member_id)
            .join(Organization, Organization.id == o.c.organization_id)
            .where(o.c.id.in_({d.outbox_id for d in due}))
        )
        msgs = {r.id: r for r in rows}
        urls = {
            sub_id: url
            for sub_id, url in s.execute(
                select(Subscription.id, Subscription.url).where(
                    Subscription.id.in_({d.subscription_id for d in due})
                )
            )
        }
        bodies: dict[int, bytes] = {}
        out = []
        for d in due:
            m = msgs[d.outbox_id]
            if d.outbox_id not in bodies:
                bodies[d.outbox_id] = _body(m)
            out.append(
                _Claimed(
                    d.id,
                    urls[d.subscription_id],
                    m.message_id,
                    m.topic,
                    bodies[d.outbox_id],
                    d.attempts,
                )
            )
        return out


def _body(m: Any) -> bytes:
    """The canonical JSON a receiver gets (``MessageOut``), from an outbox row."""
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


def _send(
    platform: Platform, client: httpx.Client, c: _Claimed, target: Target | str
) -> str | None:
    """POST one delivery to its checked target; None on a 2xx answer, else the reason."""
    if isinstance(target, str):
        return target
    now = platform.clock()
    headers = sign_headers(platform.signer, c.message_id, c.topic, int(now.timestamp()), c.body)
    headers["Host"] = target.host_header
    extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else None
    try:
        r = client.post(target.url, content=c.body, headers=headers, extensions=extensions)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"[:300]
    return None if 200 <= r.status_code < 300 else f"HTTP {r.status_code}"


def new_client(settings: Settings) -> httpx.Client:
    """The keep-alive connection pool a worker sends through (no redirects followed)."""
    n = settings.exchange_concurrency
    return httpx.Client(
        timeout=settings.exchange_timeout_seconds,
        follow_redirects=False,
        limits=httpx.Limits(max_connections=n, max_keepalive_connections=n),
    )


def new_pool(settings: Settings) -> ThreadPoolExecutor | None:
    """The sending threads of a worker; None when deliveries go one after another."""
    n = settings.exchange_concurrency
    return ThreadPoolExecutor(n, thread_name_prefix="silkgate-webhook") if n > 1 else None


def _send_all(
    platform: Platform,
    client: httpx.Client,
    pool: ThreadPoolExecutor | None,
    claimed: list[_Claimed],
) -> list[str | None]:
    targets = _targets(platform, claimed)
    if pool is None or len(claimed) == 1:
        return [_send(platform, client, c, targets[c.url]) for c in claimed]
    return list(pool.map(lambda c: _send(platform, client, c, targets[c.url]), claimed))


# ---------------------------------------------------------------- record


def _record(platform: Platform, claimed: list[_Claimed], errors: list[str | None]) -> DeliverReport:
    """Write every outcome of a pass in one transaction; a delivery no longer pending (its
    subscription removed meanwhile) is left as the removal recorded it."""
    st = platform.settings
    report = DeliverReport(delivered=0, retried=0, dead=0)
    now = platform.clock()
    t = table_of(Delivery)
    delivered: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
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
    return report


def deliver_due(
    platform: Platform,
    client: httpx.Client | None = None,
    pool: ThreadPoolExecutor | None = None,
) -> DeliverReport:
    """One pass: send every claimed due delivery once, then record delivered / next try /
    dead. Without ``client`` and ``pool`` the pass makes its own and closes them."""
    st = platform.settings
    own_client, own_pool = client is None, pool is None
    http = client or new_client(st)
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
