"""Public live queue figures per crossing and day: aggregates only (no plates, no names)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from silkgate.codelists.crossings import get_crossing
from silkgate.core.errors import NotFound
from silkgate.core.platform import Platform
from silkgate.queue import planning
from silkgate.queue.models import DayPlan, Slot
from silkgate.queue.schemas import DirectionFigures, HourFigures, PublicQueue, QuotaClass
from silkgate.queue.service import local_today


def public_queue(platform: Platform, crossing: str, day: dt.date | None = None) -> PublicQueue:
    """Booked counts per direction, hour and class; ``waiting`` awaits the gate events."""
    try:
        c = get_crossing(crossing)
    except KeyError:
        raise NotFound(f"crossing {crossing}") from None
    day = day or local_today(platform, platform.clock())
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
            live = 0
            for r in slots:
                if r.quota_class == QuotaClass.LIVE.value:
                    live += r.capacity
                    continue
                h = hours.setdefault(r.hour, HourFigures(hour=r.hour, capacity=0, booked=0))
                h.capacity += r.capacity
                h.booked += r.booked
                k = classes.setdefault(r.quota_class, {"capacity": 0, "booked": 0})
                k["capacity"] += r.capacity
                k["booked"] += r.booked
            out.append(
                DirectionFigures(
                    exit_country=exit_c,
                    entry_country=entry_c,
                    planned=plan is not None,
                    daily_cap=cap,
                    bookable=sum(h.capacity for h in hours.values()),
                    booked=sum(h.booked for h in hours.values()),
                    live_capacity=live,
                    by_class=classes,
                    by_hour=[hours[h] for h in sorted(hours)],
                )
            )
    return PublicQueue(
        crossing=crossing,
        day=day,
        utc_offset_hours=platform.settings.queue_utc_offset_hours,
        directions=out,
    )
