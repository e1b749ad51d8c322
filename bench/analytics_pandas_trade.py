"""trade_flows, mirror_statistics and unit_values in pandas (benchmark only; the definitions
are the SQL of src/silkgate/analytics/jobs/trade.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from analytics_pandas_common import (
    BOOL,
    F64,
    INT,
    STR,
    div,
    finish,
    foreign,
    hs_like,
    in_dates,
    join,
    month_index,
    month_label,
    nunique,
    quantiles,
)

Frames = Mapping[str, pd.DataFrame]


def _hs_at(hs6: pd.Series, level: str) -> pd.Series:
    if level == "chapter":
        return hs6.str.slice(0, 2)
    if level == "heading":
        return hs6.str.slice(0, 4)
    return hs6


def _goods(frames: Frames, values: Mapping[str, Any]) -> pd.DataFrame:
    g = frames["goods_items"]
    return g[in_dates(g["date"], values) & hs_like(g["hs6"], values.get("hs"))]


FLOW_KEYS = ["hs", "flow", "reporter", "partner", "currency"]


def trade_flows(frames: Frames, values: dict[str, Any], cc: str, min_cell: int) -> pa.Table:
    g = _goods(frames, values)
    if values.get("reporter"):
        g = g[g["owner_country"] == values["reporter"]]
    is_import = g["type"] == "import"
    items = pd.DataFrame(
        {
            "hs": _hs_at(g["hs6"], values["level"]),
            "flow": np.where(
                is_import, "import", np.where(g["type"] == "transit", "transit", "export")
            ),
            "reporter": g["owner_country"],
            "partner": g["exit_country"].where(is_import, g["entry_country"]),
            "month_index": month_index(g["date"]),
            "currency": g["currency"],
            "invoice_value": g["invoice_value"],
            "net_mass_kg": g["net_mass_kg"],
            "declaration_id": g["declaration_id"],
            "trader_ref": g["trader_ref"],
            "foreign_data": foreign(g["owner_country"], cc),
        }
    )
    if values.get("partner"):
        items = items[items["partner"] == values["partner"]]
    by = [*FLOW_KEYS, "month_index"]
    grouped = items.groupby(by, dropna=False, sort=False)
    cells = pd.DataFrame(
        {
            "value": grouped["invoice_value"].sum(min_count=1),
            "net_mass_kg": grouped["net_mass_kg"].sum(min_count=1),
            "items": grouped.size(),
            "declarations": nunique(items, by, "declaration_id"),
            "traders": nunique(items, by, "trader_ref"),
            "foreign_data": grouped["foreign_data"].max(),
        }
    )
    cells = cells.reset_index()
    cells["publishable"] = (cells["foreign_data"] == 0) | (
        (cells["declarations"] >= min_cell) & (cells["traders"] >= min_cell)
    )
    earlier = cells[[*by, "value", "net_mass_kg", "publishable"]]
    for name, step in (("m", 1), ("y", 12)):
        prior = earlier.assign(month_index=earlier["month_index"] + step).rename(
            columns={c: f"{name}_{c}" for c in ("value", "net_mass_kg", "publishable")}
        )
        cells = join(cells, prior, "left", on=by)
    pub_m = cells["m_publishable"].fillna(False).astype(bool)
    pub_y = cells["y_publishable"].fillna(False).astype(bool)
    cells["value_growth_mom"] = (div(cells["value"], cells["m_value"]) - 1).where(pub_m)
    cells["value_growth_yoy"] = (div(cells["value"], cells["y_value"]) - 1).where(pub_y)
    cells["mass_growth_yoy"] = (div(cells["net_mass_kg"], cells["y_net_mass_kg"]) - 1).where(pub_y)
    cells["month"] = month_label(cells["month_index"])
    return finish(
        cells,
        [("hs", STR), ("flow", STR), ("reporter", STR), ("partner", STR), ("month", STR),
         ("currency", STR), ("value", F64), ("net_mass_kg", F64), ("items", INT),
         ("declarations", INT), ("traders", INT), ("foreign_data", INT),
         ("value_growth_mom", F64), ("value_growth_yoy", F64), ("mass_growth_yoy", F64)],
        ["hs", "flow", "reporter", "partner", "month", "currency"],
    )  # fmt: skip


SIDES = ("export", "import")


def mirror_statistics(frames: Frames, values: dict[str, Any], cc: str, min_cell: int) -> pa.Table:
    g = _goods(frames, values)
    exp_, imp = values["exporter"], values["importer"]
    g = g[
        ((g["type"] == "export") & (g["owner_country"] == exp_) & (g["entry_country"] == imp))
        | ((g["type"] == "import") & (g["owner_country"] == imp) & (g["exit_country"] == exp_))
    ]
    uv = (g["net_mass_kg"] > 0) & g["invoice_value"].notna()
    items = pd.DataFrame(
        {
            "hs": _hs_at(g["hs6"], values["level"]),
            "month_index": month_index(g["date"]),
            "currency": g["currency"].fillna(""),
            "side": np.where(g["type"] == "export", "export", "import"),
            "invoice_value": g["invoice_value"],
            "net_mass_kg": g["net_mass_kg"],
            "uv_value": g["invoice_value"].where(uv),
            "uv_mass": g["net_mass_kg"].where(uv),
            "no_mass": (g["net_mass_kg"].fillna(0) <= 0).astype("int64"),
            "declaration_id": g["declaration_id"],
            "trader_ref": g["trader_ref"],
            "uv_declaration": g["declaration_id"].where(uv),
            "uv_trader": g["trader_ref"].where(uv),
            "foreign_data": foreign(g["owner_country"], cc),
        }
    )
    keys = ["hs", "month_index", "currency"]
    by = [*keys, "side"]
    grouped = items.groupby(by, dropna=False, sort=False)
    per_side = pd.DataFrame(
        {
            "value": grouped["invoice_value"].sum(min_count=1),
            "mass_kg": grouped["net_mass_kg"].sum(min_count=1),
            "uv_value": grouped["uv_value"].sum(min_count=1),
            "uv_mass": grouped["uv_mass"].sum(min_count=1),
            "declarations": nunique(items, by, "declaration_id"),
            "traders": nunique(items, by, "trader_ref"),
            "items_no_mass": grouped["no_mass"].sum(),
            "uv_declarations": nunique(items, by, "uv_declaration"),
            "uv_traders": nunique(items, by, "uv_trader"),
            "foreign": grouped["foreign_data"].max(),
        }
    )
    wide = per_side.unstack("side")
    cells = pd.DataFrame(index=wide.index)
    for side in SIDES:
        for col in per_side.columns:
            got = wide[(col, side)] if (col, side) in wide.columns else np.nan
            cells[f"{side}_{col}"] = got
        for col in ("declarations", "traders", "items_no_mass"):
            cells[f"{side}_{col}"] = cells[f"{side}_{col}"].fillna(0)
    cells["foreign_data"] = items.groupby(keys, dropna=False, sort=False)["foreign_data"].max()
    c = cells.reset_index()
    for side in SIDES:  # trade._uv_shown
        shown = (c[f"{side}_foreign"].fillna(0) == 0) | (
            (c[f"{side}_uv_declarations"] >= min_cell) & (c[f"{side}_uv_traders"] >= min_cell)
        )
        c[f"{side}_unit_value"] = div(c[f"{side}_uv_value"], c[f"{side}_uv_mass"]).where(shown)
    c["value_gap"] = c["export_value"] - c["import_value"]
    c["gap_share"] = div(c["value_gap"], c["export_value"])
    c["mass_gap"] = c["export_mass_kg"] - c["import_mass_kg"]
    c["unit_value_ratio"] = div(c["import_unit_value"], c["export_unit_value"])
    least = values["min_declarations"]
    c["flag"] = (
        (c["export_declarations"] >= least)
        & (c["import_declarations"] >= least)
        & (c["import_unit_value"] < values["ratio_threshold"] * c["export_unit_value"])
    )
    c["month"] = month_label(c["month_index"])
    return finish(
        c,
        [("hs", STR), ("month", STR), ("currency", STR), ("export_value", F64),
         ("import_value", F64), ("value_gap", F64), ("gap_share", F64),
         ("export_mass_kg", F64), ("import_mass_kg", F64), ("mass_gap", F64),
         ("export_unit_value", F64), ("import_unit_value", F64), ("unit_value_ratio", F64),
         ("flag", BOOL), ("export_declarations", INT), ("import_declarations", INT),
         ("export_traders", INT), ("import_traders", INT), ("export_items_no_mass", INT),
         ("import_items_no_mass", INT), ("foreign_data", INT)],
        ["hs", "month", "currency"],
    )  # fmt: skip


UV_KEYS = ["hs6", "origin_country", "currency"]
PERCENTILES = {"p05": 0.05, "p25": 0.25, "median": 0.5, "p75": 0.75, "p95": 0.95}


def unit_values(frames: Frames, values: dict[str, Any], cc: str, min_cell: int) -> pa.Table:
    g = _goods(frames, values)
    for param, col in (
        ("origin", "origin_country"),
        ("flow", "type"),
        ("reporter", "owner_country"),
    ):
        if values.get(param):
            g = g[g[col] == values[param]]
    mass, value = g["net_mass_kg"], g["invoice_value"]
    has_uv = (mass > 0) & (value > 0)
    uv = (value / mass).where(has_uv)
    items = pd.DataFrame(
        {
            "hs6": g["hs6"],
            "origin_country": g["origin_country"].fillna(""),
            "currency": g["currency"].fillna(""),
            "uv": uv,
            "log_uv": np.log(uv),
            "no_mass": (mass.fillna(0) <= 0).astype("int64"),
            "no_value": ((mass > 0) & (value.fillna(0) <= 0)).astype("int64"),
            "declaration_id": g["declaration_id"],
            "trader_ref": g["trader_ref"],
            "foreign_data": foreign(g["owner_country"], cc),
        }
    )
    grouped = items.groupby(UV_KEYS, dropna=False, sort=False)

    def only(rows: pd.Series) -> pd.DataFrame:
        """The items, their declaration and trader kept only where ``rows`` holds."""
        return items.assign(
            declaration_id=items["declaration_id"].where(rows),
            trader_ref=items["trader_ref"].where(rows),
        )

    foreign_items = only(items["foreign_data"] == 1)
    uv_items = only(items["uv"].notna())
    foreign_uv_items = only((items["foreign_data"] == 1) & items["uv"].notna())
    stats = pd.DataFrame(
        {
            "items": grouped["uv"].count(),
            "items_no_mass": grouped["no_mass"].sum(),
            "items_no_value": grouped["no_value"].sum(),
            "declarations": nunique(items, UV_KEYS, "declaration_id"),
            "traders": nunique(items, UV_KEYS, "trader_ref"),
            "foreign_declarations": nunique(foreign_items, UV_KEYS, "declaration_id"),
            "foreign_traders": nunique(foreign_items, UV_KEYS, "trader_ref"),
            "uv_declarations": nunique(uv_items, UV_KEYS, "declaration_id"),
            "uv_traders": nunique(uv_items, UV_KEYS, "trader_ref"),
            "foreign_uv_declarations": nunique(foreign_uv_items, UV_KEYS, "declaration_id"),
            "foreign_uv_traders": nunique(foreign_uv_items, UV_KEYS, "trader_ref"),
            "foreign_data": grouped["foreign_data"].max(),
        }
    )
    pct = quantiles(grouped["uv"], list(PERCENTILES.values()))
    for name, q in PERCENTILES.items():
        stats[name] = pct[q]
    quart = quantiles(grouped["log_uv"], [0.25, 0.75])
    q1, q3 = quart[0.25], quart[0.75]
    width = np.maximum(q3 - q1, values["min_log_width"])
    enough = stats["items"] >= values["min_items"]
    stats["low_log"] = (q1 - values["iqr_factor"] * width).where(enough)
    stats["high_log"] = (q3 + values["iqr_factor"] * width).where(enough)
    s = stats.reset_index()
    fenced = s[s["low_log"].notna()][[*UV_KEYS, "low_log", "high_log"]]
    marked = join(items[[*UV_KEYS, "log_uv"]], fenced, "inner", on=UV_KEYS)
    marked["low_outliers"] = (marked["log_uv"] < marked["low_log"]).astype("int64")
    marked["high_outliers"] = (marked["log_uv"] > marked["high_log"]).astype("int64")
    counts = marked.groupby(UV_KEYS, sort=False)[["low_outliers", "high_outliers"]].sum()
    s = join(s, counts.reset_index(), "left", on=UV_KEYS)
    s["low_fence"] = np.exp(s["low_log"])
    s["high_fence"] = np.exp(s["high_log"])
    foreign_uv = s["foreign_uv_declarations"]
    shown = (s["foreign_data"] == 0) | (  # trade.py's figures_shown
        (s["uv_declarations"] >= min_cell)
        & (s["uv_traders"] >= min_cell)
        & ((foreign_uv == 0) | ((foreign_uv >= min_cell) & (s["foreign_uv_traders"] >= min_cell)))
    )
    figures = [*PERCENTILES, "low_fence", "high_fence", "low_outliers", "high_outliers"]
    for col in figures:
        s[col] = s[col].where(shown)
    return finish(
        s,
        [("hs6", STR), ("origin_country", STR), ("currency", STR), ("items", INT),
         ("items_no_mass", INT), ("items_no_value", INT), ("declarations", INT),
         ("traders", INT), ("p05", F64), ("p25", F64), ("median", F64), ("p75", F64),
         ("p95", F64), ("low_fence", F64), ("high_fence", F64), ("low_outliers", INT),
         ("high_outliers", INT), ("foreign_declarations", INT), ("foreign_traders", INT),
         ("foreign_data", INT)],
        UV_KEYS,
    )  # fmt: skip
