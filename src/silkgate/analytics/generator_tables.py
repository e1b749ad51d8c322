"""A simulated chunk of days as the lake's datasets: Arrow columns by name, and each row's partition
(owner country, crossing, crossing day) as numbers."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from silkgate.analytics.generator_control import LANES, SOURCES
from silkgate.analytics.generator_ids import (
    US_PER_DAY,
    US_PER_HOUR,
    digit_chars,
    pick,
    ragged_arange,
    strings,
    time_ids,
    timestamps,
)
from silkgate.analytics.generator_sim import Chunk, World
from silkgate.analytics.generator_trade import ORIGINS, item_values
from silkgate.analytics.generator_world import COUNTRIES, CURRENCIES, ROLES

TYPES = ("export", "transit", "import")
STATUSES = ("released", "rejected", "cancelled")
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


def tables(w: World, m: Chunk, names: Collection[str]) -> dict[str, tuple[Columns, Part]]:
    return Tables(w, m).build(names)


class Tables:
    def __init__(self, w: World, m: Chunk) -> None:
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

    def build(self, names: Collection[str]) -> dict[str, tuple[Columns, Part]]:
        """The datasets named (the lake's), each as columns and partitions."""
        from silkgate.analytics import generator_passages as passages

        goods = self.goods_items()  # first: declarations need its totals
        out = {
            "declarations": self.declarations(),
            "goods_items": goods,
            "lanes": self.lanes(),
            "inspections": self.inspections(),
        }
        ids = passages.booking_ids(self)
        out["bookings"] = passages.bookings(self, ids)
        out["gate_events"], out["gate_event_refs"] = passages.gate_events(self, ids[0])
        if "queue_day_plans" in names:
            out["queue_day_plans"] = passages.day_plans(self)
        return {name: out[name] for name in names if name in out}

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
