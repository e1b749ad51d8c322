"""Seeded generator of realistic declarations through Khorgos–Nur Zholy.

The same generator feeds `silkgate demo`, the ingest benchmark and the digital twin, so
figures from all three describe the same traffic.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from silkgate.codelists.identifiers import (
    generate_container_number,
    generate_kz_bin,
    generate_uscc,
)
from silkgate.demo.catalog import CHINA_TO_KAZAKHSTAN, KAZAKHSTAN_TO_CHINA, Commodity

CN_CITIES = (
    ("Urumqi", "830000", "650100"),
    ("Khorgos", "835221", "654004"),
    ("Yiwu", "322000", "330782"),
    ("Guangzhou", "510000", "440100"),
    ("Xi'an", "710000", "610100"),
)
KZ_CITIES = (
    ("Almaty", "050000"),
    ("Astana", "010000"),
    ("Shymkent", "160000"),
    ("Karaganda", "100000"),
    ("Zharkent", "041300"),
)
CN_SURNAMES = ("Wang", "Li", "Zhang", "Liu", "Chen", "Ma", "Aili", "Maimaiti")
KZ_NAMES = (
    "Nurlan Akhmetov",
    "Yerlan Seitkali",
    "Askar Dzhaksybekov",
    "Daniyar Omarov",
    "Serik Bekov",
    "Marat Tulegenov",
)
CROSSING = "KHG-NZH"
CN_BRANDS = ("Tianshan", "Silk Road", "Golden Bridge", "Xinyuan", "Huaxin")
KZ_BRANDS = ("Kazimport", "Dala Trade", "Altyn Kopir", "Zhetysu Logistics", "Steppe Metals")


def cn_plate(rng: random.Random) -> str:
    return "新F" + "".join(rng.choice(string.digits + "ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(5))


def kz_plate(rng: random.Random) -> str:
    return (
        f"{rng.randint(100, 999)}{''.join(rng.choice('ABCDEFGHKLMNOPRSTUXYZ') for _ in range(3))}05"
    )


@dataclass
class Trader:
    name: str
    identifier: str
    country: str
    street: str
    city: str
    postcode: str

    def party(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "identifier": self.identifier,
            "country": self.country,
            "address": {
                "street": self.street,
                "city": self.city,
                "postcode": self.postcode,
                "country": self.country,
            },
        }


def make_traders(
    rng: random.Random, n_cn: int = 40, n_kz: int = 30
) -> tuple[list[Trader], list[Trader]]:
    """Pools of Chinese and Kazakh companies with valid identifiers."""
    cn = []
    for i in range(n_cn):
        city, post, division = rng.choice(CN_CITIES)
        cn.append(
            Trader(
                f"{city} {rng.choice(CN_BRANDS)} Trading Co., Ltd. No.{i + 1}",
                generate_uscc(rng, division),
                "CN",
                f"{rng.randint(1, 300)} Jiefang Road",
                city,
                post,
            )
        )
    kz = []
    for i in range(n_kz):
        city, post = rng.choice(KZ_CITIES)
        kz.append(
            Trader(
                f"{rng.choice(KZ_BRANDS)} LLP No.{i + 1}",
                generate_kz_bin(rng),
                "KZ",
                f"{rng.randint(1, 200)} Abai Avenue",
                city,
                post,
            )
        )
    return cn, kz


def _goods_item(rng: random.Random, c: Commodity, origin: str) -> dict[str, Any]:
    most = max(1, min(40, int(20_000 / (c.kg_per_package[1] * 1.12))))
    packages = rng.randint(1, most)
    net = round(packages * rng.uniform(*c.kg_per_package), 1)
    gross = round(net * rng.uniform(1.02, 1.12), 1)
    value = round(net * rng.uniform(*c.usd_per_kg), 2)
    return {
        "hs_code": c.hs6 + (f"{rng.randint(0, 9)}0" if rng.random() < 0.3 else ""),
        "description": c.description,
        "origin_country": origin,
        "packages": {"count": packages, "kind": c.package_kind},
        "gross_mass_kg": gross,
        "net_mass_kg": net,
        "invoice_value": value,
        "customs_value": round(value * rng.uniform(1.0, 1.08), 2),
    }


def _fit_to_truck(items: list[dict[str, Any]], limit_kg: float = 24_000.0) -> list[dict[str, Any]]:
    kept: list[dict[str, Any]] = []
    total = 0.0
    for it in items:
        if kept and total + it["gross_mass_kg"] > limit_kg:
            break
        kept.append(it)
        total += it["gross_mass_kg"]
    return kept


class TrafficGenerator:
    """Deterministic stream of declaration bodies for one crossing (seeded)."""

    def __init__(self, seed: int = 7, cn_to_kz_share: float = 0.7) -> None:
        self.rng = random.Random(seed)
        self.cn_traders, self.kz_traders = make_traders(self.rng)
        self.cn_to_kz_share = cn_to_kz_share
        self._counter = 0

    def declaration(self, when: datetime | None = None, lrn_prefix: str = "DEMO") -> dict[str, Any]:
        """One declaration body, as a declarant would send it to the API."""
        rng = self.rng
        self._counter += 1
        when = when or datetime(2026, 11, 1)
        outbound = rng.random() < self.cn_to_kz_share
        catalog: tuple[Commodity, ...]
        if outbound:
            exit_c, entry_c, catalog = "CN", "KZ", CHINA_TO_KAZAKHSTAN
            exporter, importer = rng.choice(self.cn_traders), rng.choice(self.kz_traders)
            plate, nationality = (
                (cn_plate(rng), "CN") if rng.random() < 0.6 else (kz_plate(rng), "KZ")
            )
        else:
            exit_c, entry_c, catalog = "KZ", "CN", KAZAKHSTAN_TO_CHINA
            exporter, importer = rng.choice(self.kz_traders), rng.choice(self.cn_traders)
            plate, nationality = (
                (kz_plate(rng), "KZ") if rng.random() < 0.7 else (cn_plate(rng), "CN")
            )
        r = rng.random()
        kind = "export" if r < 0.85 else ("transit" if r < 0.93 else "import")
        destination = entry_c
        if kind == "transit":
            destination = rng.choice(("UZ", "KG", "TJ")) if outbound else "CN"
        weights = [c.weight for c in catalog]
        n_items = rng.choices((1, 2, 3, 4, 5), weights=(35, 30, 18, 10, 7))[0]
        items = _fit_to_truck(
            [_goods_item(rng, c, exit_c) for c in rng.choices(catalog, weights=weights, k=n_items)]
        )
        currency = "USD" if rng.random() < 0.8 else ("CNY" if outbound else "KZT")
        driver_name = (
            f"{rng.choice(CN_SURNAMES)} {rng.choice(('Wei', 'Jun', 'Tao', 'Yong'))}"
            if nationality == "CN"
            else rng.choice(KZ_NAMES)
        )
        passport_letter = "E" if nationality == "CN" else "N"
        body: dict[str, Any] = {
            "lrn": f"{lrn_prefix}-{when:%y%m%d}-{self._counter:07d}",
            "type": kind,
            "exporter": exporter.party(),
            "importer": importer.party(),
            "country_of_export": exit_c,
            "country_of_destination": destination,
            "crossing": {"code": CROSSING, "exit_country": exit_c, "entry_country": entry_c},
            "transport": {"tractor_plate": plate, "tractor_nationality": nationality},
            "driver": {
                "name": driver_name,
                "document_number": f"{passport_letter}{rng.randint(10_000_000, 99_999_999)}",
                "document_country": nationality,
            },
            "invoice": {
                "number": f"INV-{when:%Y%m}-{rng.randint(1000, 99999)}",
                "date": (when.date() - timedelta(days=rng.randint(1, 10))).isoformat(),
                "currency": currency,
                "incoterm": rng.choice(("DAP", "FCA", "CPT", "EXW", "DAP")),
                "incoterm_place": "Nur Zholy" if outbound else "Khorgos",
                "total_amount": round(sum(i["invoice_value"] for i in items), 2),
            },
            "goods_items": items,
            "totals": {
                "packages": sum(i["packages"]["count"] for i in items),
                "gross_mass_kg": round(sum(i["gross_mass_kg"] for i in items), 3),
            },
        }
        if rng.random() < 0.35:
            body["containers"] = [
                {
                    "number": generate_container_number(rng),
                    "seals": [f"S{rng.randint(100000, 999999)}"],
                }
            ]
        else:
            body["seals"] = [f"S{rng.randint(100000, 999999)}"]
        if rng.random() < 0.25:
            body["tir_carnet"] = (
                f"X{rng.choice('ABCDEFGHJKLMNPQRSTUVWXYZ')}{rng.randint(10_000_000, 99_999_999)}"
            )
        return body

    def day(self, day: date, count: int, lrn_prefix: str = "DEMO") -> list[dict[str, Any]]:
        """``count`` declarations submitted over one day (times spread by a daytime profile)."""
        out = []
        for _ in range(count):
            hour = self.rng.choices(
                range(24),
                weights=[1, 1, 1, 1, 1, 2, 4, 6, 8, 9, 9, 9, 8, 8, 8, 8, 7, 6, 5, 4, 3, 2, 2, 1],
            )[0]
            when = datetime(day.year, day.month, day.day, hour, self.rng.randint(0, 59))
            out.append(self.declaration(when, lrn_prefix))
        return out
