"""Model features: categorical codes, numeric transforms, out-of-time history rates, calendar.

Two paths build the same feature vector: a vectorised one over a canonical frame (training,
batch scoring) and a plain-Python one over a single record (the one-declaration path, which must
stay well under a millisecond). ``tests/risk`` checks they agree.

History features are smoothed past hit rates ``(hits + alpha * prior) / (n + alpha)`` and counts
``n`` of labelled declarations sharing a key (trader, commodity, commodity and origin, the same
goods line...). For training rows they use only rows of strictly earlier dates; at scoring time
they come from the table stored with the model (``frozen``) or from a table updated with later
inspection outcomes (``online``), never from the row's own label.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from silkgate.risk.fields import TRADER_FIELDS, clean_num, clean_str
from silkgate.risk.learning import generalisation
from silkgate.risk.learning.generalisation import ContextTable

SEP = "\x1f"
NUMERIC_KEY_FIELDS = frozenset({"value", "net_mass", "gross_mass", "supplementary_quantity"})
#: written beside ``history.parquet``
CONTEXT_FILE = "context.parquet"


@dataclass(frozen=True, slots=True)
class HistoryKey:
    """A grouping whose past inspection outcomes become features; ``label`` is for officers."""

    name: str
    fields: tuple[str, ...]
    label: str


CONTEXT_KEYS: dict[str, HistoryKey] = {
    g: HistoryKey(g, f, generalisation.GROUP_LABELS[g]) for g, f in ContextTable.groups().items()
}

DEFAULT_HISTORY_KEYS: tuple[HistoryKey, ...] = (
    HistoryKey("declarant", ("declarant",), "declarant"),
    HistoryKey("importer", ("importer",), "importer"),
    HistoryKey("exporter", ("exporter",), "exporter (seller)"),
    HistoryKey("hs6", ("hs6",), "commodity (HS6)"),
    HistoryKey("hs4", ("hs4",), "heading (HS4)"),
    HistoryKey("hs6_origin", ("hs6", "origin"), "commodity from this origin"),
    HistoryKey("importer_hs6", ("importer", "hs6"), "importer with this commodity"),
    HistoryKey("hs6_value", ("hs6", "value"), "same commodity at the same invoice value"),
    HistoryKey("hs6_mass", ("hs6", "net_mass"), "same commodity at the same net mass"),
    HistoryKey("goods_line", ("hs6", "net_mass", "value"), "same commodity, mass and value"),
)

BASE_CATEGORICALS: tuple[str, ...] = (
    "office",
    "crossing",
    "direction",
    "transport_mode",
    "origin",
    "departure_country",
    "destination_country",
    "hs2",
    "supplementary_unit",
)
#: HS4 and HS6 codes enter through their history rates and context statistics, not as raw
#: categories: with hundreds of codes, raw categories let the trees memorise the training
#: period (measured on KCS never-seen rows: see docs/risk.md, "Beyond repeat consignments").

NUMERIC_FEATURES: tuple[str, ...] = (
    "log_net_mass",
    "log_gross_mass",
    "log_supplementary_quantity",
    "unit_value_out_of_band",
    "unit_value_su_out_of_band",
    "tax_rate",
    "departure_differs",
    "day_of_week",
    "month",
)
#: Features the model may only use in the increasing direction (LightGBM monotone constraints):
#: a unit value further outside its commodity's band can never make a declaration look safer.
MONOTONE_INCREASING: frozenset[str] = (
    frozenset({"unit_value_out_of_band", "unit_value_su_out_of_band"})
    | generalisation.MONOTONE_INCREASING
)
#: Tukey fences on log unit value per commodity: [q1 - k*IQR, q3 + k*IQR], IQR at least 0.1.
BAND_IQR_FACTOR = 3.0
BAND_MIN_IQR = 0.1
BAND_MIN_COUNT = 20


# --------------------------------------------------------------------------- small helpers


def _num_key(x: float | None) -> str | None:
    if x is None or not math.isfinite(x):
        return None
    return "%.3f" % x  # noqa: UP031 - must match numpy's char.mod formatting exactly


def _log1p_pos(x: float | None) -> float:
    if x is None or x < 0:
        return math.nan
    return math.log1p(x)


def _log_ratio(a: float | None, b: float | None) -> float:
    if a is None or b is None or a <= 0 or b <= 0:
        return math.nan
    return math.log(a / b)


def derived_columns(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """hs2/hs4/hs6 prefixes of a canonical frame, as object arrays with ``None`` missing."""
    hs = frame["hs_code"].to_numpy(dtype=object)
    out: dict[str, np.ndarray] = {}
    for digits in (2, 4, 6):
        arr = np.empty(len(hs), dtype=object)
        arr[:] = [h[:digits] if isinstance(h, str) and len(h) >= digits else None for h in hs]
        out[f"hs{digits}"] = arr
    return out


def _text_array(frame: pd.DataFrame, derived: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    if name in derived:
        return derived[name]
    if name not in frame:
        arr = np.empty(len(frame), dtype=object)
        arr[:] = None
        return arr
    values = frame[name].to_numpy(dtype=object)
    arr = np.empty(len(values), dtype=object)
    # canonical frames hold stripped text or a missing marker (None/NaN)
    arr[:] = [v if isinstance(v, str) and v else None for v in values]
    return arr


def _num_array(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame:
        return np.full(len(frame), np.nan)
    arr = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
    return np.where(np.isfinite(arr), arr, np.nan)


# --------------------------------------------------------------------------- history


class HistoryTable:
    """Counts of labelled declarations and hits per key; the memory the history features read."""

    def __init__(
        self,
        keys: Sequence[HistoryKey] = DEFAULT_HISTORY_KEYS,
        alpha: float = 5.0,
        prior: float = 0.1,
        tables: dict[str, dict[str, list[float]]] | None = None,
        context: ContextTable | None = None,
    ) -> None:
        self.keys = tuple(keys)
        #: label-free statistics of past declarations (unit value, mass, traders)
        self.context = context if context is not None else ContextTable()
        self.alpha = float(alpha)
        self.prior = float(prior)
        self.tables: dict[str, dict[str, list[float]]] = tables or {k.name: {} for k in self.keys}
        self._index: dict[str, tuple[pd.Index, np.ndarray, np.ndarray]] = {}

    # keys
    @staticmethod
    def key_of(fields: Mapping[str, Any], key: HistoryKey) -> str | None:
        """The key string for one record (``None`` when a component is missing)."""
        parts: list[str] = []
        for name in key.fields:
            if name in NUMERIC_KEY_FIELDS:
                part = _num_key(clean_num(fields.get(name)))
            else:
                part = clean_str(fields.get(name))
            if part is None:
                return None
            parts.append(part)
        return SEP.join(parts)

    @staticmethod
    def keys_of(
        frame: pd.DataFrame, key: HistoryKey, derived: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        """Key strings for every row of a canonical frame (object array, ``None`` if missing)."""
        parts: list[pd.Series] = []
        for name in key.fields:
            if name in NUMERIC_KEY_FIELDS:
                nums = _num_array(frame, name)
                text = np.char.mod("%.3f", np.nan_to_num(nums, nan=0.0)).astype(object)
                text[np.isnan(nums)] = None
                parts.append(pd.Series(text, dtype=object))
            else:
                parts.append(pd.Series(_text_array(frame, derived, name), dtype=object))
        if len(parts) == 1:
            return parts[0].to_numpy(dtype=object, copy=True)
        joined = parts[0].str.cat(parts[1:], sep=SEP)
        out = joined.to_numpy(dtype=object, copy=True)
        out[pd.isna(out)] = None
        return out

    # building
    def update(self, frame: pd.DataFrame) -> None:
        """Add a canonical frame: its labelled rows (``label`` 0/1) to the hit counts, every row
        to the context statistics."""
        if frame.empty:
            return
        self.context.update(frame, derived_columns(frame))
        if "label" not in frame:
            return
        labels = pd.to_numeric(frame["label"], errors="coerce").to_numpy(dtype=float)
        known = ~np.isnan(labels)
        if not known.any():
            return
        sub = frame.loc[known]
        y = labels[known]
        derived = derived_columns(sub)
        for key in self.keys:
            ks = self.keys_of(sub, key, derived)
            table = self.tables.setdefault(key.name, {})
            grouped = (
                pd.DataFrame({"k": ks, "y": y})
                .dropna(subset=["k"])
                .groupby("k", sort=False)["y"]
                .agg(["size", "sum"])
            )
            for k, n, hits in zip(
                grouped.index, grouped["size"].to_numpy(), grouped["sum"].to_numpy(), strict=True
            ):
                cell = table.get(k)
                if cell is None:
                    table[k] = [float(n), float(hits)]
                else:
                    cell[0] += float(n)
                    cell[1] += float(hits)
        self._index.clear()

    @classmethod
    def fit(
        cls,
        frame: pd.DataFrame,
        keys: Sequence[HistoryKey] = DEFAULT_HISTORY_KEYS,
        alpha: float = 5.0,
    ) -> HistoryTable:
        """A table holding every labelled row of ``frame``; the prior is its hit rate."""
        labels = pd.to_numeric(frame["label"], errors="coerce") if "label" in frame else None
        prior = float(labels.mean()) if labels is not None and labels.notna().any() else 0.1
        table = cls(keys, alpha, prior)
        table.update(frame)
        return table

    # features
    def feature_names(self) -> list[str]:
        """Names of the history features, two per key: smoothed rate and labelled count."""
        names = []
        for key in self.keys:
            names += [f"hist_{key.name}_rate", f"hist_{key.name}_n"]
        return names + generalisation.feature_names()

    def _rate(self, n: np.ndarray, hits: np.ndarray) -> np.ndarray:
        return (hits + self.alpha * self.prior) / (n + self.alpha)

    def _indexed(self, name: str) -> tuple[pd.Index, np.ndarray, np.ndarray]:
        cached = self._index.get(name)
        if cached is None:
            table = self.tables.get(name, {})
            cells = np.array(list(table.values()), dtype=float).reshape(-1, 2)
            cached = (pd.Index(list(table.keys()), dtype=object), cells[:, 0], cells[:, 1])
            self._index[name] = cached
        return cached

    def _counts(
        self, frame: pd.DataFrame, derived: Mapping[str, np.ndarray]
    ) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """Per key: (key strings, missing mask, labelled count, hits) from the stored table."""
        out = {}
        for key in self.keys:
            ks = self.keys_of(frame, key, derived)
            index, ns, hs = self._indexed(key.name)
            missing = np.array([k is None for k in ks], dtype=bool)
            if len(index):
                pos = index.get_indexer(ks)
                found = pos >= 0
                safe = np.where(found, pos, 0)
                n = np.where(found, ns[safe], 0.0)
                hits = np.where(found, hs[safe], 0.0)
            else:
                n = np.zeros(len(ks))
                hits = np.zeros(len(ks))
            out[key.name] = (ks, missing, n, hits)
        return out

    def lookup_frame(
        self, frame: pd.DataFrame, derived: Mapping[str, np.ndarray] | None = None
    ) -> dict[str, np.ndarray]:
        """History features for every row from the table as it stands (no row sees itself)."""
        derived = derived if derived is not None else derived_columns(frame)
        out: dict[str, np.ndarray] = {}
        for name, (_, missing, n, hits) in self._counts(frame, derived).items():
            out[f"hist_{name}_rate"] = np.where(missing, np.nan, self._rate(n, hits))
            out[f"hist_{name}_n"] = np.where(missing, np.nan, n)
        out.update(self.context.frame_features(frame, derived, expanding=False))
        return out

    def expanding_frame(
        self, frame: pd.DataFrame, derived: Mapping[str, np.ndarray] | None = None
    ) -> dict[str, np.ndarray]:
        """Features where each row sees the table plus the frame's rows of strictly earlier dates.

        This is how training rows get their history (the table is then empty) and how online
        evaluation replays a period whose inspection outcomes arrive day by day.
        """
        derived = derived if derived is not None else derived_columns(frame)
        if "label" not in frame:
            return self.lookup_frame(frame, derived)
        labels = pd.to_numeric(frame["label"], errors="coerce").to_numpy(dtype=float)
        known = (~np.isnan(labels)).astype(float)
        y = np.nan_to_num(labels, nan=0.0)
        dates = pd.to_datetime(frame["date"]).to_numpy()
        out: dict[str, np.ndarray] = {}
        for name, (ks, missing, n_base, hits_base) in self._counts(frame, derived).items():
            t = pd.DataFrame({"k": ks, "d": dates, "y": y, "n": known})
            grouped = t.dropna(subset=["k"]).groupby(["k", "d"], sort=True)[["n", "y"]].sum()
            earlier = grouped.groupby(level=0).cumsum() - grouped
            idx = pd.MultiIndex.from_arrays([t["k"], t["d"]])
            vals = earlier.reindex(idx).to_numpy(dtype=float)
            n = n_base + np.nan_to_num(vals[:, 0])
            hits = hits_base + np.nan_to_num(vals[:, 1])
            out[f"hist_{name}_rate"] = np.where(missing, np.nan, self._rate(n, hits))
            out[f"hist_{name}_n"] = np.where(missing, np.nan, n)
        out.update(self.context.frame_features(frame, derived, expanding=True))
        return out

    def lookup_record(self, fields: Mapping[str, Any]) -> dict[str, float]:
        """History features for one record (same values as :meth:`lookup_frame`)."""
        out: dict[str, float] = {}
        for key in self.keys:
            k = self.key_of(fields, key)
            if k is None:
                out[f"hist_{key.name}_rate"] = math.nan
                out[f"hist_{key.name}_n"] = math.nan
                continue
            cell = self.tables.get(key.name, {}).get(k)
            n, hits = (cell[0], cell[1]) if cell is not None else (0.0, 0.0)
            out[f"hist_{key.name}_rate"] = (hits + self.alpha * self.prior) / (n + self.alpha)
            out[f"hist_{key.name}_n"] = n
        out.update(self.context.record_features(fields, self.key_of, CONTEXT_KEYS))
        return out

    def explain_cell(self, fields: Mapping[str, Any], key_name: str) -> tuple[float, float] | None:
        """(labelled count, hits) behind one key of a record, for explanations."""
        key = next((k for k in self.keys if k.name == key_name), None)
        if key is None:
            return None
        k = self.key_of(fields, key)
        if k is None:
            return None
        cell = self.tables.get(key.name, {}).get(k)
        return (cell[0], cell[1]) if cell is not None else (0.0, 0.0)

    # persistence
    def save(self, path: Path) -> None:
        """Write the table as Parquet (one row per key value)."""
        rows_key, rows_val, rows_n, rows_hits = [], [], [], []
        for name, table in self.tables.items():
            for k, (n, hits) in table.items():
                rows_key.append(name)
                rows_val.append(k)
                rows_n.append(n)
                rows_hits.append(hits)
        pd.DataFrame(
            {"key": rows_key, "value": rows_val, "n": rows_n, "hits": rows_hits}
        ).to_parquet(path, index=False)
        self.context.save(path.with_name(CONTEXT_FILE))

    def config(self) -> dict[str, Any]:
        """Keys, smoothing and prior, to store beside the table."""
        return {
            "alpha": self.alpha,
            "prior": self.prior,
            "keys": [
                {"name": k.name, "fields": list(k.fields), "label": k.label} for k in self.keys
            ],
        }

    @classmethod
    def load(cls, path: Path, config: Mapping[str, Any]) -> HistoryTable:
        """Read a table written by :meth:`save` with its :meth:`config`."""
        keys = [HistoryKey(k["name"], tuple(k["fields"]), k["label"]) for k in config["keys"]]
        df = pd.read_parquet(path)
        tables: dict[str, dict[str, list[float]]] = {k.name: {} for k in keys}
        for name, group in df.groupby("key", sort=False):
            tables[str(name)] = {
                str(v): [float(n), float(h)]
                for v, n, h in zip(group["value"], group["n"], group["hits"], strict=True)
            }
        context = ContextTable.load(path.with_name(CONTEXT_FILE))
        return cls(keys, config["alpha"], config["prior"], tables, context)

    def copy(self) -> HistoryTable:
        """A deep copy that can be updated without touching this one."""
        tables = {name: {k: list(v) for k, v in t.items()} for name, t in self.tables.items()}
        return HistoryTable(self.keys, self.alpha, self.prior, tables, self.context.copy())


# --------------------------------------------------------------------------- feature builder


class FeatureBuilder:
    """Turns canonical declarations into the model's feature matrix (fitted on training data).

    The declared value reaches the model only through (a) how far the unit value lies outside
    its commodity's band (monotone, see :data:`MONOTONE_INCREASING`) and (b) the history of
    exact repeat consignments; within the band the model is blind to the value, so it cannot
    learn that a higher or lower price is by itself reassuring.
    """

    def __init__(
        self,
        trader_categoricals: bool = False,
        min_category_count: int = 3,
        extra_fields: Sequence[str] = (),
    ) -> None:
        self.trader_categoricals = trader_categoricals
        self.min_category_count = min_category_count
        self.extra_fields = list(extra_fields)
        self.vocab: dict[str, dict[str, int]] = {}
        #: basis ("kg" or "su") -> level ("hs6"/"hs4") -> code -> (low, high) in log unit value
        self.bands: dict[str, dict[str, dict[str, tuple[float, float]]]] = {}
        self.categoricals: list[str] = []
        self.numerics: list[str] = []
        self._index_cache: dict[str, pd.Index] = {}

    def candidate_categoricals(self) -> list[str]:
        """Categorical inputs before dropping empty ones."""
        cats = [*BASE_CATEGORICALS, *self.extra_fields]
        if self.trader_categoricals:
            cats += list(TRADER_FIELDS)
        return cats

    def fit(self, frame: pd.DataFrame) -> FeatureBuilder:
        """Learn vocabularies and per-commodity unit-value bands (no labels are read)."""
        derived = derived_columns(frame)
        self.vocab = {}
        self._index_cache = {}
        for name in self.candidate_categoricals():
            values = pd.Series(_text_array(frame, derived, name), dtype=object).dropna()
            counts = values.value_counts()
            counts = counts[counts >= self.min_category_count]
            if len(counts) >= 2:  # a constant column tells the model nothing
                self.vocab[name] = {str(v): i for i, v in enumerate(counts.index)}
        self.categoricals = list(self.vocab)
        value = _num_array(frame, "value")
        self.bands = {}
        for basis, qty_name in (("kg", "net_mass"), ("su", "supplementary_quantity")):
            qty = _num_array(frame, qty_name)
            with np.errstate(divide="ignore", invalid="ignore"):
                luv = np.where((value > 0) & (qty > 0), np.log(value / qty), np.nan)
            stats = pd.DataFrame({"hs6": derived["hs6"], "hs4": derived["hs4"], "l": luv})
            self.bands[basis] = {level: _bands(stats, level) for level in ("hs6", "hs4")}
        numeric = self._numeric_frame(frame, derived)
        self.numerics = [n for n in NUMERIC_FEATURES if np.isfinite(numeric[n]).any()]
        return self

    def feature_names(self, history: HistoryTable) -> list[str]:
        """Column order of the matrix: categoricals, numerics, history."""
        return [*self.categoricals, *self.numerics, *history.feature_names()]

    def monotone_constraints(self, history: HistoryTable) -> list[int]:
        """LightGBM ``monotone_constraints`` aligned with :meth:`feature_names`."""
        return [1 if n in MONOTONE_INCREASING else 0 for n in self.feature_names(history)]

    def band_of(self, basis: str, hs6: str | None, hs4: str | None) -> tuple[float, float] | None:
        """(low, high) log unit-value band of a commodity, HS6 first, else its HS4 heading."""
        levels = self.bands.get(basis, {})
        if hs6 is not None and hs6 in levels.get("hs6", {}):
            return levels["hs6"][hs6]
        if hs4 is not None and hs4 in levels.get("hs4", {}):
            return levels["hs4"][hs4]
        return None

    def _vocab_index(self, name: str) -> pd.Index:
        """Vocabulary as an index whose positions are the category codes (cached)."""
        if name not in self._index_cache:
            vocab = self.vocab[name]
            ordered = sorted(vocab, key=vocab.__getitem__)
            self._index_cache[name] = pd.Index(ordered, dtype=object)
        return self._index_cache[name]

    def _band_arrays(
        self, basis: str, derived: Mapping[str, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        levels = self.bands.get(basis, {})
        low = np.full(len(derived["hs6"]), np.nan)
        high = np.full(len(derived["hs6"]), np.nan)
        for level in ("hs4", "hs6"):  # hs6 last: it overrides its heading
            table = levels.get(level, {})
            if not table:
                continue
            index = pd.Index(list(table), dtype=object)
            bounds = np.array(list(table.values()), dtype=float).reshape(-1, 2)
            pos = index.get_indexer(derived[level])
            found = pos >= 0
            low[found] = bounds[pos[found], 0]
            high[found] = bounds[pos[found], 1]
        return low, high

    def _out_of_band(
        self, basis: str, luv: np.ndarray, derived: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        low, high = self._band_arrays(basis, derived)
        with np.errstate(invalid="ignore"):
            dist = np.maximum(0.0, np.maximum(low - luv, luv - high))
        return np.where(np.isnan(low) | np.isnan(luv), np.nan, dist)

    # vectorised
    def _numeric_frame(
        self, frame: pd.DataFrame, derived: Mapping[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        value = _num_array(frame, "value")
        mass = _num_array(frame, "net_mass")
        gross = _num_array(frame, "gross_mass")
        supp = _num_array(frame, "supplementary_quantity")
        with np.errstate(divide="ignore", invalid="ignore"):
            luv = np.where((value > 0) & (mass > 0), np.log(value / mass), np.nan)
            luv_su = np.where((value > 0) & (supp > 0), np.log(value / supp), np.nan)
            out = {
                "log_net_mass": np.where(mass >= 0, np.log1p(np.abs(mass)), np.nan),
                "log_gross_mass": np.where(gross >= 0, np.log1p(np.abs(gross)), np.nan),
                "log_supplementary_quantity": np.where(supp >= 0, np.log1p(np.abs(supp)), np.nan),
            }
        out["unit_value_out_of_band"] = self._out_of_band("kg", luv, derived)
        out["unit_value_su_out_of_band"] = self._out_of_band("su", luv_su, derived)
        out["tax_rate"] = _num_array(frame, "tax_rate")
        dep = _text_array(frame, derived, "departure_country")
        org = _text_array(frame, derived, "origin")
        known = np.array([a is not None and b is not None for a, b in zip(dep, org, strict=True)])
        out["departure_differs"] = np.where(known, (dep != org).astype(float), np.nan)
        if "date" in frame:
            dates = pd.to_datetime(frame["date"], errors="coerce")
            out["day_of_week"] = dates.dt.day_of_week.to_numpy(dtype=float)
            out["month"] = dates.dt.month.to_numpy(dtype=float)
        else:
            out["day_of_week"] = np.full(len(frame), np.nan)
            out["month"] = np.full(len(frame), np.nan)
        return out

    def matrix(
        self, frame: pd.DataFrame, history: HistoryTable, mode: str = "lookup"
    ) -> np.ndarray:
        """Feature matrix (float64) for a canonical frame.

        ``mode`` is ``lookup`` (history as stored: scoring) or ``expanding`` (each row also sees
        the frame's labelled rows of strictly earlier dates: training and online replay).
        """
        derived = derived_columns(frame)
        cols: list[np.ndarray] = []
        for name in self.categoricals:
            codes = self._vocab_index(name).get_indexer(_text_array(frame, derived, name))
            cols.append(np.where(codes >= 0, codes, np.nan).astype(float))
        numeric = self._numeric_frame(frame, derived)
        cols += [numeric[n] for n in self.numerics]
        hist = (
            history.expanding_frame(frame, derived)
            if mode == "expanding"
            else history.lookup_frame(frame, derived)
        )
        cols += [hist[n] for n in history.feature_names()]
        if not cols:
            return np.zeros((len(frame), 0))
        return np.column_stack(cols).astype(float, copy=False)

    # one record
    def _out_of_band_one(self, basis: str, luv: float, hs6: str | None, hs4: str | None) -> float:
        band = self.band_of(basis, hs6, hs4)
        if band is None or math.isnan(luv):
            return math.nan
        return max(0.0, band[0] - luv, luv - band[1])

    def row(self, fields: Mapping[str, Any], history: HistoryTable) -> np.ndarray:
        """Feature vector (1 x F) for one record's fields (see ``DeclarationRecord.as_fields``)."""
        values: list[float] = []
        for name in self.categoricals:
            text = clean_str(fields.get(name))
            values.append(self.vocab[name].get(text, math.nan) if text is not None else math.nan)
        value = clean_num(fields.get("value"))
        mass = clean_num(fields.get("net_mass"))
        supp = clean_num(fields.get("supplementary_quantity"))
        hs = clean_str(fields.get("hs_code")) or ""
        hs6 = hs[:6] if len(hs) >= 6 else None
        hs4 = hs[:4] if len(hs) >= 4 else None
        when = fields.get("date")
        if isinstance(when, datetime):
            when = when.date()
        numeric: dict[str, float] = {
            "log_net_mass": _log1p_pos(mass),
            "log_gross_mass": _log1p_pos(clean_num(fields.get("gross_mass"))),
            "log_supplementary_quantity": _log1p_pos(supp),
            "unit_value_out_of_band": self._out_of_band_one(
                "kg", _log_ratio(value, mass), hs6, hs4
            ),
            "unit_value_su_out_of_band": self._out_of_band_one(
                "su", _log_ratio(value, supp), hs6, hs4
            ),
            "tax_rate": _nan(clean_num(fields.get("tax_rate"))),
            "departure_differs": _differs(
                clean_str(fields.get("departure_country")), clean_str(fields.get("origin"))
            ),
            "day_of_week": float(when.weekday()) if isinstance(when, date) else math.nan,
            "month": float(when.month) if isinstance(when, date) else math.nan,
        }
        values += [numeric[n] for n in self.numerics]
        hist = history.lookup_record(fields)
        values += [hist[n] for n in history.feature_names()]
        return np.array([values], dtype=float)

    # persistence
    def to_dict(self) -> dict[str, Any]:
        """JSON-able state."""
        return {
            "trader_categoricals": self.trader_categoricals,
            "min_category_count": self.min_category_count,
            "extra_fields": self.extra_fields,
            "vocab": self.vocab,
            "bands": {
                basis: {
                    lvl: {k: list(v) for k, v in codes.items()} for lvl, codes in levels.items()
                }
                for basis, levels in self.bands.items()
            },
            "categoricals": self.categoricals,
            "numerics": self.numerics,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureBuilder:
        """Rebuild from :meth:`to_dict`."""
        fb = cls(data["trader_categoricals"], data["min_category_count"], data["extra_fields"])
        fb.vocab = {k: dict(v) for k, v in data["vocab"].items()}
        fb.bands = {
            basis: {
                lvl: {k: (float(v[0]), float(v[1])) for k, v in codes.items()}
                for lvl, codes in levels.items()
            }
            for basis, levels in data["bands"].items()
        }
        fb.categoricals = list(data["categoricals"])
        fb.numerics = list(data["numerics"])
        return fb


def _differs(a: str | None, b: str | None) -> float:
    return math.nan if a is None or b is None else float(a != b)


def _nan(x: float | None) -> float:
    return math.nan if x is None else x


def _bands(stats: pd.DataFrame, key: str) -> dict[str, tuple[float, float]]:
    """Tukey fences on log unit value per code with at least BAND_MIN_COUNT values."""
    sub = stats.dropna(subset=[key, "l"])
    if sub.empty:
        return {}
    grouped = sub.groupby(key, sort=False)["l"]
    q = grouped.quantile([0.25, 0.75]).unstack()
    count = grouped.size()
    out: dict[str, tuple[float, float]] = {}
    for code, q1, q3 in zip(q.index, q[0.25].to_numpy(), q[0.75].to_numpy(), strict=True):
        if count[code] < BAND_MIN_COUNT:
            continue
        iqr = max(q3 - q1, BAND_MIN_IQR)
        out[str(code)] = (float(q1 - BAND_IQR_FACTOR * iqr), float(q3 + BAND_IQR_FACTOR * iqr))
    return out
