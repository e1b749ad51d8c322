"""Value controls: minimum and maximum unit value per HS6 (and origin), and the hit check.

Bands are computed from history on the log of the unit value with robust statistics (Tukey
fences on the inter-quartile range, or plain quantiles), so a few absurd declarations in the
history do not widen the band; officers may also set bands by hand, which win over computed ones.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from silkgate.risk.fields import clean_num, clean_str
from silkgate.risk.names import country_named, hs_named
from silkgate.risk.selectivity.schemas import ValueBand, ValueControls

ANY_ORIGIN = "*"


@dataclass(frozen=True, slots=True)
class ValueHit:
    """A unit value outside its band, with the words an officer reads."""

    band: ValueBand
    basis: str  # "kg" or "unit"
    unit_value: float
    bound: float
    side: str  # "below" or "above"

    def describe(self) -> str:
        """Plain-language reason, e.g. 'unit value 0.41 per kg is below the minimum 2.10 ...'."""
        origin = (
            "any origin"
            if self.band.origin in (None, ANY_ORIGIN)
            else country_named(self.band.origin)
        )
        limit = "minimum" if self.side == "below" else "maximum"
        return (
            f"unit value {self.unit_value:,.2f} per {self.basis} is {self.side} the {limit} "
            f"{self.bound:,.2f} for HS {hs_named(self.band.hs6)} from {origin} ({self.band.source})"
        )


def _fence(logs: np.ndarray, cfg: ValueControls) -> tuple[float, float]:
    if cfg.method == "quantile":
        lo, hi = np.quantile(logs, [cfg.low_quantile, cfg.high_quantile])
    else:
        q1, q3 = np.quantile(logs, [0.25, 0.75])
        iqr = max(q3 - q1, cfg.min_log_width)
        lo, hi = q1 - cfg.iqr_factor * iqr, q3 + cfg.iqr_factor * iqr
    return float(math.exp(lo)), float(math.exp(hi))


def compute_bands(frame: pd.DataFrame, cfg: ValueControls) -> list[ValueBand]:
    """Bands per (HS6, origin) and per HS6 for any origin, from a canonical frame of history.

    Rows with a recorded discrepancy are left out when ``cfg.exclude_hits`` (the band should
    describe honest trade); groups with fewer than ``cfg.min_count`` usable values get no band.
    """
    if frame.empty:
        return []
    data = pd.DataFrame(
        {
            "hs6": frame["hs_code"]
            .astype(object)
            .map(lambda s: s[:6] if isinstance(s, str) else None),
            "origin": frame.get("origin", pd.Series([None] * len(frame), index=frame.index)),
            "value": pd.to_numeric(frame.get("value"), errors="coerce"),
            "net_mass": pd.to_numeric(frame.get("net_mass"), errors="coerce"),
        }
    )
    if "supplementary_quantity" in frame:
        data["su"] = pd.to_numeric(frame["supplementary_quantity"], errors="coerce")
    else:
        data["su"] = np.nan
    if cfg.exclude_hits and "label" in frame:
        data = data[pd.to_numeric(frame["label"], errors="coerce").fillna(0).to_numpy() == 0]
    data = data[data["hs6"].notna() & (data["value"] > 0)]
    with np.errstate(divide="ignore", invalid="ignore"):
        data["lkg"] = np.where(
            data["net_mass"] > 0, np.log(data["value"] / data["net_mass"]), np.nan
        )
        data["lsu"] = np.where(data["su"] > 0, np.log(data["value"] / data["su"]), np.nan)
    data["origin"] = data["origin"].astype(object).where(data["origin"].notna(), None)
    bands: list[ValueBand] = []
    groupings: list[tuple[list[str], bool]] = [(["hs6"], False)]
    if cfg.by_origin:
        groupings.append((["hs6", "origin"], True))
    for keys, with_origin in groupings:
        sub = data.dropna(subset=["origin"]) if with_origin else data
        for key, group in sub.groupby(keys, sort=True):
            hs6 = key[0] if isinstance(key, tuple) else key
            origin = key[1] if with_origin and isinstance(key, tuple) else ANY_ORIGIN
            kg = group["lkg"].dropna().to_numpy()
            su = group["lsu"].dropna().to_numpy()
            if len(kg) < cfg.min_count and len(su) < cfg.min_count:
                continue
            band = ValueBand(hs6=str(hs6), origin=str(origin), source="history", count=len(group))
            if len(kg) >= cfg.min_count:
                band.min_per_kg, band.max_per_kg = _fence(kg, cfg)
            if len(su) >= cfg.min_count:
                band.min_per_unit, band.max_per_unit = _fence(su, cfg)
            bands.append(band)
    return bands


class BandIndex:
    """Look-up of the band that applies to a declaration: manual over history, origin over any."""

    def __init__(self, bands: Iterable[ValueBand]) -> None:
        self._bands: dict[tuple[str, str], ValueBand] = {}
        for band in bands:
            key = (band.hs6, band.origin or ANY_ORIGIN)
            current = self._bands.get(key)
            if current is None or (current.source != "manual" and band.source == "manual"):
                self._bands[key] = band

    def __len__(self) -> int:
        return len(self._bands)

    def band_for(self, hs6: str | None, origin: str | None) -> ValueBand | None:
        """The most specific band for this HS6 and origin, or ``None``."""
        if not hs6:
            return None
        if origin:
            band = self._bands.get((hs6, origin))
            if band is not None:
                return band
        return self._bands.get((hs6, ANY_ORIGIN))

    def check(self, fields: Mapping[str, Any]) -> ValueHit | None:
        """The first bound the unit values break (per kg, then per unit), or ``None``."""
        hs = clean_str(fields.get("hs_code")) or ""
        band = self.band_for(hs[:6] if len(hs) >= 6 else None, clean_str(fields.get("origin")))
        if band is None:
            return None
        value = clean_num(fields.get("value"))
        if value is None:
            return None
        for basis, qty_field, lo, hi in (
            ("kg", "net_mass", band.min_per_kg, band.max_per_kg),
            ("unit", "supplementary_quantity", band.min_per_unit, band.max_per_unit),
        ):
            qty = clean_num(fields.get(qty_field))
            if qty is None or qty <= 0:
                continue
            uv = value / qty
            if lo is not None and uv < lo:
                return ValueHit(band, basis, uv, lo, "below")
            if hi is not None and uv > hi:
                return ValueHit(band, basis, uv, hi, "above")
        return None

    def check_frame(self, frame: pd.DataFrame) -> np.ndarray:
        """Boolean array: which rows of a canonical frame break their band (same rule as check)."""
        n = len(frame)
        if n == 0 or not self._bands:
            return np.zeros(n, dtype=bool)
        hs6 = frame["hs_code"].astype(object).map(lambda s: s[:6] if isinstance(s, str) else None)
        origin = (
            frame["origin"].astype(object)
            if "origin" in frame
            else pd.Series([None] * n, index=frame.index)
        )
        bands = [
            self.band_for(h, o if isinstance(o, str) else None)
            for h, o in zip(hs6, origin, strict=True)
        ]
        value = pd.to_numeric(frame.get("value"), errors="coerce").to_numpy(dtype=float)
        hit = np.zeros(n, dtype=bool)
        for qty_field, lo_attr, hi_attr in (
            ("net_mass", "min_per_kg", "max_per_kg"),
            ("supplementary_quantity", "min_per_unit", "max_per_unit"),
        ):
            if qty_field not in frame:
                continue
            qty = pd.to_numeric(frame[qty_field], errors="coerce").to_numpy(dtype=float)
            lo = np.array(
                [
                    np.nan if b is None or getattr(b, lo_attr) is None else getattr(b, lo_attr)
                    for b in bands
                ]
            )
            hi = np.array(
                [
                    np.nan if b is None or getattr(b, hi_attr) is None else getattr(b, hi_attr)
                    for b in bands
                ]
            )
            with np.errstate(divide="ignore", invalid="ignore"):
                uv = np.where(qty > 0, value / np.where(qty > 0, qty, 1.0), np.nan)
                hit |= (uv < lo) | (uv > hi)
        return hit
