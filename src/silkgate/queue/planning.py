"""From caps to slots: opening hours, the binding cap, hourly and quota split, re-planning."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from silkgate.codelists.crossings import get_crossing
from silkgate.queue.models import CapacityCap, DayPlan, Slot
from silkgate.queue.schemas import QuotaClass

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_HOURS_RE = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)-(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (\d\d):00-(\d\d):00"
)


def open_hours(text: str, weekday: int) -> set[int]:
    """Local hours (0–23) open on a weekday (0 = Monday) for an hours text of crossings.toml.

    Understood forms: ``24/7`` and ``Mon-Fri 09:00-18:00 …`` (whole hours); anything else
    raises ValueError rather than guessing.
    """
    if text.strip() == "24/7":
        return set(range(24))
    m = _HOURS_RE.match(text.strip())
    if not m:
        raise ValueError(f"opening hours not understood: {text!r}")
    first, last = _DAYS.index(m.group(1)), _DAYS.index(m.group(2))
    if not first <= weekday <= last:
        return set()
    return set(range(int(m.group(3)), int(m.group(4))))


def crossing_hours(crossing: str, day: dt.date) -> list[int]:
    """Hours open on both sides (a truck needs both checkpoints open)."""
    c = get_crossing(crossing)
    hours = set(range(24))
    for side in c.sides:
        hours &= open_hours(side.hours, day.weekday())
    return sorted(hours)


def largest_remainder(total: int, weights: Sequence[float]) -> list[int]:
    """Split ``total`` in proportion to ``weights`` into integers that add up to ``total``."""
    s = sum(weights)
    if total <= 0 or s <= 0:
        return [0] * len(weights)
    raw = [total * w / s for w in weights]
    out = [int(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - out[i]), i))
    for i in order[: total - sum(out)]:
        out[i] += 1
    return out


@dataclass(frozen=True)
class Binding:
    """The cap that binds a day (the lower side) and the record its split comes from."""

    daily_cap: int
    source: CapacityCap
    cap_ids: list[int]


def caps_in_force(
    s: Session, crossing: str, exit_c: str, entry_c: str, day: dt.date
) -> dict[str, CapacityCap]:
    """Each side's newest cap valid on ``day``."""
    rows = s.scalars(
        select(CapacityCap)
        .where(
            CapacityCap.crossing_code == crossing,
            CapacityCap.exit_country == exit_c,
            CapacityCap.entry_country == entry_c,
            CapacityCap.valid_from <= day,
        )
        .order_by(CapacityCap.valid_from, CapacityCap.version)
    )
    found: dict[str, CapacityCap] = {}
    for r in rows:
        found[r.side] = r  # later valid_from / version wins
    return found


def binding_cap(
    s: Session, crossing: str, exit_c: str, entry_c: str, day: dt.date
) -> Binding | None:
    """The lower of both sides' caps; None unless both sides have a cap in force."""
    return binding_of(caps_in_force(s, crossing, exit_c, entry_c, day), exit_c, entry_c)


def binding_of(caps: dict[str, CapacityCap], exit_c: str, entry_c: str) -> Binding | None:
    """The binding cap of each side's cap in force (side → cap); None unless both sides have
    one. Pure, so ``audit verify`` re-plans slots from the caps exactly as planning did."""
    if set(caps) != {exit_c, entry_c}:
        return None
    # ties: the exit side's split applies
    source = min((caps[exit_c], caps[entry_c]), key=lambda c: (c.daily_cap, c.side != exit_c))
    return Binding(source.daily_cap, source, sorted(c.id for c in caps.values()))


def class_totals(cap: int, quotas: dict[str, float], live_share: float) -> dict[str, int]:
    """Daily slots per class: priority shares, the live share, the rest regular."""
    names = [q.value for q in QuotaClass if q.value in quotas] + [QuotaClass.LIVE.value]
    shares = [quotas[n] for n in names[:-1]] + [live_share]
    rest = max(0.0, 1.0 - sum(shares))
    split = largest_remainder(cap, [*shares, rest])
    out: dict[str, int] = dict(zip([*names, QuotaClass.REGULAR.value], split, strict=True))
    return out


def slot_plan(binding: Binding, hours: list[int]) -> dict[tuple[int, str], int]:
    """Capacity per (hour, class): each class's daily total spread over open hours by profile."""
    if not hours:
        return {}
    src = binding.source
    profile = src.hourly_profile
    weights = [profile[h] for h in hours] if profile else [1.0] * len(hours)
    if sum(weights) <= 0:
        weights = [1.0] * len(hours)
    out: dict[tuple[int, str], int] = {}
    for cls, total in class_totals(binding.daily_cap, src.quotas, src.live_share).items():
        for h, n in zip(hours, largest_remainder(total, weights), strict=True):
            out[(h, cls)] = n
    return out


def slot_start(day: dt.date, hour: int, offset_hours: int) -> datetime:
    """UTC start of a local slot hour."""
    local = datetime.combine(day, dt.time(hour), tzinfo=dt.timezone(timedelta(hours=offset_hours)))
    return local.astimezone(UTC)


def ensure_planned(
    s: Session, crossing: str, exit_c: str, entry_c: str, day: dt.date, offset: int, now: datetime
) -> bool:
    """Create the day's slot rows from the caps in force if not done yet; False without caps.

    Concurrent planners race on the day plan's unique key; the loser sees the winner's rows.
    """
    key = and_(
        DayPlan.crossing_code == crossing,
        DayPlan.exit_country == exit_c,
        DayPlan.entry_country == entry_c,
        DayPlan.day == day,
    )
    if s.scalar(select(DayPlan.id).where(key)) is not None:
        return True
    binding = binding_cap(s, crossing, exit_c, entry_c, day)
    if binding is None:
        return False
    try:
        with s.begin_nested():
            s.add(
                DayPlan(
                    crossing_code=crossing,
                    exit_country=exit_c,
                    entry_country=entry_c,
                    day=day,
                    daily_cap=binding.daily_cap,
                    cap_ids=binding.cap_ids,
                    planned_at=now,
                )
            )
            s.flush()
            for (hour, cls), cap in slot_plan(binding, crossing_hours(crossing, day)).items():
                s.add(
                    Slot(
                        crossing_code=crossing,
                        exit_country=exit_c,
                        entry_country=entry_c,
                        day=day,
                        hour=hour,
                        starts_at=slot_start(day, hour, offset),
                        quota_class=cls,
                        capacity=cap,
                        booked=0,
                    )
                )
            s.flush()
    except IntegrityError:
        pass  # planned by a concurrent request
    return True


def replan(
    s: Session,
    crossing: str,
    exit_c: str,
    entry_c: str,
    since: dt.date,
    now: datetime,
    offset: int,
) -> tuple[list[dt.date], list[str]]:
    """Re-plan planned days from ``since`` after a cap change; only slots still to come change.

    Returns the days re-planned and the bookings that no longer fit (the latest booked of an
    over-full slot are displaced first); those are flagged ``displaced``, never dropped.
    """
    from silkgate.queue.models import ACTIVE_STATUSES, Booking

    plans = list(
        s.scalars(
            select(DayPlan).where(
                DayPlan.crossing_code == crossing,
                DayPlan.exit_country == exit_c,
                DayPlan.entry_country == entry_c,
                DayPlan.day >= since,
            )
        )
    )
    days: list[dt.date] = []
    displaced: list[str] = []
    for plan in plans:
        binding = binding_cap(s, crossing, exit_c, entry_c, plan.day)
        target = slot_plan(binding, crossing_hours(crossing, plan.day)) if binding else {}
        plan.daily_cap = binding.daily_cap if binding else 0
        plan.cap_ids = binding.cap_ids if binding else []
        slots = {
            (r.hour, r.quota_class): r
            for r in s.scalars(
                select(Slot).where(
                    Slot.crossing_code == crossing,
                    Slot.exit_country == exit_c,
                    Slot.entry_country == entry_c,
                    Slot.day == plan.day,
                )
            )
        }
        for key in set(slots) | set(target):
            row = slots.get(key)
            cap = target.get(key, 0)
            if row is None:
                row = Slot(
                    crossing_code=crossing,
                    exit_country=exit_c,
                    entry_country=entry_c,
                    day=plan.day,
                    hour=key[0],
                    starts_at=slot_start(plan.day, key[0], offset),
                    quota_class=key[1],
                    capacity=cap,
                    booked=0,
                )
                s.add(row)
                continue
            starts = row.starts_at if row.starts_at.tzinfo else row.starts_at.replace(tzinfo=UTC)
            if starts <= now:
                continue
            row.capacity = cap
            if row.booked > cap:
                over = list(
                    s.scalars(
                        select(Booking.id)
                        .where(
                            Booking.slot_id == row.id,
                            Booking.status.in_(ACTIVE_STATUSES),
                            Booking.displaced.is_(False),
                        )
                        .order_by(Booking.created_at.desc(), Booking.id.desc())
                        .limit(row.booked - cap)
                    )
                )
                for b in s.scalars(select(Booking).where(Booking.id.in_(over))):
                    b.displaced = True
                    b.updated_at = now
                displaced += over
        days.append(plan.day)
    s.flush()
    return days, sorted(displaced)
