"""Consignments of a few days, their goods items, and the declarations both sides hold of them.

A consignment is one truck's load through one crossing. Its **exit-side** declaration (export,
or transit) is lodged with the exit country; its **entry-side** declaration (import, the mirror)
with the entry country. Both hold the same goods; for some HS chapters some importers declare
less value (the gap mirror statistics look for), and import values are CIF where export values
are FOB. A few declarations are amended once (version 2, masses corrected at weighing).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from silkgate.analytics.generator_ids import ragged_arange
from silkgate.analytics.generator_world import HARVEST, USD_RATE, Calendar, Catalog, Traders

KINDS = ("trade", "transit", "import-only")
KIND_SHARE = np.array([[0.88, 0.08, 0.04], [0.92, 0.03, 0.05]])  # per direction
MIRROR = np.array([0.85, 0.80])  # trade consignments whose import is declared at the crossing
AMEND = 0.02  # declarations amended once
MISDECLARED = np.array([0.025, 0.03])  # other misdeclarations (exit side, entry side)
GROUPAGE = 0.6  # CN→KZ consignments of many consumer-goods lines (the rest: full loads)
SURPLUS = 1.08  # consignments drawn beyond the expectation, then cut to the target
CHUNK_ITEMS = 250_000
VALUE_CAP = 60_000.0  # USD, median value of a China → Kazakhstan truck load


@dataclass
class Shipments:
    """Consignment-level arrays of one chunk (length C); ``has``/``amend``: (C, 2) by side,
    side 0 lodged with the exit country, side 1 with the entry country."""

    crossing: np.ndarray
    direction: np.ndarray
    day: np.ndarray  # crossing day, index within the year
    kind: np.ndarray
    has: np.ndarray
    amend: np.ndarray
    n_items: np.ndarray
    groupage: np.ndarray

    def __len__(self) -> int:
        return len(self.crossing)

    def rows(self) -> np.ndarray:
        """Goods-item rows each consignment puts in the lake (every version of every side)."""
        return self.n_items * (self.has.sum(1) + self.amend.sum(1))

    def take(self, idx: np.ndarray) -> Shipments:
        return Shipments(*(getattr(self, f)[idx] for f in self.__dataclass_fields__))


def draw_shape(rng: np.random.Generator, direction: np.ndarray) -> Shipments:
    """What decides a consignment's row count: kind, mirror, amendments, number of items."""
    n = len(direction)
    u = rng.random(n)
    cum = KIND_SHARE.cumsum(1)[direction]
    kind = (u[:, None] >= cum[:, :2]).sum(1)
    has = np.column_stack(
        [kind < 2, (kind == 2) | ((kind == 0) & (rng.random(n) < MIRROR[direction]))]
    )
    amend = has & (rng.random((n, 2)) < AMEND)
    groupage = (direction == 0) & (rng.random(n) < GROUPAGE)
    full = np.where(
        direction == 0, 1 + rng.binomial(2, 0.3, n), rng.choice([1, 2, 3], n, p=[0.8, 0.15, 0.05])
    )
    many = 1 + np.minimum(rng.negative_binomial(2, 2 / 16, n), 98)  # mean about 15 lines
    items = np.where(groupage, many, full)
    zero = np.zeros(n, np.int64)
    return Shipments(zero, direction, zero, kind, has, amend, items, groupage)


def rows_per_shipment(seed: int) -> np.ndarray:
    """Mean goods-item rows of a consignment per direction (a fixed pilot sample)."""
    rng = np.random.default_rng([seed, 7])
    return np.array([draw_shape(rng, np.full(50_000, r)).rows().mean() for r in (0, 1)])


def chunks(cal: Calendar, total: int) -> list[np.ndarray]:
    """Days of the year in chunks of consecutive days within a month, about ``CHUNK_ITEMS``
    goods items each (memory stays bounded whatever the size)."""
    per_month = min(8, max(1, int(np.ceil(total / 12 / CHUNK_ITEMS))))
    return [
        part
        for month in range(12)
        for part in np.array_split(np.flatnonzero(cal.month_of_day == month), per_month)
    ]


def chunk_targets(
    cal: Calendar, total: int, per_shipment: np.ndarray, parts: list[np.ndarray]
) -> np.ndarray:
    """Goods items per chunk (summing to ``total``), from the days' weights."""
    load = (cal.weights * per_shipment[None, :, None]).sum((0, 1))
    by_part = np.array([load[days].sum() for days in parts])
    exact = total * by_part / by_part.sum()
    out = np.floor(exact).astype(np.int64)
    out[np.argsort(out - exact)[: total - out.sum()]] += 1  # largest remainders
    return out


def plan(
    rng: np.random.Generator,
    cal: Calendar,
    days: np.ndarray,
    target: int,
    per_shipment: np.ndarray,
) -> Shipments:
    """Consignments of these days whose goods-item rows add up to exactly ``target``."""
    w = cal.weights[:, :, days]
    expected = target / ((w * per_shipment[None, :, None]).sum() / w.sum())
    parts: list[Shipments] = []
    got = 0
    while got < target:
        counts = rng.poisson(w / w.sum() * max(expected, 1.0) * SURPLUS)
        c, r, d = np.nonzero(counts)
        reps = counts[c, r, d]
        s = draw_shape(rng, np.repeat(r, reps))
        s.crossing, s.day = np.repeat(c, reps), days[np.repeat(d, reps)]
        parts.append(s)
        got += int(s.rows().sum())
    pool = parts[0] if len(parts) == 1 else _concat(parts)
    order = rng.permutation(len(pool))
    cum = np.cumsum(pool.rows()[order])
    k = int(np.searchsorted(cum, target))  # first consignment reaching the target
    kept = pool.take(np.sort(order[: k + 1]))
    last = int(np.searchsorted(np.sort(order[: k + 1]), order[k]))
    kept.n_items[last] = target - (int(cum[k - 1]) if k else 0)  # a lone export of the rest
    kept.kind[last], kept.groupage[last] = 0, False
    kept.has[last], kept.amend[last] = (True, False), (False, False)
    return kept


def _concat(parts: list[Shipments]) -> Shipments:
    return Shipments(
        *(np.concatenate([getattr(p, f) for p in parts]) for f in Shipments.__dataclass_fields__)
    )


@dataclass
class Items:
    """One row per goods item of a consignment (as the exporter ships it, values in USD)."""

    shipment: np.ndarray
    item_no: np.ndarray
    commodity: np.ndarray
    suffix: np.ndarray
    origin: np.ndarray  # index into ORIGINS
    packages: np.ndarray
    net: np.ndarray
    gross: np.ndarray
    usd: np.ndarray
    start: np.ndarray  # per consignment: index of its first item


ORIGINS = ("CN", "KZ", "VN", "KR", "TR", "RU", "UZ")


def draw_items(rng: np.random.Generator, cat: Catalog, s: Shipments, month: int) -> Items:
    n = s.n_items
    ship = np.repeat(np.arange(len(s)), n)
    m = len(ship)
    weights = [cat.weight * (cat.direction == r) for r in (0, 1)]
    weights[1] = weights[1] * np.where(cat.grain, HARVEST[month], 1.0)
    loose = cat.weight * (cat.direction == 0) * ~cat.bulk
    one = np.empty(len(s), np.int64)  # the commodity of a full load
    for r in (0, 1):
        sel = s.direction == r
        one[sel] = rng.choice(len(cat.hs6), sel.sum(), p=weights[r] / weights[r].sum())
    per_line = rng.choice(len(cat.hs6), m, p=loose / loose.sum())
    commodity = np.where(s.groupage[ship], per_line, one[ship])
    tonnes = np.where(
        s.groupage,
        rng.uniform(6, 20, len(s)),
        np.where(s.direction == 0, rng.uniform(14, 24, len(s)), rng.uniform(20, 25, len(s))),
    )
    share = rng.gamma(1.0, 1.0, m)
    start = np.cumsum(n) - n
    share = share / np.add.reduceat(share, start)[ship]
    kgpp = rng.uniform(cat.kgpp[commodity, 0], cat.kgpp[commodity, 1])
    unit = np.exp(rng.normal(cat.uv_mu[commodity], cat.uv_sigma[commodity]))  # USD per kg
    kg = tonnes[ship] * 1000 * share
    # light valuable goods fill a trailer's volume long before its mass limit: a China → KZ
    # load worth more than its cap (lognormal, median USD 60,000) carries proportionally less
    worth = np.add.reduceat(kg * unit, start)
    cap = np.exp(rng.normal(np.log(VALUE_CAP), 0.8, len(s)))
    kg *= np.where(s.direction == 0, np.minimum(1.0, cap / worth), 1.0)[ship]
    packages = np.maximum(1, np.round(kg / kgpp)).astype(np.int64)
    net = np.round(packages * kgpp, 1)
    gross = np.round(net * rng.uniform(1.02, 1.12, m), 1)
    usd = net * unit
    home = s.direction[ship]  # origin: the exit country mostly, a few re-exports
    foreign = rng.random(m) < np.where(home == 0, 0.05, 0.03)
    other = np.where(home == 0, rng.integers(2, 5, m), rng.integers(5, 7, m))
    return Items(
        shipment=ship,
        item_no=ragged_arange(n) + 1,
        commodity=commodity,
        suffix=rng.choice(3, m, p=[0.6, 0.3, 0.1]),
        origin=np.where(foreign, other, home),
        packages=packages,
        net=net,
        gross=gross,
        usd=usd,
        start=start,
    )


@dataclass
class Parties:
    exporter: np.ndarray
    importer: np.ndarray
    currency: np.ndarray  # index into CURRENCIES, the invoice's (both sides declare it)
    undervalue: np.ndarray  # share of value the importer leaves off flagged chapters
    bad: np.ndarray  # (C, 2): the declaration on that side is misdeclared


def draw_parties(
    rng: np.random.Generator,
    traders: tuple[Traders, Traders],
    s: Shipments,
    it: Items,
    cat: Catalog,
) -> Parties:
    c = len(s)
    exporter, importer = np.zeros(c, np.int64), np.zeros(c, np.int64)
    undervalue = np.zeros(c)
    for r in (0, 1):
        sel = s.direction == r
        t = traders[r]
        exporter[sel] = rng.choice(len(t.export_p), sel.sum(), p=t.export_p)
        importer[sel] = rng.choice(len(t.import_p), sel.sum(), p=t.import_p)
        undervalue[sel] = t.undervalues[importer[sel]]
    flagged = np.logical_or.reduceat(cat.undervalued[it.commodity], it.start)
    local = np.where(s.direction == 0, 1, 2)  # CNY from China, KZT from Kazakhstan
    currency = np.where(rng.random(c) < 0.85, 0, local)
    bad = rng.random((c, 2)) < MISDECLARED
    bad[:, 1] |= flagged & (undervalue > 0)
    return Parties(exporter, importer, currency, undervalue, bad & s.has)


def item_values(
    it: Items, p: Parties, cat: Catalog, side: int, rng: np.random.Generator, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Invoice and customs value of item rows ``rows`` as declared on ``side`` (in the
    invoice currency): exports FOB at full value; imports CIF, flagged chapters undervalued."""
    ship = it.shipment[rows]
    value = it.usd[rows] * USD_RATE[p.currency[ship]]
    if side == 0:
        invoice = np.round(value, 2)
        return invoice, invoice
    cut = np.where(cat.undervalued[it.commodity[rows]], p.undervalue[ship], 0.0)
    invoice = np.round(value * (1 - cut), 2)
    return invoice, np.round(invoice * rng.uniform(1.02, 1.08, len(rows)), 2)
