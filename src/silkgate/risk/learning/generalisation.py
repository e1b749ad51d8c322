"""Features that generalise beyond repeat consignments: how a declaration compares with its past.

:class:`ContextTable` keeps label-free running statistics of past declarations per group —
log unit value, log net mass and tax rate per commodity and origin (HS6 x origin, HS6, HS4),
and volume and first appearance per trader (importer, declarant, seller). From them each
declaration gets:

* how many standard deviations its unit value lies from the usual (mean of the log) for its
  commodity (monotone increasing, so a more unusual value can never make a declaration look
  safer; the side is left out on purpose: a low or a high price must not by itself reassure),
* how far its net mass and tax rate lie from the usual for its commodity,
* its traders' past volume and age (days since first seen).

Like the history rates, a training row sees only rows of strictly earlier dates, and a scored
row sees the table stored with the model; no label is ever read, so the statistics may also
include declarations that were never inspected.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from silkgate.risk.fields import clean_num

#: group name -> fields of its key (see ``HistoryTable.keys_of``); commodity groups first.
COMMODITY_GROUPS: dict[str, tuple[str, ...]] = {
    "hs6_origin": ("hs6", "origin"),
    "hs6": ("hs6",),
    "hs4": ("hs4",),
}
TRADER_GROUPS: dict[str, tuple[str, ...]] = {
    "importer": ("importer",),
    "declarant": ("declarant",),
    "exporter": ("exporter",),
}
GROUP_LABELS: dict[str, str] = {
    "hs6_origin": "this commodity from this origin",
    "hs6": "this commodity (HS6)",
    "hs4": "this heading (HS4)",
    "importer": "importer",
    "declarant": "declarant",
    "exporter": "exporter (seller)",
}
#: cell layout: count, then (count, sum, sum of squares) for each measure, then the first day
MEASURES: tuple[str, ...] = ("luv", "lmass", "tax")
CELL = ("n", *(f"{m}_{s}" for m in MEASURES for s in ("c", "s", "ss")), "first")
FIRST = len(CELL) - 1
MIN_COUNT_FOR_SPREAD = 3
MIN_STD = {"luv": 0.1, "lmass": 0.1, "tax": 0.5}
_EPOCH = np.datetime64("1970-01-01", "D")


def feature_names() -> list[str]:
    """Names of the context features, in matrix order."""
    names: list[str] = []
    for g in COMMODITY_GROUPS:
        names += [
            f"ctx_{g}_n",
            f"ctx_{g}_uv_unusual",
            f"ctx_{g}_mass_dev",
            f"ctx_{g}_tax_dev",
        ]
    for g in TRADER_GROUPS:
        names += [f"ctx_{g}_volume", f"ctx_{g}_age_days"]
    return names


#: A unit value further from its commodity's usual can never lower the risk.
MONOTONE_INCREASING: frozenset[str] = frozenset(f"ctx_{g}_uv_unusual" for g in COMMODITY_GROUPS)


def _measures_frame(frame: pd.DataFrame) -> np.ndarray:
    """(rows x 3) log unit value per kg, log net mass, tax rate; NaN where not computable."""

    def num(name: str) -> np.ndarray:
        if name not in frame:
            return np.full(len(frame), np.nan)
        arr = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
        return np.where(np.isfinite(arr), arr, np.nan)

    value, mass, tax = num("value"), num("net_mass"), num("tax_rate")
    with np.errstate(divide="ignore", invalid="ignore"):
        luv = np.where((value > 0) & (mass > 0), np.log(value / mass), np.nan)
        lmass = np.where(mass >= 0, np.log1p(np.abs(mass)), np.nan)
    return np.column_stack([luv, lmass, tax])


def _measures_record(fields: Mapping[str, Any]) -> list[float]:
    value = clean_num(fields.get("value"))
    mass = clean_num(fields.get("net_mass"))
    tax = clean_num(fields.get("tax_rate"))
    luv = math.log(value / mass) if value and mass and value > 0 and mass > 0 else math.nan
    lmass = math.log1p(mass) if mass is not None and mass >= 0 else math.nan
    return [luv, lmass, math.nan if tax is None else tax]


def _cell_parts(m: np.ndarray) -> np.ndarray:
    """Per row the additive part of a cell (count, sums, squares; first day left at 0)."""
    out = np.zeros((len(m), len(CELL)))
    out[:, 0] = 1.0
    for j in range(len(MEASURES)):
        ok = np.isfinite(m[:, j])
        v = np.where(ok, m[:, j], 0.0)
        out[:, 1 + 3 * j] = ok
        out[:, 2 + 3 * j] = v
        out[:, 3 + 3 * j] = v * v
    return out


def _day_numbers(frame: pd.DataFrame) -> np.ndarray:
    dates = pd.to_datetime(frame["date"], errors="coerce").to_numpy(dtype="datetime64[D]")
    days = (dates - _EPOCH).astype(float)
    days[np.isnat(dates)] = np.nan
    return days


def _day_number(when: Any) -> float:
    if isinstance(when, datetime):
        when = when.date()
    if isinstance(when, date):
        return float((np.datetime64(when, "D") - _EPOCH).astype(int))
    return math.nan


def features_from_cells(cells: np.ndarray, m: np.ndarray, day: np.ndarray, group: str) -> dict:
    """Features of one group from the cells each row sees (rows x CELL) and its own measures."""
    n = cells[:, 0]
    if group in TRADER_GROUPS:
        with np.errstate(invalid="ignore"):
            age = np.where(n > 0, day - cells[:, FIRST], np.nan)
        return {f"ctx_{group}_volume": n, f"ctx_{group}_age_days": age}
    out: dict[str, np.ndarray] = {f"ctx_{group}_n": n}
    z: dict[str, np.ndarray] = {}
    for j, name in enumerate(MEASURES):
        c, s, ss = cells[:, 1 + 3 * j], cells[:, 2 + 3 * j], cells[:, 3 + 3 * j]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = s / c
            std = np.sqrt(np.maximum(ss / c - mean * mean, 0.0))
        std = np.maximum(std, MIN_STD[name])
        ok = (c >= MIN_COUNT_FOR_SPREAD) & np.isfinite(m[:, j])
        with np.errstate(invalid="ignore"):
            z[name] = np.where(ok, (m[:, j] - mean) / std, np.nan)
    out[f"ctx_{group}_uv_unusual"] = np.abs(z["luv"])
    out[f"ctx_{group}_mass_dev"] = z["lmass"]
    # the tax rate differs in percentage points, not in spreads: rates are few and discrete
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_tax = cells[:, 8] / cells[:, 7]
    out[f"ctx_{group}_tax_dev"] = np.where(cells[:, 7] >= 1, m[:, 2] - mean_tax, np.nan)
    return out


class ContextTable:
    """Running label-free statistics per commodity group and trader (see the module doc)."""

    def __init__(self, tables: dict[str, dict[str, np.ndarray]] | None = None) -> None:
        self.tables: dict[str, dict[str, np.ndarray]] = tables or {
            g: {} for g in (*COMMODITY_GROUPS, *TRADER_GROUPS)
        }
        self._index: dict[str, tuple[pd.Index, np.ndarray]] = {}

    @staticmethod
    def groups() -> dict[str, tuple[str, ...]]:
        """Every group name and its key fields."""
        return {**COMMODITY_GROUPS, **TRADER_GROUPS}

    def _keys(self, frame: pd.DataFrame, derived: Mapping[str, np.ndarray], group: str) -> Any:
        from silkgate.risk.learning.features import HistoryKey, HistoryTable

        return HistoryTable.keys_of(frame, HistoryKey(group, self.groups()[group], ""), derived)

    def update(self, frame: pd.DataFrame, derived: Mapping[str, np.ndarray]) -> None:
        """Add every row of a canonical frame (labelled or not)."""
        if frame.empty:
            return
        parts = _cell_parts(_measures_frame(frame))
        days = _day_numbers(frame)
        for group in self.groups():
            ks = self._keys(frame, derived, group)
            t = pd.DataFrame(parts, columns=list(CELL))
            t["first"] = days
            t["k"] = ks
            t = t.dropna(subset=["k"])
            agg = {c: "sum" for c in CELL}
            agg["first"] = "min"
            grouped = t.groupby("k", sort=False).agg(agg)
            table = self.tables.setdefault(group, {})
            for k, row in zip(grouped.index, grouped.to_numpy(dtype=float), strict=True):
                cell = table.get(k)
                if cell is None:
                    table[k] = row.copy()
                else:
                    first = np.nanmin([cell[FIRST], row[FIRST]])
                    cell += row
                    cell[FIRST] = first
        self._index.clear()

    def _stored(self, group: str, ks: np.ndarray) -> np.ndarray:
        table = self.tables.get(group, {})
        out = np.zeros((len(ks), len(CELL)))
        out[:, FIRST] = np.nan
        if table:
            if group not in self._index:
                self._index[group] = (
                    pd.Index(list(table), dtype=object),
                    np.array(list(table.values()), dtype=float).reshape(-1, len(CELL)),
                )
            index, cells = self._index[group]
            pos = index.get_indexer(ks)
            found = pos >= 0
            out[found] = cells[pos[found]]
        return out

    def frame_features(
        self, frame: pd.DataFrame, derived: Mapping[str, np.ndarray], expanding: bool
    ) -> dict[str, np.ndarray]:
        """Features for every row: the stored table, plus (``expanding``) the frame's rows of
        strictly earlier dates."""
        m = _measures_frame(frame)
        days = _day_numbers(frame)
        parts = _cell_parts(m)
        out: dict[str, np.ndarray] = {}
        for group in self.groups():
            ks = self._keys(frame, derived, group)
            cells = self._stored(group, ks)
            if expanding and len(frame):
                t = pd.DataFrame(parts, columns=list(CELL))
                t["first"] = days
                t["k"] = ks
                t["d"] = days
                grouped = t.dropna(subset=["k"]).groupby(["k", "d"], sort=True)
                sums = grouped[list(CELL[:-1])].sum()
                earlier = sums.groupby(level=0).cumsum() - sums
                firsts = grouped["first"].min().groupby(level=0).cummin()
                prev_first = firsts.groupby(level=0).shift(1)
                idx = pd.MultiIndex.from_arrays([t["k"], t["d"]])
                add = np.nan_to_num(earlier.reindex(idx).to_numpy(dtype=float))
                cells[:, :FIRST] += add
                before = prev_first.reindex(idx).to_numpy(dtype=float)
                cells[:, FIRST] = np.fmin(cells[:, FIRST], before)
            missing = np.array([k is None for k in ks], dtype=bool)
            feats = features_from_cells(cells, m, days, group)
            for name, values in feats.items():
                out[name] = np.where(missing, np.nan, values)
        return out

    def record_features(
        self, fields: Mapping[str, Any], key_of: Any, keys: Mapping[str, Any]
    ) -> dict[str, float]:
        """Features for one record (the same values as :meth:`frame_features` without
        ``expanding``; plain Python: this is the one-declaration path). ``key_of(fields, key)``
        builds key strings, ``keys`` maps group -> key."""
        m = _measures_record(fields)
        day = _day_number(fields.get("date"))
        out: dict[str, float] = {}
        for group in self.groups():
            k = key_of(fields, keys[group])
            cell = self.tables.get(group, {}).get(k) if k is not None else None
            if group in TRADER_GROUPS:
                n = float(cell[0]) if cell is not None else 0.0
                age = day - float(cell[FIRST]) if cell is not None and n > 0 else math.nan
                out[f"ctx_{group}_volume"] = math.nan if k is None else n
                out[f"ctx_{group}_age_days"] = math.nan if k is None else age
                continue
            z = [math.nan, math.nan]
            for j, name in enumerate(MEASURES[:2]):
                if cell is None or cell[1 + 3 * j] < MIN_COUNT_FOR_SPREAD or math.isnan(m[j]):
                    continue
                c, s1, s2 = (float(v) for v in cell[1 + 3 * j : 4 + 3 * j])
                mean = s1 / c
                std = max(math.sqrt(max(s2 / c - mean * mean, 0.0)), MIN_STD[name])
                z[j] = (m[j] - mean) / std
            tax_dev = math.nan
            if cell is not None and cell[7] >= 1 and not math.isnan(m[2]):
                tax_dev = m[2] - float(cell[8]) / float(cell[7])
            values = {
                f"ctx_{group}_n": float(cell[0]) if cell is not None else 0.0,
                f"ctx_{group}_uv_unusual": abs(z[0]),
                f"ctx_{group}_mass_dev": z[1],
                f"ctx_{group}_tax_dev": tax_dev,
            }
            for name, value in values.items():
                out[name] = math.nan if k is None else value
        return out

    def cell(self, group: str, key: str | None) -> np.ndarray | None:
        """The stored cell of one key (for explanations), ``None`` if never seen."""
        if key is None:
            return None
        return self.tables.get(group, {}).get(key)

    # persistence
    def save(self, path: Path) -> None:
        """Write the table as Parquet (one row per group and key)."""
        rows = [
            (group, key, *cell.tolist())
            for group, table in self.tables.items()
            for key, cell in table.items()
        ]
        pd.DataFrame(rows, columns=["group", "key", *CELL]).to_parquet(path, index=False)

    @classmethod
    def load(cls, path: Path) -> ContextTable:
        """Read a table written by :meth:`save`."""
        df = pd.read_parquet(path)
        tables: dict[str, dict[str, np.ndarray]] = {g: {} for g in cls.groups()}
        values = df[list(CELL)].to_numpy(dtype=float)
        for i, (group, key) in enumerate(zip(df["group"], df["key"], strict=True)):
            tables.setdefault(str(group), {})[str(key)] = values[i].copy()
        return cls(tables)

    def copy(self) -> ContextTable:
        """A deep copy."""
        return ContextTable(
            {g: {k: v.copy() for k, v in t.items()} for g, t in self.tables.items()}
        )
