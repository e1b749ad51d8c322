"""The assumptions of the demo-scale generator: crossings and their shares, the calendar, the
goods, the traders and the organisations that lodge, book and report.

Every figure here is an assumption of order of magnitude (docs/analytics.md, "Demo-scale
lake", lists them); crossings, offices and opening hours come from the shipped crossings file,
goods and unit values from the demo catalog.
"""

from __future__ import annotations

import calendar
import datetime as dt
import random
import re
from dataclasses import dataclass, field

import numpy as np

from silkgate.analytics.generator_ids import hex_chars, mix64, strings, zipf_weights
from silkgate.codelists.crossings import get_crossing
from silkgate.codelists.identifiers import generate_kz_bin, generate_uscc
from silkgate.demo.catalog import CHINA_TO_KAZAKHSTAN, KAZAKHSTAN_TO_CHINA

COUNTRIES = ("CN", "KZ")  # index 0, 1; direction r = 0 is CN→KZ, r = 1 is KZ→CN
OFFSETS = ("+08:00", "+05:00")  # each checkpoint reports its local time
#: Share of consignments per crossing, and of those the share going China → Kazakhstan.
CROSSINGS = {
    "KHG-NZH": (0.55, 0.72),
    "ALA-DOS": (0.25, 0.66),
    "BAK-TAC": (0.12, 0.55),
    "JEM-MAI": (0.05, 0.60),
    "DUL-KOL": (0.03, 0.70),
}
#: Waiting area → call-forward, hours (lognormal mean, sd): Alashankou's queues are the long ones.
QUEUE_HOURS = {
    "KHG-NZH": (3.0, 3.0),
    "ALA-DOS": (9.0, 8.0),
    "BAK-TAC": (1.5, 1.5),
    "JEM-MAI": (1.0, 1.0),
    "DUL-KOL": (1.0, 1.0),
}
#: Offices that score with a model (the others assess by profile only: no score, no model id).
MODEL_CROSSINGS = frozenset({"KHG-NZH", "ALA-DOS", "BAK-TAC"})
MONTH_FACTOR = np.array(
    [
        [0.85, 0.75, 0.95, 1.0, 1.0, 1.0, 1.0, 1.05, 1.1, 1.05, 1.15, 1.1],  # CN→KZ
        [0.9, 0.85, 0.9, 0.9, 0.9, 0.9, 0.95, 1.05, 1.25, 1.3, 1.2, 1.0],  # KZ→CN: harvest
    ]
)
HARVEST = np.array([1.0, 0.9, 0.8, 0.6, 0.5, 0.5, 0.6, 1.2, 1.8, 2.0, 1.7, 1.2])  # grain weight
WEEKDAY_FACTOR = np.array([1.05, 1.05, 1.05, 1.05, 1.0, 0.9, 0.75])  # Monday first
#: Chinese New Year (day 1) for the years the generator accepts; the week around it is quiet.
NEW_YEAR = {
    2018: (2, 16),
    2019: (2, 5),
    2020: (1, 25),
    2021: (2, 12),
    2022: (2, 1),
    2023: (1, 22),
    2024: (2, 10),
    2025: (1, 29),
    2026: (2, 17),
    2027: (2, 6),
    2028: (1, 26),
    2029: (2, 13),
    2030: (2, 3),
    2031: (1, 23),
    2032: (2, 11),
    2033: (1, 31),
    2034: (2, 19),
    2035: (2, 8),
}
YEARS = (min(NEW_YEAR), max(NEW_YEAR))
CURRENCIES = ("USD", "CNY", "KZT")
USD_RATE = np.array([1.0, 7.2, 500.0])  # units of each currency per USD, fixed for the year
#: HS chapters whose import side is undervalued by some importers: (chapters, low, high).
UNDERVALUED = ({61, 62, 64, 85}, 0.20, 0.50), ({72, 74}, 0.05, 0.15)
UNDERVALUING_IMPORTERS = (0.15, 0.10)  # share of importers, per direction
DANGEROUS = frozenset({"847130", "870323", "870421"})  # as the demo's e-queue books them
ROLES = ("broker", "customs-service", "carrier", "e-port")
ROLE_SHARE = np.array([[0.60, 0.10, 0.20, 0.10], [0.40, 0.35, 0.15, 0.10]])  # lodged with CN, KZ
ROLE_POOL = {"broker": (40, 60), "customs-service": (8, 25), "carrier": (30, 30)}
TRADER_POOL = ((2500, 3500), (600, 500))  # (exporters, importers) per direction
ZIPF = 1.1


@dataclass(frozen=True)
class Crossing:
    code: str
    share: float
    cn_to_kz: float
    queue: tuple[float, float]
    days_open: np.ndarray  # 7 booleans, Monday first
    opens: int  # minutes after midnight, Beijing time
    closes: int
    offices: tuple[str, str]  # customs office of the CN side, the KZ side
    customs: tuple[str, str]  # member ids of the reporting organisations, CN side then KZ
    eports: tuple[str, str]
    scored: bool


def _hours(text: str) -> tuple[np.ndarray, int, int]:
    """Opening hours as the crossings file gives them: ``24/7`` or ``Mon-Fri 09:00-18:00 …``."""
    if text.strip() == "24/7":
        return np.ones(7, bool), 0, 1440
    m = re.match(r"Mon-(Sun|Fri) (\d\d):(\d\d)-(\d\d):(\d\d) Beijing time", text)
    if m is None:
        raise ValueError(f"opening hours {text!r} are not understood by the generator")
    days = np.array([True] * 5 + [m[1] == "Sun"] * 2)
    return days, int(m[2]) * 60 + int(m[3]), int(m[4]) * 60 + int(m[5])


def _member(country: str, kind: str, key: str) -> str:
    """A stable member id (valid USCC or BIN) for a generated organisation."""
    rng = random.Random(f"silkgate-generator:{key}")
    if country == "CN":
        return f"CN/{kind}/{generate_uscc(rng, kind='11' if kind == 'GOV' else '91')}"
    return f"KZ/{kind}/{generate_kz_bin(rng)}"


def load_crossings() -> tuple[Crossing, ...]:
    out = []
    for code, (share, cn_to_kz) in CROSSINGS.items():
        c = get_crossing(code)
        days, opens, closes = _hours(c.side("CN").hours)
        out.append(
            Crossing(
                code,
                share,
                cn_to_kz,
                QUEUE_HOURS[code],
                days,
                opens,
                closes,
                (c.office_for("CN").code, c.office_for("KZ").code),
                (
                    _member("CN", "GOV", f"{code}:CN:customs"),
                    _member("KZ", "GOV", f"{code}:KZ:customs"),
                ),
                (
                    _member("CN", "COM", f"{code}:CN:eport"),
                    _member("KZ", "COM", f"{code}:KZ:eport"),
                ),
                code in MODEL_CROSSINGS,
            )
        )
    return tuple(out)


@dataclass(frozen=True)
class Catalog:
    """The demo catalog as arrays; index = commodity, ``direction`` 0 CN→KZ, 1 KZ→CN."""

    hs6: tuple[str, ...]
    description: tuple[str, ...]
    direction: np.ndarray
    chapter: np.ndarray
    kgpp: np.ndarray  # (n, 2) kg per package, low and high
    uv_mu: np.ndarray  # log of USD per kg: the catalog's range is the central 90 %
    uv_sigma: np.ndarray
    weight: np.ndarray
    bulk: np.ndarray  # heavy goods (≥ 200 kg a package): full loads only
    grain: np.ndarray
    undervalued: np.ndarray
    dangerous: np.ndarray
    hs_codes: tuple[str, ...] = field(default=())  # national 10-digit codes: (c, country, k)

    @staticmethod
    def build() -> Catalog:
        goods = [(0, g) for g in CHINA_TO_KAZAKHSTAN] + [(1, g) for g in KAZAKHSTAN_TO_CHINA]
        chapter = np.array([int(g.hs6[:2]) for _, g in goods])
        direction = np.array([d for d, _ in goods])
        lo = np.log([g.usd_per_kg[0] for _, g in goods])
        hi = np.log([g.usd_per_kg[1] for _, g in goods])
        flagged = np.array(
            [ch in UNDERVALUED[d][0] for d, ch in zip(direction, chapter, strict=True)]
        )
        suffixes = (("0000", "9000", "1000"), ("0000", "0009", "0001"))
        return Catalog(
            hs6=tuple(g.hs6 for _, g in goods),
            description=tuple(g.description for _, g in goods),
            direction=direction,
            chapter=chapter,
            kgpp=np.array([g.kg_per_package for _, g in goods], dtype=float),
            uv_mu=(lo + hi) / 2,
            uv_sigma=np.maximum((hi - lo) / (2 * 1.645), 0.05),
            weight=np.array([g.weight for _, g in goods], dtype=float),
            bulk=np.array([g.kg_per_package[0] >= 200 for _, g in goods]),
            grain=np.isin(chapter, (10, 12)),
            undervalued=flagged,
            dangerous=np.array([g.hs6 in DANGEROUS for _, g in goods]),
            hs_codes=tuple(g.hs6 + s for _, g in goods for country in suffixes for s in country),
        )


@dataclass(frozen=True)
class Traders:
    """One direction's exporters and importers: pseudonymous refs, Zipf volumes, habits."""

    export_p: np.ndarray
    import_p: np.ndarray
    export_refs: np.ndarray  # (n, 20) hex characters
    import_refs: np.ndarray
    aeo: np.ndarray  # per exporter
    undervalues: np.ndarray  # per importer: the share of value left off, 0 for honest ones

    @staticmethod
    def build(direction: int, seed: int) -> Traders:
        rng = np.random.default_rng([seed, 101, direction])
        n_exp, n_imp = TRADER_POOL[direction]
        share, (_, low, high) = UNDERVALUING_IMPORTERS[direction], UNDERVALUED[direction]
        cheat = rng.random(n_imp) < share
        return Traders(
            export_p=zipf_weights(n_exp, ZIPF)[rng.permutation(n_exp)],
            import_p=zipf_weights(n_imp, ZIPF)[rng.permutation(n_imp)],
            export_refs=_refs(seed, 2 * direction, n_exp),
            import_refs=_refs(seed, 2 * direction + 1, n_imp),
            aeo=rng.random(n_exp) < 0.12,
            undervalues=np.where(cheat, rng.uniform(low, high, n_imp), 0.0),
        )


def _refs(seed: int, pool: int, n: int) -> np.ndarray:
    """20-hex-digit pseudonymous ids, unique within the pool (a bijection of the index)."""
    idx = np.arange(n, dtype=np.uint64) + np.uint64(pool << 32)
    a, b = mix64(idx, seed * 1_000_003 + 17), mix64(idx, seed * 1_000_003 + 29)
    return np.hstack([hex_chars(a, 16), hex_chars(b, 4)])


def organisations(crossings: tuple[Crossing, ...]) -> dict[tuple[str, str], tuple[str, ...]]:
    """Member ids that lodge declarations and book slots, by (country, role); e-port operators
    lodge only at their own crossing and are looked up from ``Crossing.eports``."""
    return {
        (k, role): tuple(_member(k, "COM", f"{k}:{role}:{i}") for i in range(sizes[j]))
        for role, sizes in ROLE_POOL.items()
        for j, k in enumerate(COUNTRIES)
    }


@dataclass(frozen=True)
class Calendar:
    """Crossing days of the year (UTC+offset) and each day's weight per crossing, direction."""

    year: int
    days: int
    first_day: int  # days since 1970-01-01 of 1 January
    month_of_day: np.ndarray
    weekday: np.ndarray
    weights: np.ndarray  # (crossing, direction, day), summing to 1

    @staticmethod
    def build(year: int, crossings: tuple[Crossing, ...]) -> Calendar:
        first = dt.date(year, 1, 1)
        days = 366 if calendar.isleap(year) else 365
        dates = [first + dt.timedelta(days=d) for d in range(days)]
        month = np.array([d.month - 1 for d in dates])
        weekday = np.array([d.weekday() for d in dates])
        holiday = np.ones(days)
        ny = (dt.date(year, *NEW_YEAR[year]) - first).days
        holiday[max(0, ny - 1) : ny + 6] = 0.35  # Spring Festival
        holiday[(dt.date(year, 10, 1) - first).days : (dt.date(year, 10, 8) - first).days] = 0.7
        holiday[(dt.date(year, 3, 21) - first).days : (dt.date(year, 3, 24) - first).days] *= 0.8
        weights = np.zeros((len(crossings), 2, days))
        for i, c in enumerate(crossings):
            for r, share in enumerate((c.cn_to_kz, 1 - c.cn_to_kz)):
                f = MONTH_FACTOR[r, month] * WEEKDAY_FACTOR[weekday] * holiday
                f = f * c.days_open[weekday]
                weights[i, r] = c.share * share * f / f.sum()
        epoch = (first - dt.date(1970, 1, 1)).days
        return Calendar(year, days, epoch, month, weekday, weights)


def ref_strings(chars: np.ndarray, idx: np.ndarray) -> object:
    """Rows of a pool's reference characters, as an Arrow string column."""
    return strings(chars[idx])


class Fleet:
    """Tractors per crossing and nationality, used in turn in arrival order, so a truck comes
    back about every ``SPACING_DAYS`` and never has two passages at once."""

    SPACING_DAYS = 10

    def __init__(self, seed: int, crossings: tuple[Crossing, ...], trips: float) -> None:
        sizes = []
        for c in crossings:
            cn = c.cn_to_kz * 0.6 + (1 - c.cn_to_kz) * 0.3  # CN tractors' share of the trips
            daily = trips * c.share / (365 * c.days_open.mean())
            sizes.append(
                [max(8, int(np.ceil(self.SPACING_DAYS * daily * k))) for k in (cn, 1 - cn)]
            )
        self.size = np.array(sizes)
        self.first = (np.cumsum(self.size.ravel()) - self.size.ravel()).reshape(self.size.shape)
        self.used = np.zeros_like(self.size)
        self.refs = _refs(seed, 1000, int(self.size.sum()))

    def assign(
        self,
        rng: np.random.Generator,
        crossing: np.ndarray,
        direction: np.ndarray,
        arrival: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Tractor nationality (0 CN, 1 KZ; each side's trucks carry its exports mostly) and
        the tractor of each consignment."""
        nationality = (rng.random(len(crossing)) >= np.where(direction == 0, 0.6, 0.3)).astype(int)
        truck = np.zeros(len(crossing), np.int64)
        for c in range(self.size.shape[0]):
            for k in (0, 1):
                idx = np.flatnonzero((crossing == c) & (nationality == k))
                idx = idx[np.argsort(arrival[idx], kind="stable")]
                turn = self.used[c, k] + np.arange(len(idx))
                truck[idx] = self.first[c, k] + turn % self.size[c, k]
                self.used[c, k] += len(idx)
        return nationality, truck


class Declarants:
    """Who lodges each trader's declarations: one organisation per trader and lodging country,
    in a role drawn by the lodging country's shares (e-port operators at their own crossing)."""

    def __init__(self, crossings: tuple[Crossing, ...]) -> None:
        pools = organisations(crossings)
        self.labels: list[str] = []
        self.pool_first: dict[tuple[int, int], tuple[int, int]] = {}
        for (k, role), members in pools.items():
            self.pool_first[(COUNTRIES.index(k), ROLES.index(role))] = (
                len(self.labels),
                len(members),
            )
            self.labels += members
        self.eport_first = len(self.labels)
        self.labels += [c.eports[k] for c in crossings for k in range(2)]

    def of(
        self, trader: np.ndarray, pool: np.ndarray, country: np.ndarray, crossing: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(role, member label index) for traders of a pool lodging with ``country``."""
        h = mix64(trader.astype(np.uint64) + (pool.astype(np.uint64) << np.uint64(32)), 0x5EED)
        u = (h >> np.uint64(11)).astype(np.float64) / 2.0**53
        role = (u[:, None] >= ROLE_SHARE.cumsum(1)[country][:, :3]).sum(1)
        member = self.eport_first + crossing * 2 + country
        for (k, r), (first, size) in self.pool_first.items():
            sel = (country == k) & (role == r)
            member[sel] = first + (h[sel] % np.uint64(size)).astype(np.int64)
        return role, member
