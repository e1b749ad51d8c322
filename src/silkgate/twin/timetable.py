"""Opening hours: turn a stage's shifts into the weekly steps of its server count."""

from __future__ import annotations

import numpy as np

from silkgate.twin.schemas import Stage, hhmm_minutes, parse_days

WEEK = 7 * 1440


def weekly_changes(stage: Stage) -> list[tuple[int, int]]:
    """[(minute of week, servers from then on), ...], starting at Monday 00:00.

    Overlapping shifts add up (handover overlap); a shift whose end is before its start runs
    past midnight into the next day, and Sunday night runs into Monday morning.
    """
    if stage.shifts is None:
        return [(0, stage.servers)]
    delta = np.zeros(WEEK + 1, dtype=np.int64)
    for shift in stage.shifts:
        servers = stage.servers if shift.servers is None else shift.servers
        start, end = hhmm_minutes(shift.start), hhmm_minutes(shift.end)
        length = end - start if end > start else end + 1440 - start
        for day in parse_days(shift.days):
            a = day * 1440 + start
            b = a + length
            if b <= WEEK:
                delta[a] += servers
                delta[b] -= servers
            else:
                delta[a] += servers
                delta[WEEK] -= servers
                delta[0] += servers
                delta[b - WEEK] -= servers
    level = np.cumsum(delta[:WEEK])
    change = np.flatnonzero(np.diff(level)) + 1
    points = [0, *change.tolist()]
    return [(int(m), int(level[m])) for m in points]


def open_hours_per_week(stage: Stage) -> float:
    """Hours per week with at least one server on duty (for reports)."""
    ch = weekly_changes(stage)
    ends = [m for m, _ in ch[1:]] + [WEEK]
    return sum(b - a for (a, s), b in zip(ch, ends, strict=True) if s > 0) / 60
