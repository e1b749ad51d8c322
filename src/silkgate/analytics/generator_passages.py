"""The trucks' datasets of a simulated chunk: e-queue bookings, gate events with the
declarations and bookings they name, and the e-queue's planned days with their caps."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from silkgate.analytics import generator_border as border
from silkgate.analytics.generator_ids import (
    US_PER_DAY,
    US_PER_HOUR,
    hex_ids,
    mix64,
    pick,
    strings,
    time_ids,
    timestamps,
)
from silkgate.analytics.generator_tables import Columns, Part, Tables
from silkgate.analytics.generator_world import COUNTRIES, OFFSETS, ROLES

QUOTAS = ("regular", "aeo_tir", "dangerous_goods", "live")
BOOKING_STATUSES = ("exited", "no_show", "cancelled")
DANGEROUS_BOOKED = 0.3  # loads with ADR goods (lithium batteries, vehicles) booked as such
PLAN_AHEAD_DAYS = 14  # the e-queue plans a day's slots this long before it
CAP_CHANGE = (8, 20, 9, 1, 1.1)  # caps set on 20 August, valid from 1 September, +10 %


def booking_ids(t: Tables) -> tuple[pa.Array, pa.Array]:
    """Each consignment's booking id, and the id of the earlier booking it missed or cancelled."""
    sc = t.m.schedule
    seq = t.w.take("booking", 2 * t.n)
    salt = t.w.seed * 31 + 2
    return (
        time_ids(sc.booked_at // 1000, seq[0::2], salt),
        time_ids(sc.ghost_created // 1000, seq[1::2], salt),
    )


def bookings(t: Tables, ids: tuple[pa.Array, pa.Array]) -> tuple[Columns, Part]:
    """Each consignment's booking (exited, or cancelled when it never came; a walk-in's row of
    quota ``live``) and the earlier booking some missed (``no_show``) or cancelled."""
    m, w, sc, n = t.m, t.w, t.m.schedule, t.n
    main_ids, ghost_ids = ids
    main = np.flatnonzero(~sc.walkin | ~sc.abandoned)  # an abandoned walk-in never came
    ghost = np.flatnonzero(~sc.abandoned & (sc.ghost > 0))
    ship = np.concatenate([main, ghost])
    is_ghost = np.repeat([False, True], [len(main), len(ghost)])
    slot = np.where(is_ghost, sc.ghost_slot[ship], sc.slot[ship])
    order = Part(m.s.direction[ship], m.s.crossing[ship], t.day(slot)).order()
    ship, is_ghost, slot = ship[order], is_ghost[order], slot[order]
    created = np.where(is_ghost, sc.ghost_created[ship], sc.booked_at[ship])
    gone = sc.abandoned[ship]
    updated = np.where(
        is_ghost,
        sc.ghost_end[ship],
        np.where(gone, sc.cancelled_at[ship], m.passage.exit_gate[ship]),
    )
    status = np.where(is_ghost, np.where(sc.ghost[ship] == 1, 1, 2), np.where(gone, 2, 0))
    u = t.rng.random((4, len(ship)))
    dangerous = np.logical_or.reduceat(w.catalog.dangerous[m.items.commodity], m.items.start)
    aeo = np.zeros(n, bool)
    for r in (0, 1):
        sel = m.s.direction == r
        aeo[sel] = w.traders[r].aeo[m.parties.exporter[sel]]
    quota = np.where(
        dangerous[ship] & (u[0] < DANGEROUS_BOOKED),
        2,
        np.where((aeo[ship] | (u[1] < 0.25)) & (u[2] < 0.85), 1, 0),
    )
    quota = np.where(sc.walkin[ship], 3, quota)
    nat = m.nationality[ship]
    first, size = np.array([w.declarants.pool_first[(k, ROLES.index("carrier"))] for k in (0, 1)]).T
    carrier = first[nat] + (mix64(m.truck[ship], 77) % size[nat].astype(np.uint64)).astype(np.int64)
    primary = np.where(m.s.has[ship, 0], ship, n + ship)
    org = np.where(u[3] < 0.4, carrier, t.member[primary])
    listed = np.where(
        is_ghost,
        1,
        m.s.has[ship, 0].astype(np.int64) + (m.s.has[ship, 1] & (m.lodged[ship, 1] < created)),
    )
    local = slot + w.offset_h * US_PER_HOUR
    booked = ~is_ghost & ~sc.walkin[ship] & ~gone
    columns = {
        "updated_at": timestamps(updated),
        "booking_id": pa.concat_arrays([main_ids, ghost_ids]).take(pa.array(is_ghost * n + ship)),
        "organization": pick(w.declarants.labels, org),
        "crossing_code": pick(t.codes, m.s.crossing[ship]),
        "exit_country": pick(COUNTRIES, m.s.direction[ship]),
        "entry_country": pick(COUNTRIES, 1 - m.s.direction[ship]),
        "day": pa.array(t.day(slot), pa.date32()),
        "hour": pa.array((local % US_PER_DAY) // US_PER_HOUR, pa.int64()),
        "starts_at": timestamps(slot),
        "quota_class": pick(QUOTAS, quota),
        "truck_ref": strings(w.fleet.refs[m.truck[ship]]),
        "tractor_nationality": pick(COUNTRIES, nat),
        "declarations": pa.array(listed, pa.int64()),
        "status": pick(BOOKING_STATUSES, status),
        "reschedules": pa.array((booked & (t.rng.random(len(ship)) < 0.04)).astype(np.int64)),
        "displaced": pa.array(booked & (t.rng.random(len(ship)) < 0.005)),
        "no_show_at": timestamps(sc.ghost_end[ship], status != 1),
        "created_at": timestamps(created),
    }
    return columns, Part(m.s.direction[ship], m.s.crossing[ship], t.day(slot))


def gate_events(t: Tables, main_ids: pa.Array) -> tuple[tuple[Columns, Part], tuple[Columns, Part]]:
    """Gate events in partition order (a correction still names its event), and the
    references each names."""
    m, w, n = t.m, t.w, t.n
    ev = t.m.events
    country = np.where(ev.side == 0, m.s.direction[ev.ship], 1 - m.s.direction[ev.ship])
    order = Part(country, m.s.crossing[ev.ship], t.day(ev.time)).order()
    moved = np.empty(len(order), np.int64)
    moved[order] = np.arange(len(order))
    named = ev.corrects[order]
    ev = border.Events(*(getattr(ev, f)[order] for f in border.Events.__dataclass_fields__))
    ev.corrects = np.where(named >= 0, moved[np.maximum(named, 0)], -1)
    ship, country = ev.ship, country[order]
    ids = hex_ids(w.take("event", len(ship)), w.seed * 31 + 3, t.rng, 64)
    crossing = m.s.crossing[ship]
    reporters = [who for c in w.crossings for k in (0, 1) for who in (c.customs[k], c.eports[k])]
    eport = border.EPORT_POINTS[ev.point].astype(np.int64)
    part = Part(country, crossing, t.day(ev.time))
    record, when = timestamps(ev.record), timestamps(ev.time)
    columns = {
        "record_time": record,
        "event_id": ids,
        "crossing_code": pick(t.codes, crossing),
        "side": pick(COUNTRIES, country),
        "read_point": pick(border.READ_POINTS, ev.point),
        "biz_step": pick(border.BIZ_STEPS, border.BIZ_STEP[ev.point]),
        "disposition": pick(border.DISPOSITIONS, np.maximum(ev.disposition, 0), ev.disposition < 0),
        "truck_ref": strings(w.fleet.refs[m.truck[ship]]),
        "event_time": when,
        "event_offset": pick(OFFSETS, country),
        "corrects": ids.take(pa.array(np.maximum(ev.corrects, 0), mask=ev.corrects < 0)),
        "reporter": pick(reporters, (crossing * 2 + country) * 2 + eport),
    }
    # each event names the declaration lodged with its side (else the other side's) and,
    # after a walk-in has been registered, the truck's booking
    own = m.s.has[ship, ev.side]
    decl_side = np.where(own, ev.side, 1 - ev.side)
    booked = np.flatnonzero(~(m.schedule.walkin[ship] & (ev.point == border.RP["waiting_area"])))
    rows = np.concatenate([np.arange(len(ship)), booked])
    is_booking = np.repeat([0, 1], [len(ship), len(booked)])
    order = part.take(rows).order()
    rows, is_booking = rows[order], is_booking[order]
    refs = {
        "record_time": record.take(pa.array(rows)),
        "event_id": ids.take(pa.array(rows)),
        "ref_type": pick(("declaration", "booking"), is_booking),
        "ref": pa.concat_arrays([t.decl_ids, main_ids]).take(
            pa.array(np.where(is_booking, 2 * n + ship[rows], (decl_side * n + ship)[rows]))
        ),
        "event_time": when.take(pa.array(rows)),
        "crossing_code": columns["crossing_code"].take(pa.array(rows)),
        "side": columns["side"].take(pa.array(rows)),
    }
    ref_part = Part(part.owner[rows], part.crossing[rows], part.day[rows])
    return (columns, part), (refs, ref_part)


def day_plans(t: Tables) -> tuple[Columns, Part]:
    """A row per crossing, direction and open day of the chunk: the binding daily cap (sized
    10 % above the busiest expected day; raised 10 % from 1 September, which re-plans the
    days already planned)."""
    w = t.w
    k = len(w.crossings)
    day = np.repeat(t.m.days, 2 * k)
    crossing = np.tile(np.repeat(np.arange(k), 2), len(t.m.days))
    direction = np.tile([0, 1], k * len(t.m.days))
    epoch = w.calendar.first_day + day
    keep = w.places.open_day(epoch, crossing)
    day, crossing, direction, epoch = day[keep], crossing[keep], direction[keep], epoch[keep]
    set_m, set_d, from_m, from_d, factor = CAP_CHANGE
    first = dt.date(w.year, 1, 1)
    change = (dt.date(w.year, from_m, from_d) - first).days
    offset = w.offset_h * US_PER_HOUR
    set_at = (w.calendar.first_day + (dt.date(w.year, set_m, set_d) - first).days) * US_PER_DAY
    set_at += 10 * US_PER_HOUR - offset
    planned = (epoch - PLAN_AHEAD_DAYS) * US_PER_DAY + 5 * 60_000_000 - offset
    later = day >= change
    changed = np.where(later & (planned < set_at), set_at, planned)
    cap = np.where(later, np.ceil(w.caps[crossing, direction] * factor / 10) * 10,
                   w.caps[crossing, direction]).astype(np.int64)  # fmt: skip
    order = Part(direction, crossing, epoch.astype(np.int32)).order()
    day, crossing, direction, epoch = day[order], crossing[order], direction[order], epoch[order]
    changed, planned, cap = changed[order], planned[order], cap[order]
    columns = {
        "changed_at": timestamps(changed),
        "plan_id": pa.array(w.take("plan", len(day)) + 1, pa.int64()),
        "crossing_code": pick(t.codes, crossing),
        "exit_country": pick(COUNTRIES, direction),
        "entry_country": pick(COUNTRIES, 1 - direction),
        "day": pa.array(epoch.astype(np.int32), pa.date32()),
        "daily_cap": pa.array(cap, pa.int64()),
        "planned_at": timestamps(planned),
    }
    return columns, Part(direction, crossing, epoch.astype(np.int32))
