"""The pull feed: an organization's messages after an opaque, resumable cursor.

For systems that cannot receive webhooks. A cursor names a position in the caller's own
stream (``c1.`` and base64url of ``<organization id>:<sequence number>``); asking for what
follows it acknowledges everything up to it for the caller's pull subscriptions (their lag).
Messages of an agreement no longer in force (revoked or expired) are not served, as its
webhooks are not sent.
"""

from __future__ import annotations

import base64
import binascii

from sqlalchemy import or_, select, update

from silkgate.core.errors import FieldError, ValidationFailed
from silkgate.core.platform import Platform
from silkgate.exchange.models import OutboxMessage, Subscription
from silkgate.exchange.publish import in_force_ids
from silkgate.exchange.schemas import FeedPage
from silkgate.exchange.service import message_out
from silkgate.registry.service import Caller

CURSOR_FIELD = "/query/cursor"
PREFIX = "c1."


def make_cursor(organization_id: int, seq: int) -> str:
    raw = f"{organization_id}:{seq}".encode()
    return PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_cursor(cursor: str | None, caller: Caller) -> int:
    """The sequence number a cursor of the caller's stream stands for (None: the start)."""
    if cursor is None or cursor == "":
        return 0

    def bad(reason: str) -> ValidationFailed:
        return ValidationFailed([FieldError(CURSOR_FIELD, "bad_cursor", reason)])

    if not cursor.startswith(PREFIX) or len(cursor) > 64:
        raise bad("not a cursor of this feed: pass next_cursor as it was given")
    body = cursor[len(PREFIX) :]
    try:
        text = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad("not a cursor of this feed: pass next_cursor as it was given") from None
    org, sep, seq = text.partition(":")
    if not sep or not org.isdigit() or not seq.isdigit() or len(seq) > 18:
        raise bad("not a cursor of this feed: pass next_cursor as it was given")
    if int(org) != caller.id:
        raise bad("this cursor belongs to another organization's feed")
    return int(seq)


def read_feed(platform: Platform, caller: Caller, cursor: str | None, limit: int) -> FeedPage:
    """Up to ``limit`` of the caller's messages after ``cursor``, and the cursor to resume
    from; the position of ``cursor`` is stored on the caller's pull subscriptions."""
    after = parse_cursor(cursor, caller)
    now = platform.clock()
    with platform.db.session() as s:
        if after > 0:
            s.execute(
                update(Subscription)
                .where(
                    Subscription.organization_id == caller.id,
                    Subscription.active.is_(True),
                    Subscription.url == "",
                    Subscription.feed_seq < after,
                )
                .values(feed_seq=after, feed_acked_at=now)
                .execution_options(synchronize_session=False)
            )
        rows = list(
            s.scalars(
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
        )
        messages = [message_out(m, caller.member_id) for m in rows]
    last = messages[-1].seq if messages else after
    return FeedPage(messages=messages, next_cursor=make_cursor(caller.id, last))
