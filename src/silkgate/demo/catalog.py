"""Commodities that dominate Khorgos–Nur Zholy trade, with plausible packing and unit values.

Sources: the core issue's description of the trade mix (China→Kazakhstan machinery and
electrical goods, vehicles, plastics, apparel and footwear, furniture, steel articles;
Kazakhstan→China ores and metals, grain and oilseeds). Masses and unit values are
assumptions of order of magnitude, in USD per kg.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Commodity:
    hs6: str
    description: str
    kg_per_package: tuple[float, float]
    usd_per_kg: tuple[float, float]
    package_kind: str
    weight: float  # relative frequency within its direction


CHINA_TO_KAZAKHSTAN = (
    Commodity("847130", "Portable computers (laptops)", (8, 25), (60, 140), "CT", 3),
    Commodity("851762", "Network switches and routers", (5, 30), (40, 120), "CT", 3),
    Commodity("850440", "Static converters and power supplies", (10, 40), (8, 30), "CT", 3),
    Commodity("841810", "Combined refrigerator-freezers", (45, 90), (3, 6), "PK", 2),
    Commodity("845011", "Fully automatic washing machines", (50, 80), (3, 5), "PK", 2),
    Commodity("870323", "Passenger cars, 1,500–3,000 cc petrol", (1300, 1700), (8, 20), "NE", 2),
    Commodity("870421", "Diesel lorries up to 5 t", (2500, 4500), (4, 9), "NE", 1),
    Commodity(
        "390110", "Polyethylene, density < 0.94, primary forms", (25, 25), (1.0, 1.6), "BG", 2
    ),
    Commodity("392321", "Sacks and bags of ethylene polymers", (20, 40), (1.5, 3.0), "BL", 2),
    Commodity("610910", "Cotton T-shirts, knitted", (10, 20), (6, 14), "CT", 3),
    Commodity("611030", "Jerseys and pullovers of man-made fibres", (10, 20), (8, 18), "CT", 2),
    Commodity(
        "640299", "Footwear with rubber or plastic soles and uppers", (8, 15), (5, 12), "CT", 3
    ),
    Commodity("640411", "Sports footwear with textile uppers", (8, 15), (8, 20), "CT", 2),
    Commodity("940360", "Wooden furniture", (20, 60), (1.5, 4), "PK", 2),
    Commodity("940171", "Upholstered seats with metal frames", (15, 40), (3, 8), "PK", 2),
    Commodity("730890", "Structures and parts of iron or steel", (200, 1500), (1.0, 2.5), "PL", 2),
    Commodity("721049", "Flat-rolled steel, zinc-coated", (2000, 5000), (0.7, 1.1), "CL", 1),
    Commodity("732111", "Gas cooking appliances of iron or steel", (20, 40), (3, 6), "PK", 1),
)

KAZAKHSTAN_TO_CHINA = (
    Commodity("260300", "Copper ores and concentrates", (1000, 1500), (1.5, 3.0), "VL", 3),
    Commodity("260111", "Iron ores, non-agglomerated", (1000, 1500), (0.08, 0.15), "VL", 2),
    Commodity("720241", "Ferro-chromium, > 4 % carbon", (1000, 1500), (1.0, 1.8), "BG", 2),
    Commodity("740311", "Refined copper cathodes", (2000, 2500), (7, 10), "PL", 3),
    Commodity(
        "100199", "Wheat other than durum, not for sowing", (1000, 1000), (0.2, 0.35), "BG", 3
    ),
    Commodity("120600", "Sunflower seeds", (1000, 1000), (0.4, 0.7), "BG", 2),
    Commodity("120510", "Low erucic acid rape seeds", (1000, 1000), (0.45, 0.65), "BG", 1),
    Commodity("100390", "Barley, not for sowing", (1000, 1000), (0.18, 0.3), "BG", 2),
)
