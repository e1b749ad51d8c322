"""Public live queue figures per crossing and day: aggregates only (no plates, no names).

For today (the crossing's local day) each direction also gets the trucks waiting (checked in
at the waiting area, not yet called or through the gate) and the estimated wait: the minutes
to call all of them at the rate of the recent calls, or, with no call in that window, at this
hour's planned places (slot capacity of every class).
"""

from __future__ import annotations

import datetime as dt
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from silkgate.codelists.crossings import get_crossing
from silkgate.core.errors import NotFound
from silkgate.core.platform import Platform
from silkgate.queue import planning
from silkgate.queue.models import DayPlan, Slot, WaitingTruck
from silkgate.queue.schemas import DirectionFigures, HourFigures, PublicQueue, QuotaClass
from silkgate.queue.service import local_today


def public_queue(platform: Platform, crossing: str, day: dt.date | None = None) -> PublicQueue:
    """Booked counts per direction, hour and class; waiting and estimated wait for today."""
    try:
        c = get_crossing(crossing)
    except KeyError:
        raise NotFound(f"crossing {crossing}") from None
    now = platform.clock()
    today = local_today(platform, now)
    day = day or today
    a, b = c.countries
    out = []
    with platform.db.session() as s:
        for exit_c, entry_c in ((a, b), (b, a)):
            plan = s.scalar(
                select(DayPlan).where(
                    DayPlan.crossing_code == crossing,
                    DayPlan.exit_country == exit_c,
                    DayPlan.entry_country == entry_c,
                    DayPlan.day == day,
                )
            )
            slots = list(
                s.scalars(
                    select(Slot).where(
                        Slot.crossing_code == crossing,
                        Slot.exit_country == exit_c,
                        Slot.entry_country == entry_c,
                        Slot.day == day,
                    )
                )
            )
            cap = plan.daily_cap if plan else None
            if plan is None:
                binding = planning.binding_cap(s, crossing, exit_c, entry_c, day)
                cap = binding.daily_cap if binding else None
            hours: dict[int, HourFigures] = {}
            classes: dict[str, dict[str, int]] = {}
            live = walk_ins = 0
            for r in slots:
                if r.quota_class == QuotaClass.LIVE.value:
                    live += r.capacity
                    walk_ins += r.booked
                    continue
                h = hours.setdefault(r.hour, HourFigures(hour=r.hour, capacity=0, booked=0))
                h.capacity += r.capacity
                h.booked += r.booked
                k = classes.setdefault(r.quota_class, {"capacity": 0, "booked": 0})
                k["capacity"] += r.capacity
                k["booked"] += r.booked
            live_now = (
                _live(s, platform, (crossing, exit_c, entry_c), slots, now) if day == today else {}
            )
            out.append(
                DirectionFigures(
                    exit_country=exit_c,
                    entry_country=entry_c,
                    planned=plan is not None,
                    daily_cap=cap,
                    bookable=sum(h.capacity for h in hours.values()),
                    booked=sum(h.booked for h in hours.values()),
                    live_capacity=live,
                    walk_ins=walk_ins,
                    by_class=classes,
                    by_hour=[hours[h] for h in sorted(hours)],
                    **live_now,
                )
            )
    return PublicQueue(
        crossing=crossing,
        day=day,
        utc_offset_hours=platform.settings.queue_utc_offset_hours,
        directions=out,
    )


def _live(
    s: Session,
    platform: Platform,
    route: tuple[str, str, str],
    slots: list[Slot],
    now: dt.datetime,
) -> dict[str, object]:
    """Waiting trucks now and the minutes to call them all (see the module docstring)."""
    where = (
        WaitingTruck.crossing_code == route[0],
        WaitingTruck.exit_country == route[1],
        WaitingTruck.entry_country == route[2],
    )
    waiting = (
        s.scalar(
            select(func.count())
            .select_from(WaitingTruck)
            .where(*where, WaitingTruck.state == "waiting")
        )
        or 0
    )
    window = timedelta(minutes=platform.settings.queue_callforward_rate_minutes)
    calls = (
        s.scalar(
            select(func.count())
            .select_from(WaitingTruck)
            .where(*where, WaitingTruck.called_at >= now - window)
        )
        or 0
    )
    per_hour = calls / (window.total_seconds() / 3600)
    basis: str | None = "call_rate"
    if per_hour <= 0:
        hour = now.astimezone(
            dt.timezone(timedelta(hours=platform.settings.queue_utc_offset_hours))
        ).hour
        per_hour = float(sum(r.capacity for r in slots if r.hour == hour))
        basis = "slot_capacity"
    if per_hour <= 0:
        return {"waiting": waiting, "estimated_wait_minutes": None, "estimate_basis": None}
    return {
        "waiting": waiting,
        "estimated_wait_minutes": round(waiting / per_hour * 60, 1),
        "estimate_basis": basis,
    }
