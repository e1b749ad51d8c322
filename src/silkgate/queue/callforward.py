"""Waiting area and call-forward.

A booked truck checks in at the waiting area (a gate event at ``waiting_area`` or the API);
the border stage behind it holds ``capacity`` trucks at once (called or inside, until the exit
gate). Whenever the stage has room — after a check-in, an exit, a capacity change — the next
trucks are called in one round of classes at the configured ratios (eCherha: 1 priority
AEO/TIR, 1 priority, 1 AEO, 5 regular), the round carrying on from call to call. The round's
regular positions are shared with the live queue (walk-ins and trucks late beyond grace) in
proportion to the day's regular and live shares of the cap. Within a class, trucks on time
go first in slot order; the live queue goes in arrival order. Each call sets the booking
``called`` and writes an outbox message for the carrier in the same transaction (webhook + SSE);
every booking state change here (called, in checkpoint, exited) is also published to the
``booking`` category's subscribers in that transaction (``svc.published``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from silkgate.audit.service import AuditEvent, append
from silkgate.core.errors import Conflict, FieldError
from silkgate.core.platform import Platform
from silkgate.exchange.service import enqueue, message_event
from silkgate.queue import noshow, planning, states
from silkgate.queue import service as svc
from silkgate.queue.models import Booking, Stage, WaitingTruck
from silkgate.queue.schemas import (
    PRIORITY_CLASSES,
    BookingStatus,
    QuotaClass,
)

S = BookingStatus
CF_CLASSES = ("priority_aeo_tir", "priority", "aeo", "regular", "live")
TOPIC_CALLED = "queue.called_forward"
Route = tuple[str, str, str]


def cf_class(b: Booking) -> str:
    """The call-forward class of a booking: from its quota class and AEO evidence."""
    if b.quota_class == QuotaClass.LIVE.value:
        return "live"
    if b.quota_class == QuotaClass.AEO_TIR.value:
        return "aeo"
    if b.quota_class in {q.value for q in PRIORITY_CLASSES}:
        return "priority_aeo_tir" if (b.evidence or {}).get("aeo_certificate") else "priority"
    return "regular"


def round_of(ratios: dict[str, int]) -> list[str]:
    """One round of the interleave, e.g. [priority_aeo_tir, priority, aeo, regular × 5]."""
    return [c for c, n in ratios.items() for _ in range(n)]


def round_for(ratios: dict[str, int], regular_total: int, live_total: int) -> list[str]:
    """The configured round with its regular positions shared with the live queue.

    The ``regular`` ratio R is split between booked regular trucks and the live queue in
    proportion to the day's regular and live totals (largest remainder); a day with a live
    share gets at least one live position (the round grows by one when R is 1). Without a
    live share the live queue has no position: it goes when the round finds nobody else.
    """
    r = ratios.get("regular", 0)
    if live_total <= 0 or r <= 0:
        return round_of(ratios)
    reg, live = planning.largest_remainder(r, [max(regular_total, 0), live_total])
    if live == 0:
        live, reg = 1, r - 1
    if reg == 0 and regular_total > 0:
        reg = 1
    out: dict[str, int] = {}
    for c, n in ratios.items():
        if c == "regular":
            out["regular"], out["live"] = reg, live
        else:
            out[c] = n
    return round_of(out)


def pattern(s: Session, platform: Platform, route: Route) -> list[str]:
    """Today's round for a route: the configured ratios and the binding cap's live share."""
    today = svc.local_today(platform, platform.clock())
    binding = planning.binding_cap(s, *route, today)
    ratios = platform.settings.queue_callforward_ratios
    if binding is None:
        return round_of(ratios)
    src = binding.source
    totals = planning.class_totals(binding.daily_cap, src.quotas, src.live_share)
    return round_for(ratios, totals.get("regular", 0), totals.get("live", 0))


def call_order(
    queues: Mapping[str, Sequence[WaitingTruck]], pattern: list[str], cursor: int, n: int
) -> tuple[list[WaitingTruck], int]:
    """The next ``n`` trucks and the new cursor: walk the round from ``cursor``, skipping
    classes with nobody waiting; classes absent from the round go when the round finds none."""
    q = {c: deque(v) for c, v in queues.items()}
    out: list[WaitingTruck] = []
    size = len(pattern)
    while len(out) < n and any(q.values()):
        for k in range(size):
            cls = pattern[(cursor + k) % size]
            if q.get(cls):
                out.append(q[cls].popleft())
                cursor = (cursor + k + 1) % size
                break
        else:
            rest = next(c for c in sorted(q) if q[c])
            out.append(q[rest].popleft())
    return out, cursor


def _route_of(b: Booking | WaitingTruck) -> Route:
    return (b.crossing_code, b.exit_country, b.entry_country)


def _stage(s: Session, platform: Platform, route: Route, now: datetime) -> Stage:
    """The route's stage row, locked (made with the default capacity the first time, and
    that audited)."""
    crossing, exit_c, entry_c = route
    where = (
        Stage.crossing_code == crossing,
        Stage.exit_country == exit_c,
        Stage.entry_country == entry_c,
        Stage.side == exit_c,
    )
    stage = s.scalar(select(Stage).where(*where).with_for_update())
    if stage is None:
        stage = Stage(
            crossing_code=crossing,
            exit_country=exit_c,
            entry_country=entry_c,
            side=exit_c,
            capacity=platform.settings.queue_stage_capacity,
            cursor=0,
            set_by="platform",
            set_at=now,
        )
        s.add(stage)
        s.flush()
        event = AuditEvent(
            "platform",
            "queue.stage_opened",
            "queue_stage",
            states.stage_key(*route),
            {"capacity": stage.capacity},
            state=states.stage_state(stage),
        )
        append(s, platform.signer, [event])
    return stage


def _where(route: Route) -> tuple[Any, ...]:
    return (
        WaitingTruck.crossing_code == route[0],
        WaitingTruck.exit_country == route[1],
        WaitingTruck.entry_country == route[2],
    )


def _occupied(s: Session, route: Route) -> int:
    return (
        s.scalar(
            select(func.count())
            .select_from(WaitingTruck)
            .where(*_where(route), WaitingTruck.state.in_(("called", "in_stage")))
        )
        or 0
    )


def _queues(s: Session, route: Route) -> dict[str, list[WaitingTruck]]:
    rows = s.scalars(
        select(WaitingTruck)
        .where(*_where(route), WaitingTruck.state == "waiting")
        .order_by(
            WaitingTruck.booked.desc(),
            WaitingTruck.slot_start,
            WaitingTruck.arrived_at,
            WaitingTruck.booking_id,
        )
    )
    out: dict[str, list[WaitingTruck]] = {c: [] for c in CF_CLASSES}
    for w in rows:
        out.setdefault(w.cf_class, []).append(w)
    # booked trucks in slot order, then late/live trucks in arrival order
    for items in out.values():
        items.sort(
            key=lambda w: (not w.booked, w.slot_start if w.booked else w.arrived_at, w.booking_id)
        )
    return out


def call_forward(
    s: Session, platform: Platform, route: Route, actor: str, limit: int | None = None
) -> list[str]:
    """Call trucks until the stage is full (at most ``limit``); each call audited and sent to
    its carrier."""
    now = platform.clock()
    stage = _stage(s, platform, route, now)
    room = stage.capacity - _occupied(s, route)
    if limit is not None:
        room = min(room, limit)
    if room <= 0:
        return []
    picks, stage.cursor = call_order(
        _queues(s, route), pattern(s, platform, route), stage.cursor, room
    )
    events = []
    called = []
    for w in picks:
        b = s.get(Booking, w.booking_id)
        assert b is not None
        w.state, w.called_at = "called", now
        b.status, b.updated_at = S.CALLED.value, now
        called.append(b)
        data = {
            "booking_id": b.id,
            "crossing": b.crossing_code,
            "exit_country": b.exit_country,
            "entry_country": b.entry_country,
            "tractor_plate": b.tractor_plate,
            "tractor_nationality": b.tractor_nationality,
            "called_at": now.isoformat(),
            "class": w.cf_class,
        }
        msg = enqueue(s, b.organization_id, TOPIC_CALLED, data, f"{TOPIC_CALLED}:{b.id}", now)
        events.append(svc._event(actor, "queue.called", b, {"class": w.cf_class}))
        events.append(message_event(msg, actor))
    events += svc.published(s, platform, called, now)  # the booking category, one pass
    s.flush()
    append(s, platform.signer, events)
    return [w.booking_id for w in picks]


# ---------------------------------------------------------------- stage moves (one session)


def check_in(s: Session, platform: Platform, b: Booking, at: datetime, actor: str) -> list[str]:
    """The truck is in the waiting area: arrived (on time) or late (live queue); then call."""
    status = noshow.arrive(s, platform, b.id, at, actor)
    on_time = status == S.ARRIVED.value and b.quota_class != QuotaClass.LIVE.value
    s.add(
        WaitingTruck(
            booking_id=b.id,
            organization_id=b.organization_id,
            crossing_code=b.crossing_code,
            exit_country=b.exit_country,
            entry_country=b.entry_country,
            cf_class=cf_class(b) if on_time else "live",
            booked=on_time,
            slot_start=svc.utc(b.starts_at),
            arrived_at=at,
            state="waiting",
        )
    )
    s.flush()
    return call_forward(s, platform, _route_of(b), actor)


def gate_in(s: Session, platform: Platform, b: Booking, at: datetime, actor: str) -> None:
    """The truck passed the gate into the stage (called or not, it now takes a place)."""
    w = s.get(WaitingTruck, b.id, with_for_update=True)
    if w is None or w.state not in ("waiting", "called"):
        raise _wrong_state(w)
    w.state = "in_stage"
    now = platform.clock()
    b.status, b.updated_at = S.IN_CHECKPOINT.value, now
    event = svc._event(actor, "queue.gate_in", b, {"at": at.isoformat()})
    append(s, platform.signer, [event, *svc.published(s, platform, [b], now)])


def leave(s: Session, platform: Platform, b: Booking, at: datetime, actor: str) -> list[str]:
    """The truck left the stage (exit gate): its place frees and the next trucks are called."""
    w = s.get(WaitingTruck, b.id, with_for_update=True)
    if w is None or w.state == "left":
        raise _wrong_state(w)
    w.state, w.left_at = "left", at
    now = platform.clock()
    b.status, b.updated_at = S.EXITED.value, now
    event = svc._event(actor, "queue.exited", b, {"at": at.isoformat()})
    append(s, platform.signer, [event, *svc.published(s, platform, [b], now)])
    s.flush()
    return call_forward(s, platform, _route_of(b), actor)


def _wrong_state(w: WaitingTruck | None) -> Conflict:
    state = "not checked in" if w is None else w.state
    return Conflict(
        f"the truck is {state} at the waiting area",
        [FieldError("/booking_id", "wrong_state", state)],
    )
