"""A synthetic, labelled declaration stream for tests, demos and benchmarks.

It has the structure the engine relies on — traders and commodities with persistent risk,
consignments that recur with the same goods line, under-valuation as one way of fraud — so a
model can learn from it in seconds. It is not a substitute for real data.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from silkgate.risk.fields import STRING_FIELDS

_COUNTRIES = ("CN", "KZ", "RU", "UZ", "TR", "DE", "US", "KR", "JP", "VN")
_OFFICES = ("NURZHOLY", "DOSTYK", "BAKHTY")


def synthetic_declarations(
    n: int = 5000, start: date = date(2024, 1, 1), days: int = 120, seed: int = 0
) -> pd.DataFrame:
    """Canonical frame of ``n`` labelled declarations over ``days`` days, sorted by date."""
    rng = np.random.default_rng(seed)
    n_importers, n_hs = max(20, n // 25), 60
    importer_risk = rng.normal(-0.5, 1.0, n_importers)
    hs_codes = [
        f"{rng.integers(1, 97):02d}{rng.integers(0, 100):02d}{rng.integers(0, 100):02d}"
        for _ in range(n_hs)
    ]
    hs_risk = rng.normal(0.0, 0.8, n_hs)
    hs_log_uv = rng.normal(2.0, 1.5, n_hs)
    # recurring goods lines: (importer, hs index, mass, value factor, own risk)
    n_lines = max(50, n // 6)
    line_imp = rng.integers(0, n_importers, n_lines)
    line_hs = rng.integers(0, n_hs, n_lines)
    line_mass = np.round(np.exp(rng.normal(5.0, 1.5, n_lines)), 1)
    line_uv = np.exp(hs_log_uv[line_hs] + rng.normal(0, 0.3, n_lines))
    line_risk = rng.normal(0.0, 1.5, n_lines)
    line = rng.integers(0, n_lines, n)
    fresh = rng.random(n) < 0.3  # 30% one-off consignments
    imp = np.where(fresh, rng.integers(0, n_importers, n), line_imp[line])
    hs = np.where(fresh, rng.integers(0, n_hs, n), line_hs[line])
    mass = np.where(fresh, np.round(np.exp(rng.normal(5.0, 1.5, n)), 1), line_mass[line])
    uv = np.where(fresh, np.exp(hs_log_uv[hs] + rng.normal(0, 0.3, n)), line_uv[line])
    under = rng.random(n) < 0.04  # blatant under-valuation
    uv = np.where(under, uv * rng.uniform(0.001, 0.02, n), uv)
    value = np.round(mass * uv, 2)
    logit = -1.8 + importer_risk[imp] + hs_risk[hs] + np.where(fresh, 0.0, line_risk[line])
    logit = logit + np.where(under, 2.5, 0.0)
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    day = np.sort(rng.integers(0, days, n))
    frame = pd.DataFrame(
        {
            "declaration_id": [f"SYN{seed:02d}{i:07d}" for i in range(n)],
            "date": pd.to_datetime([start + timedelta(days=int(d)) for d in day]),
            "office": rng.choice(_OFFICES, n),
            "direction": "import",
            "crossing": None,
            "declarant": [f"DCL{x:03d}" for x in rng.integers(0, 40, n)],
            "importer": [f"IMP{x:05d}" for x in imp],
            "exporter": [f"EXP{x:05d}" for x in (imp * 7 + hs) % (n_importers * 2)],
            "carrier": None,
            "hs_code": [hs_codes[h] for h in hs],
            "origin": rng.choice(_COUNTRIES, n),
            "departure_country": "CN",
            "destination_country": "KZ",
            "transport_mode": "30",
            "supplementary_unit": None,
            "net_mass": mass,
            "gross_mass": np.round(mass * 1.08, 1),
            "value": value,
            "supplementary_quantity": np.nan,
            "tax_rate": rng.choice([0.0, 5.0, 10.0, 15.0], n),
            "label": label,
            "revenue": np.round(value * 0.12 * label, 2),
        }
    )
    for col in STRING_FIELDS:
        frame[col] = pd.Series(
            [v if isinstance(v, str) else None for v in frame[col]], dtype=object
        )
    return frame


def to_source_csv(frame: pd.DataFrame, path: str) -> None:
    """Write a canonical frame as a CSV whose columns carry the canonical names."""
    out = frame.copy()
    out["date"] = pd.to_datetime(out["date"]).dt.strftime("%Y-%m-%d")
    out.to_csv(path, index=False)
