"""An e-queue history touching every queue and exchange record, for the tampering tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select

from silkgate.core.platform import Platform
from silkgate.exchange import service as exchange
from silkgate.exchange.models import OutboxMessage
from silkgate.exchange.schemas import SubscriptionIn
from silkgate.queue import noshow, waiting
from silkgate.queue import service as queue
from silkgate.queue.models import CapacityCap
from silkgate.queue.schemas import SlotRef, StageIn
from tests.queue.env import DAY, NOW, Env, make_env


@dataclass
class QueueWorld:
    """``cancelled``; ``moved`` (rescheduled 11 → 12 h, then displaced by a lower cap);
    ``no_show`` (swept, deposit forfeited); ``exited`` (checked in, called, through the stage);
    ``called`` (checked in, called when ``exited`` left). Both sides set a cap of 240, then
    KZ one of 1 after the no-show's slot had begun."""

    env: Env
    cancelled: str
    moved: str
    no_show: str
    exited: str
    called: str
    subscription: int
    message: int  # the outbox message calling ``called`` forward
    first_cap: int

    @property
    def platform(self) -> Platform:
        return self.env.platform


def build_queue(platform: Platform) -> QueueWorld:
    env = make_env(platform)
    platform.settings.queue_forfeit_no_shows = 1
    broker, customs = env.who("cn-broker"), env.who("cn-customs")
    sub = exchange.add_subscription(platform, broker, SubscriptionIn(url="http://127.0.0.1:9/a"))
    cancelled = env.book(hour=10).id
    queue.cancel(platform, broker, cancelled, "plans changed")
    moved = env.book(hour=11).id
    queue.reschedule(platform, broker, moved, SlotRef(day=DAY, hour=12))
    no_show = env.book(hour=1)
    exited, called = env.book(hour=14).id, env.book(hour=15).id
    route = {"crossing": "KHG-NZH", "exit_country": "CN", "entry_country": "KZ"}
    waiting.set_stage(platform, customs, StageIn(**route, capacity=1))
    for booking_id, what in (
        (exited, "check_in"),  # called at once: the stage has room for one
        (called, "check_in"),  # waits
        (exited, "gate_in"),
        (exited, "exit"),  # the stage frees: `called` is called
    ):
        waiting.move(platform, customs, booking_id, what, NOW)
    env.set_now(no_show.starts_at + timedelta(hours=2, minutes=30))
    assert noshow.sweep(platform).forfeited == [no_show.id]
    change = env.cap("kz-customs", 1)
    assert moved in change.displaced_bookings
    with platform.db.session() as s:
        message = s.scalar(
            select(OutboxMessage.id).where(OutboxMessage.message_id.contains(called))
        )
        first_cap = s.scalar(select(func.min(CapacityCap.id)))
    assert message is not None and first_cap is not None
    return QueueWorld(env, cancelled, moved, no_show.id, exited, called, sub.id, message, first_cap)
