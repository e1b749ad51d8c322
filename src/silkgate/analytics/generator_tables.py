"""A simulated chunk of days as the lake's datasets: Arrow columns by name, and each row's partition
(owner country, crossing, crossing day) as numbers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from silkgate.analytics import generator_border as border
from silkgate.analytics.generator_control import LANES, SOURCES
from silkgate.analytics.generator_ids import (
    US_PER_DAY,
    US_PER_HOUR,
    digit_chars,
    hex_ids,
    mix64,
    pick,
    ragged_arange,
    strings,
    time_ids,
    timestamps,
)
from silkgate.analytics.generator_sim import Month, World
from silkgate.analytics.generator_trade import ORIGINS, item_values
from silkgate.analytics.generator_world import COUNTRIES, CURRENCIES, OFFSETS, ROLES

TYPES = ("export", "transit", "import")
STATUSES = ("released", "rejected", "cancelled")
QUOTAS = ("regular", "aeo_tir", "dangerous_goods", "live")
BOOKING_STATUSES = ("exited", "no_show", "cancelled")
DANGEROUS_BOOKED = 0.3  # loads with ADR goods (lithium batteries, vehicles) booked as such
#: A route's daily cap, set for each chunk of days: its busiest day's booked slots over this
#: (an assumption: caps leave about a tenth of headroom), in steps of ten, planned 14 days ahead.
CAP_HEADROOM, CAP_STEP, PLANNED_DAYS_AHEAD = 0.9, 10, 14
Columns = dict[str, pa.Array]


@dataclass
class Part:
    """Each row's partition: owner country index, crossing index, crossing day (epoch days)."""

    owner: np.ndarray
    crossing: np.ndarray
    day: np.ndarray

    def key(self) -> np.ndarray:
        """One sortable number per row: partitions in the lake's order, days within."""
        return (self.owner.astype(np.int64) * 64 + self.crossing) * 1_000_000 + self.day

    def order(self) -> np.ndarray:
        return np.argsort(self.key(), kind="stable")

    def take(self, idx: np.ndarray) -> Part:
        return Part(self.owner[idx], self.crossing[idx], self.day[idx])


def tables(w: World, m: Month) -> dict[str, tuple[Columns, Part]]:
    return Tables(w, m).build()


class Tables:
    def __init__(self, w: World, m: Month) -> None:
        self.w, self.m = w, m
        self.rng = np.random.default_rng([w.seed, w.year, m.chunk, 1])
        self.n = n = len(m.s)
        self.codes = [c.code for c in w.crossings]
        seq = w.take("declaration", 2 * n)
        self.decl_seq = seq
        self.decl_ids = pa.concat_arrays(
            [time_ids(m.lodged[:, k] // 1000, seq[k::2], w.seed * 31 + 1) for k in (0, 1)]
        )
        self.trader = np.concatenate([m.parties.exporter, m.parties.importer])
        chars = np.zeros((2 * n, 20), np.uint8)
        for k, who in enumerate((m.parties.exporter, m.parties.importer)):
            for r, t in enumerate(w.traders):
                sel = np.flatnonzero(m.s.direction == r)
                pool = t.export_refs if k == 0 else t.import_refs
                chars[k * n + sel] = pool[who[sel]]
        self.trader_chars = chars
        self.totals = np.zeros((3, 2, n))  # gross, invoice, customs value of the latest version
        role, member = [], []
        for k in (0, 1):
            who = m.parties.exporter if k == 0 else m.parties.importer
            who_role, mem = w.declarants.of(
                who, 2 * m.s.direction + k, m.lodging[:, k], m.s.crossing
            )
            role.append(who_role)
            member.append(mem)
        self.role, self.member = np.concatenate(role), np.concatenate(member)

    def day(self, us: np.ndarray) -> np.ndarray:
        return ((us + self.w.offset_h * US_PER_HOUR) // US_PER_DAY).astype(np.int32)

    def build(self) -> dict[str, tuple[Columns, Part]]:
        goods = self.goods_items()  # first: declarations need its totals
        out = {
            "declarations": self.declarations(),
            "goods_items": goods,
            "lanes": self.lanes(),
            "inspections": self.inspections(),
            "bookings": self.bookings(),
        }
        out["queue_day_plans"] = self.queue_day_plans()
        out["gate_events"], out["gate_event_refs"] = self.gate_events()
        return out

    def goods_items(self) -> tuple[Columns, Part]:
        m, it, cat = self.m, self.m.items, self.w.catalog
        cols: dict[str, list[np.ndarray]] = {
            k: []
            for k in ("ship", "side", "version", "item", "gross", "invoice", "customs", "created")
        }
        for side in (0, 1):
            for version, mask in ((1, m.s.has[:, side]), (2, m.s.amend[:, side])):
                ships = np.flatnonzero(mask)
                counts = m.s.n_items[ships]
                item = np.repeat(it.start[ships], counts) + ragged_arange(counts)
                invoice, customs = item_values(it, m.parties, cat, side, self.rng, item)
                gross = it.gross[item]
                if version == 2:  # the amendment: masses corrected after weighing
                    gross = np.round(gross * self.rng.uniform(0.97, 1.03, len(item)), 1)
                if len(ships):
                    starts = np.cumsum(counts) - counts
                    for i, v in enumerate((gross, invoice, customs)):
                        self.totals[i, side, ships] = np.add.reduceat(v, starts)
                created = (m.lodged if version == 1 else m.amended)[:, side]
                for k, v in (
                    ("ship", np.repeat(ships, counts)),
                    ("item", item),
                    ("side", np.full(len(item), side)),
                    ("gross", gross),
                    ("version", np.full(len(item), version)),
                    ("invoice", invoice),
                    ("customs", customs),
                    ("created", np.repeat(created[ships], counts)),
                ):
                    cols[k].append(v)
        c = {k: np.concatenate(v) for k, v in cols.items()}
        ship, row_side = c["ship"], c["side"]
        order = Part(
            m.lodging[ship, row_side], m.s.crossing[ship], self.day(m.lodged[ship, row_side])
        ).order()
        c = {k: v[order] for k, v in c.items()}  # rows in partition order: files are slices
        ship, row_side, item = c["ship"], c["side"], c["item"]
        lodging = m.lodging[ship, row_side]
        direction = m.s.direction[ship]
        kind = np.where(row_side == 1, 2, np.minimum(m.s.kind[ship], 1))
        submitted = m.lodged[ship, row_side]
        hs = it.commodity[item] * 6 + lodging * 3 + it.suffix[item]
        columns = {
            "version_created_at": timestamps(c["created"]),
            "declaration_id": self.decl_ids.take(pa.array(row_side * self.n + ship)),
            "version": pa.array(c["version"], pa.int64()),
            "item_no": pa.array(it.item_no[item], pa.int64()),
            "hs_code": pick(cat.hs_codes, hs),
            "hs6": pick(cat.hs6, it.commodity[item]),
            "description": pick(cat.description, it.commodity[item]),
            "origin_country": pick(ORIGINS, it.origin[item]),
            "packages": pa.array(it.packages[item], pa.int64()),
            "gross_mass_kg": pa.array(c["gross"], pa.float64()),
            "net_mass_kg": pa.array(it.net[item], pa.float64()),
            "invoice_value": pa.array(c["invoice"], pa.float64()),
            "customs_value": pa.array(c["customs"], pa.float64()),
            "currency": pick(CURRENCIES, m.parties.currency[ship]),
            "type": pick(TYPES, kind),
            "exit_country": pick(COUNTRIES, direction),
            "entry_country": pick(COUNTRIES, 1 - direction),
            "crossing_code": pick(self.codes, m.s.crossing[ship]),
            "submitted_at": timestamps(submitted),
            "lodging_state": pick(COUNTRIES, lodging),
            "trader_ref": strings(self.trader_chars[row_side * self.n + ship]),
        }
        return columns, Part(lodging, m.s.crossing[ship], self.day(submitted))

    def _decl_rows(self) -> tuple[np.ndarray, np.ndarray]:
        m = self.m
        ships = [np.flatnonzero(m.s.has[:, k]) for k in (0, 1)]
        ship, side = np.concatenate(ships), np.repeat([0, 1], [len(s) for s in ships])
        order = Part(
            m.lodging[ship, side], m.s.crossing[ship], self.day(m.lodged[ship, side])
        ).order()
        return ship[order], side[order]

    def declarations(self) -> tuple[Columns, Part]:
        m, n = self.m, self.n
        ship, side = self._decl_rows()
        gone = m.schedule.abandoned[ship]
        cancel = m.schedule.cancelled_at[ship] + (self.rng.uniform(1, 60, len(ship)) * 60e6).astype(
            np.int64
        )
        done = np.where(side == 0, m.passage.released_exit[ship], m.passage.end[ship])
        status = np.where(gone, 2, np.where((side == 1) & m.passage.refused[ship], 1, 0))
        kind = np.where(side == 1, 2, np.minimum(m.s.kind[ship], 1))
        lodging = m.lodging[ship, side]
        submitted = m.lodged[ship, side]
        seq = self.decl_seq[2 * ship + side]
        lrn = strings(
            np.array([[67, 78], [75, 90]], np.uint8)[lodging],  # CN, KZ
            digit_chars(np.full(len(ship), self.w.year % 100), 2),
            np.frombuffer(b"ETI", np.uint8)[kind][:, None],
            digit_chars(seq, 10),
        )
        lane = np.where(side == 0, m.lanes[0].final[ship], m.lanes[1].final[ship])
        direction = m.s.direction[ship]
        columns = {
            "updated_at": timestamps(np.where(gone, cancel, done)),
            "declaration_id": self.decl_ids.take(pa.array(side * n + ship)),
            "lrn": lrn,
            "type": pick(TYPES, kind),
            "status": pick(STATUSES, status),
            "version": pa.array(1 + m.s.amend[ship, side], pa.int64()),
            "declarant": pick(self.w.declarants.labels, self.member[side * n + ship]),
            "crossing_code": pick(self.codes, m.s.crossing[ship]),
            "exit_country": pick(COUNTRIES, direction),
            "entry_country": pick(COUNTRIES, 1 - direction),
            "item_count": pa.array(m.s.n_items[ship], pa.int64()),
            "total_gross_kg": pa.array(np.round(self.totals[0, side, ship], 1), pa.float64()),
            "total_invoice_value": pa.array(np.round(self.totals[1, side, ship], 2), pa.float64()),
            "currency": pick(CURRENCIES, m.parties.currency[ship]),
            "lane": pick(LANES, lane),
            "submitted_at": timestamps(submitted),
            "lodging_state": pick(COUNTRIES, lodging),
            "trader_ref": strings(self.trader_chars[side * n + ship]),
            "declarant_role": pick(ROLES, self.role[side * n + ship]),
        }
        return columns, Part(lodging, m.s.crossing[ship], self.day(submitted))

    def lanes(self) -> tuple[Columns, Part]:
        m, w = self.m, self.w
        a0, a1 = m.lanes
        ship = np.concatenate([a0.ship, a1.ship])
        side = np.repeat([0, 1], [len(a0.ship), len(a1.ship)])

        at = np.concatenate([a0.assessed_at, a1.assessed_at])
        order = Part(m.lodging[ship, side], m.s.crossing[ship], self.day(at)).order()
        ship, side = ship[order], side[order]

        def cat(name: str) -> np.ndarray:
            return np.concatenate([getattr(a0, name), getattr(a1, name)])[order]

        at, over_at, over = cat("assessed_at"), cat("overridden_at"), cat("override_lane")
        ids = np.empty(len(ship), np.int64)
        ids[np.argsort(at, kind="stable")] = w.take("assessment", len(ship)) + 1
        lodging = m.lodging[ship, side]
        office = m.s.crossing[ship] * 2 + lodging
        model, score = cat("model"), cat("score")
        kind = np.where(side == 1, 2, np.minimum(m.s.kind[ship], 1))
        offices = [c.offices[k] for c in w.crossings for k in (0, 1)]
        models = [f"{o.lower()}-gbm-{w.year}.{v}" for o in offices for v in (1, 2)]
        lane = cat("assessed_lane")
        columns = {
            "changed_at": timestamps(np.where(over_at >= 0, over_at, at)),
            "assessment_id": pa.array(ids, pa.int64()),
            "declaration_id": self.decl_ids.take(pa.array(side * self.n + ship)),
            "version": pa.array(cat("version"), pa.int64()),
            "office": pick(offices, office),
            "direction": pick(TYPES, kind),
            "assessed_lane": pick(LANES, lane),
            "override_lane": pick(LANES, np.maximum(over, 0), over < 0),
            "final_lane": pick(LANES, np.where(over >= 0, over, lane)),
            "source": pick(SOURCES, cat("source")),
            "score": pa.array(np.round(score, 6), pa.float64(), mask=np.isnan(score)),
            "model_id": pick(models, office * 2 + np.maximum(model, 0), model < 0),
            "profile_version": pa.array(cat("profile_version"), pa.int64()),
            "assessed_at": timestamps(at),
            "overridden_at": timestamps(over_at, over_at < 0),
        }
        return columns, Part(lodging, m.s.crossing[ship], self.day(at))

    def inspections(self) -> tuple[Columns, Part]:
        m, w, p = self.m, self.w, self.m.passage
        picked = [np.flatnonzero(p.travel & m.s.has[:, k] & p.inspected[:, k]) for k in (0, 1)]
        ship = np.concatenate(picked)
        side = np.repeat([0, 1], [len(x) for x in picked])
        order = Part(
            m.lodging[ship, side], m.s.crossing[ship], self.day(p.inspection_end[ship, side])
        ).order()
        ship, side = ship[order], side[order]
        at = p.inspection_end[ship, side]
        hit = p.found[ship, side]
        ids = np.empty(len(ship), np.int64)
        ids[np.argsort(at, kind="stable")] = w.take("inspection", len(ship)) + 1
        lodging = m.lodging[ship, side]
        rate = np.where(
            m.parties.bad[ship, side],
            self.rng.uniform(0.05, 0.25, len(ship)),
            self.rng.uniform(0.01, 0.1, len(ship)),
        )
        duties = np.round(self.totals[2, side, ship] * rate, 2)
        findings = np.where(hit, 1 + self.rng.poisson(0.4, len(ship)), 0)
        offices = [c.offices[k] for c in w.crossings for k in (0, 1)]
        columns = {
            "recorded_at": timestamps(at),
            "inspection_id": pa.array(ids, pa.int64()),
            "declaration_id": self.decl_ids.take(pa.array(side * self.n + ship)),
            "version": pa.array(1 + m.s.amend[ship, side], pa.int64()),
            "office": pick(offices, m.s.crossing[ship] * 2 + lodging),
            "outcome": pick(("no_discrepancy", "discrepancy"), hit.astype(np.int64)),
            "findings": pa.array(findings, pa.int64()),
            "duties_amount": pa.array(duties, pa.float64(), mask=~hit),
            "duties_currency": pick(CURRENCIES, m.parties.currency[ship], ~hit),
        }
        return columns, Part(lodging, m.s.crossing[ship], self.day(at))

    def booking_ids(self) -> tuple[pa.Array, pa.Array]:
        sc = self.m.schedule
        seq = self.w.take("booking", 2 * self.n)
        salt = self.w.seed * 31 + 2
        return (
            time_ids(sc.booked_at // 1000, seq[0::2], salt),
            time_ids(sc.ghost_created // 1000, seq[1::2], salt),
        )

    def bookings(self) -> tuple[Columns, Part]:
        m, w, sc, n = self.m, self.w, self.m.schedule, self.n
        main_ids, ghost_ids = self.booking_ids()
        self.main_ids = main_ids
        main = np.flatnonzero(~sc.walkin | ~sc.abandoned)  # an abandoned walk-in never came
        ghost = np.flatnonzero(~sc.abandoned & (sc.ghost > 0))
        ship = np.concatenate([main, ghost])
        is_ghost = np.repeat([False, True], [len(main), len(ghost)])
        slot = np.where(is_ghost, sc.ghost_slot[ship], sc.slot[ship])
        order = Part(m.s.direction[ship], m.s.crossing[ship], self.day(slot)).order()
        ship, is_ghost, slot = ship[order], is_ghost[order], slot[order]
        created = np.where(is_ghost, sc.ghost_created[ship], sc.booked_at[ship])
        gone = sc.abandoned[ship]
        updated = np.where(
            is_ghost,
            sc.ghost_end[ship],
            np.where(gone, sc.cancelled_at[ship], m.passage.exit_gate[ship]),
        )
        status = np.where(is_ghost, np.where(sc.ghost[ship] == 1, 1, 2), np.where(gone, 2, 0))
        u = self.rng.random((4, len(ship)))
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
        first, size = np.array(
            [w.declarants.pool_first[(k, ROLES.index("carrier"))] for k in (0, 1)]
        ).T
        carrier = first[nat] + (mix64(m.truck[ship], 77) % size[nat].astype(np.uint64)).astype(
            np.int64
        )
        primary = np.where(m.s.has[ship, 0], ship, n + ship)
        org = np.where(u[3] < 0.4, carrier, self.member[primary])
        listed = np.where(
            is_ghost,
            1,
            m.s.has[ship, 0].astype(np.int64) + (m.s.has[ship, 1] & (m.lodged[ship, 1] < created)),
        )
        local = slot + w.offset_h * US_PER_HOUR
        booked = ~is_ghost & ~sc.walkin[ship] & ~gone
        self.slots_booked = (  # route and day of every slot taken through the e-queue
            m.s.direction[ship][~sc.walkin[ship]],
            m.s.crossing[ship][~sc.walkin[ship]],
            self.day(slot)[~sc.walkin[ship]],
        )
        columns = {
            "updated_at": timestamps(updated),
            "booking_id": pa.concat_arrays([main_ids, ghost_ids]).take(
                pa.array(is_ghost * n + ship)
            ),
            "organization": pick(w.declarants.labels, org),
            "crossing_code": pick(self.codes, m.s.crossing[ship]),
            "exit_country": pick(COUNTRIES, m.s.direction[ship]),
            "entry_country": pick(COUNTRIES, 1 - m.s.direction[ship]),
            "day": pa.array(self.day(slot), pa.date32()),
            "hour": pa.array((local % US_PER_DAY) // US_PER_HOUR, pa.int64()),
            "starts_at": timestamps(slot),
            "quota_class": pick(QUOTAS, quota),
            "truck_ref": strings(w.fleet.refs[m.truck[ship]]),
            "tractor_nationality": pick(COUNTRIES, nat),
            "declarations": pa.array(listed, pa.int64()),
            "status": pick(BOOKING_STATUSES, status),
            "reschedules": pa.array(
                (booked & (self.rng.random(len(ship)) < 0.04)).astype(np.int64)
            ),
            "displaced": pa.array(booked & (self.rng.random(len(ship)) < 0.005)),
            "no_show_at": timestamps(sc.ghost_end[ship], status != 1),
            "created_at": timestamps(created),
        }
        return columns, Part(m.s.direction[ship], m.s.crossing[ship], self.day(slot))

    def queue_day_plans(self) -> tuple[Columns, Part]:
        """One planned day per route (crossing, direction) and day with e-queue slots taken."""
        direction, crossing, day = self.slots_booked
        route_day = (crossing.astype(np.int64) * 2 + direction) * 1_000_000 + day
        keys, per_day = np.unique(route_day, return_counts=True)
        route, days = keys // 1_000_000, (keys % 1_000_000).astype(np.int32)
        busiest = np.zeros(int(route.max()) + 1 if len(route) else 0, np.int64)
        np.maximum.at(busiest, route, per_day)
        cap = np.ceil(busiest[route] / CAP_HEADROOM / CAP_STEP).astype(np.int64) * CAP_STEP
        crossing_of, direction_of = route // 2, route % 2
        planned = (days.astype(np.int64) - PLANNED_DAYS_AHEAD) * US_PER_DAY - (
            self.w.offset_h * US_PER_HOUR
        )
        columns = {
            "changed_at": timestamps(planned),
            "plan_id": pa.array(self.w.take("day_plan", len(days)) + 1, pa.int64()),
            "crossing_code": pick(self.codes, crossing_of),
            "exit_country": pick(COUNTRIES, direction_of),
            "entry_country": pick(COUNTRIES, 1 - direction_of),
            "day": pa.array(days, pa.date32()),
            "daily_cap": pa.array(cap, pa.int64()),
            "planned_at": timestamps(planned),
        }
        return columns, Part(direction_of, crossing_of, days)

    def gate_events(self) -> tuple[tuple[Columns, Part], tuple[Columns, Part]]:
        m, w, n = self.m, self.w, self.n
        ev = self.m.events
        country = np.where(ev.side == 0, m.s.direction[ev.ship], 1 - m.s.direction[ev.ship])
        order = Part(country, m.s.crossing[ev.ship], self.day(ev.time)).order()
        moved = np.empty(len(order), np.int64)
        moved[order] = np.arange(len(order))
        named = ev.corrects[order]
        ev = border.Events(*(getattr(ev, f)[order] for f in border.Events.__dataclass_fields__))
        ev.corrects = np.where(named >= 0, moved[np.maximum(named, 0)], -1)
        ship, country = ev.ship, country[order]
        ids = hex_ids(w.take("event", len(ship)), w.seed * 31 + 3, self.rng, 64)
        crossing = m.s.crossing[ship]
        reporters = [
            who for c in w.crossings for k in (0, 1) for who in (c.customs[k], c.eports[k])
        ]
        eport = border.EPORT_POINTS[ev.point].astype(np.int64)
        part = Part(country, crossing, self.day(ev.time))
        record, when = timestamps(ev.record), timestamps(ev.time)
        columns = {
            "record_time": record,
            "event_id": ids,
            "crossing_code": pick(self.codes, crossing),
            "side": pick(COUNTRIES, country),
            "read_point": pick(border.READ_POINTS, ev.point),
            "biz_step": pick(border.BIZ_STEPS, border.BIZ_STEP[ev.point]),
            "disposition": pick(
                border.DISPOSITIONS, np.maximum(ev.disposition, 0), ev.disposition < 0
            ),
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
        booked = np.flatnonzero(
            ~(m.schedule.walkin[ship] & (ev.point == border.RP["waiting_area"]))
        )
        rows = np.concatenate([np.arange(len(ship)), booked])
        is_booking = np.repeat([0, 1], [len(ship), len(booked)])
        order = part.take(rows).order()
        rows, is_booking = rows[order], is_booking[order]
        refs = {
            "record_time": record.take(pa.array(rows)),
            "event_id": ids.take(pa.array(rows)),
            "ref_type": pick(("declaration", "booking"), is_booking),
            "ref": pa.concat_arrays([self.decl_ids, self.main_ids]).take(
                pa.array(np.where(is_booking, 2 * n + ship[rows], (decl_side * n + ship)[rows]))
            ),
            "event_time": when.take(pa.array(rows)),
            "crossing_code": columns["crossing_code"].take(pa.array(rows)),
            "side": columns["side"].take(pa.array(rows)),
        }
        ref_part = Part(part.owner[rows], part.crossing[rows], part.day[rows])
        return (columns, part), (refs, ref_part)
