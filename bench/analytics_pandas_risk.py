"""lane_shares and model_drift in pandas (benchmark only; the definitions are the SQL of
src/silkgate/analytics/jobs/selectivity.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from analytics_pandas_common import (
    F64,
    INT,
    STR,
    div,
    finish,
    flag,
    foreign,
    hs_like,
    in_dates,
    join,
    known_nunique,
    known_nunique_where,
    month_index,
    month_label,
    nunique,
    quantiles,
    rate_shown,
    unsupported,
)

from silkgate.analytics.jobs.selectivity import PSI_EPSILON, SCORE_BINS

Frames = Mapping[str, pd.DataFrame]
RECOGNISED = ["discrepancy", "no_discrepancy"]


def _outcomes(frames: Frames, cc: str) -> pd.DataFrame:
    """Per inspected declaration version: inspected, hit, unrecognised, foreign_data."""
    i = frames["inspections"]
    known = i["outcome"].isin(RECOGNISED)
    marks = pd.DataFrame(
        {
            "declaration_id": i["declaration_id"],
            "version": i["version"],
            "inspected": known.astype("int64"),
            "hit": (i["outcome"] == "discrepancy").astype("int64"),
            "unrecognised": (~known).astype("int64"),
            "o_foreign": foreign(i["owner_country"], cc),
        }
    )
    return (
        marks.groupby(["declaration_id", "version"], dropna=False, sort=False).max().reset_index()
    )


def _declarations(frames: Frames, cc: str, *cols: str) -> pd.DataFrame:
    d = frames["declarations"]
    out = d[["declaration_id", *cols]].copy()
    out["d_foreign"] = foreign(d["owner_country"], cc)
    return out


CELL = ["office", "chapter", "trader_category", "month_index"]


def lane_shares(frames: Frames, values: dict[str, Any], cc: str, min_cell: int) -> pa.Table:
    unsupported("lane_shares", values, {"office": None, "hs": None, "trader_category": None})
    by = values["by"]
    lanes = frames["lanes_current"]
    ranked = lanes.sort_values(
        ["assessed_at", "assessment_id"], ascending=False, na_position="last", kind="stable"
    ).drop_duplicates("declaration_id", keep="first")
    c = ranked[in_dates(ranked["date"], values)]
    g = frames["goods_items_all"]
    g = join(
        g[["declaration_id", "version", "hs6", "invoice_value", "owner_country"]],
        c[["declaration_id", "version"]],
        "inner",
        on=["declaration_id", "version"],
    )
    per_chapter = pd.DataFrame(
        {
            "declaration_id": g["declaration_id"],
            "chapter": g["hs6"].str.slice(0, 2).fillna("unknown"),
            "value": g["invoice_value"].fillna(0.0),
            "matches": hs_like(g["hs6"], None).astype("int64"),
            "ch_foreign": foreign(g["owner_country"], cc),
        }
    )
    grouped = per_chapter.groupby(["declaration_id", "chapter"], sort=False)
    chapter_values = pd.DataFrame(
        {
            "value": grouped["value"].sum(),
            "matches": grouped["matches"].max(),
            "ch_foreign": grouped["ch_foreign"].max(),
        }
    ).reset_index()
    per_decl = chapter_values.groupby("declaration_id", sort=False)
    chapter_values["has_hs"] = per_decl["matches"].transform("max")
    chapter_values["ch_foreign"] = per_decl["ch_foreign"].transform("max")
    chapters = chapter_values.sort_values(
        ["declaration_id", "value", "chapter"], ascending=[True, False, True], kind="stable"
    ).drop_duplicates("declaration_id", keep="first")
    a = join(
        c[["declaration_id", "version", "office", "final_lane", "override_lane", "date",
           "owner_country"]],
        _declarations(frames, cc, "declarant_role", "trader_ref"),
        "left",
        on=["declaration_id"],
    )  # fmt: skip
    a = join(
        a, chapters[["declaration_id", "chapter", "ch_foreign"]], "left", on=["declaration_id"]
    )
    a = join(a, _outcomes(frames, cc), "left", on=["declaration_id", "version"])
    rows = pd.DataFrame(
        {
            "office": a["office"] if by in ("office", "all") else "*",
            "chapter": a["chapter"].fillna("unknown") if by in ("chapter", "all") else "*",
            "trader_category": (
                a["declarant_role"].fillna("unknown") if by in ("trader_category", "all") else "*"
            ),
            "month_index": month_index(a["date"]),
            "lane": a["final_lane"],
            "declaration_id": a["declaration_id"],
            "trader_ref": a["trader_ref"],
            "overridden": a["override_lane"].notna().astype("int64"),
            "inspected": a["inspected"].fillna(0),
            "hit": a["hit"].fillna(0),
            "unrecognised": a["unrecognised"].fillna(0),
            "foreign_data": np.maximum.reduce(
                [
                    foreign(a["owner_country"], cc),
                    a["d_foreign"].fillna(0),
                    a["ch_foreign"].fillna(0),
                    a["o_foreign"].fillna(0),
                ]
            ),
        }
    )
    keys = [*CELL, "lane"]
    grouped = rows.groupby(keys, dropna=False, sort=False)
    foreign_rows = (rows["foreign_data"] == 1).astype("int64")
    foreign_inspected = rows["inspected"] * foreign_rows
    out = pd.DataFrame(
        {
            "declarations": nunique(rows, keys, "declaration_id"),
            "traders": known_nunique(rows, keys, "trader_ref"),
            "overrides": grouped["overridden"].sum(),
            "inspected": grouped["inspected"].sum(),
            "inspected_traders": known_nunique_where(rows, keys, "trader_ref", rows["inspected"]),
            "hits": grouped["hit"].sum(),
            "unrecognised_outcomes": grouped["unrecognised"].sum(),
            "foreign_declarations": rows["declaration_id"].where(foreign_rows == 1).groupby(
                [rows[k] for k in keys], dropna=False, sort=False).nunique(),
            "foreign_traders": known_nunique_where(rows, keys, "trader_ref", foreign_rows),
            "foreign_inspected": foreign_inspected.groupby(
                [rows[k] for k in keys], dropna=False, sort=False).sum(),
            "foreign_inspected_traders": known_nunique_where(
                rows, keys, "trader_ref", foreign_inspected),
            "foreign_data": grouped["foreign_data"].max(),
        }
    ).reset_index()  # fmt: skip
    shown = rate_shown(
        out["foreign_data"], out["inspected"], out["inspected_traders"], min_cell
    ) & rate_shown(
        out["foreign_data"], out["foreign_inspected"], out["foreign_inspected_traders"], min_cell
    )
    foreign_part = (out["foreign_declarations"] == 0) | (
        (out["foreign_declarations"] >= min_cell) & (out["foreign_traders"] >= min_cell)
    )
    ok = flag(
        (out["foreign_data"] == 0)
        | ((out["declarations"] >= min_cell) & (out["traders"] >= min_cell) & foreign_part)
    )
    cell = out.assign(ok=ok).groupby(CELL, dropna=False, sort=False)
    total = cell["declarations"].transform("sum")
    out["share"] = div(out["declarations"], total).where(cell["ok"].transform("min") == 1)
    out["hit_rate"] = div(out["hits"], out["inspected"]).where(shown)
    out["hits"] = out["hits"].where(shown)
    out["month"] = month_label(out["month_index"])
    return finish(
        out,
        [("office", STR), ("chapter", STR), ("trader_category", STR), ("month", STR),
         ("lane", STR), ("declarations", INT), ("traders", INT), ("share", F64),
         ("overrides", INT), ("inspected", INT), ("hits", INT), ("hit_rate", F64),
         ("unrecognised_outcomes", INT), ("foreign_declarations", INT),
         ("foreign_traders", INT), ("foreign_data", INT)],
        ["office", "chapter", "trader_category", "month", "lane"],
    )  # fmt: skip


def _part(frame: pd.DataFrame, keys: list[str], flag: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Distinct declarations and (known) traders of the rows where ``flag`` is 1, per group
    (``selectivity._parts``)."""
    by = [frame[k] for k in keys]
    declarations = frame["declaration_id"].where(flag == 1).groupby(by, dropna=False, sort=False)
    return declarations.nunique(), known_nunique_where(frame, keys, "trader_ref", flag)


def _enough_or_none(parts: tuple[pd.Series, pd.Series], min_cell: int) -> pd.Series:
    declarations, traders = parts
    enough = ((declarations >= min_cell) & (traders >= min_cell)).fillna(False).astype(bool)
    return (declarations == 0) | enough


def model_drift(frames: Frames, values: dict[str, Any], cc: str, min_cell: int) -> pa.Table:
    lanes = frames["lanes"]
    model = lanes["model_id"].fillna("rules only")
    if values.get("model_id"):
        lanes, model = lanes[model == values["model_id"]], model[model == values["model_id"]]
    bins = np.clip(np.floor(lanes["score"] * SCORE_BINS), 0, SCORE_BINS - 1)
    assessed = pd.DataFrame(
        {
            "declaration_id": lanes["declaration_id"],
            "version": lanes["version"],
            "model_id": model,
            "score": lanes["score"],
            "date": lanes["date"],
            "month_index": month_index(lanes["date"]),
            "owner_country": lanes["owner_country"],
            "red_yellow": lanes["assessed_lane"].isin(["red", "yellow"]).astype("int64"),
            "score_bin": bins,
        }
    )
    j = join(assessed, _declarations(frames, cc, "trader_ref"), "left", on=["declaration_id"])
    j = join(j, _outcomes(frames, cc), "left", on=["declaration_id", "version"])
    for col in ("inspected", "hit", "unrecognised"):
        j[col] = j[col].fillna(0)
    j["foreign_data"] = np.maximum.reduce(
        [foreign(j["owner_country"], cc), j["d_foreign"].fillna(0), j["o_foreign"].fillna(0)]
    )
    scored_rows = assessed[assessed["score"].notna()]
    baseline = scored_rows.groupby("model_id", sort=False)["month_index"].min().rename("base")
    base_rows = join(j, baseline.reset_index(), "inner", left_on=["model_id", "month_index"],
                     right_on=["model_id", "base"])  # fmt: skip
    bgrouped = base_rows.groupby("model_id", sort=False)
    base_has_score = base_rows["score"].notna().astype("int64")
    base_scored = base_rows[base_rows["score"].notna()]
    base_foreign = (base_rows["foreign_data"] == 1).astype("int64")
    base_cell = pd.DataFrame(
        {
            "base_scored": bgrouped["score"].count(),
            "publishable": (bgrouped["foreign_data"].max() == 0)
            | (
                (nunique(base_rows, ["model_id"], "declaration_id") >= min_cell)
                & (known_nunique(base_rows, ["model_id"], "trader_ref") >= min_cell)
                & (nunique(base_scored, ["model_id"], "declaration_id") >= min_cell)
                & (
                    known_nunique_where(base_rows, ["model_id"], "trader_ref", base_has_score)
                    >= min_cell
                ).fillna(False)
                & _enough_or_none(_part(base_rows, ["model_id"], base_foreign), min_cell)
                & _enough_or_none(
                    _part(base_rows, ["model_id"], base_has_score * base_foreign), min_cell
                )
            ),
        }
    )
    base_bins = (
        base_rows[base_rows["score"].notna()]
        .groupby(["model_id", "score_bin"])
        .size()
        .rename("q_n")
    )
    r = j[in_dates(j["date"], values)]
    month_bins = (
        r[r["score"].notna()]
        .groupby(["model_id", "month_index", "score_bin"]).size().rename("p_n")
    )  # fmt: skip
    keys = ["model_id", "month_index"]
    grouped = r.groupby(keys, dropna=False, sort=False)
    r_foreign = (r["foreign_data"] == 1).astype("int64")
    r_scored = r["score"].notna().astype("int64")
    r_ry_inspected = r["red_yellow"] * r["inspected"]
    foreign_part = _part(r, keys, r_foreign)
    foreign_scored = _part(r, keys, r_scored * r_foreign)
    foreign_ry = _part(r, keys, r_ry_inspected * r_foreign)
    quant = quantiles(grouped["score"], [0.1, 0.5, 0.9])
    m = pd.DataFrame(
        {
            "assessments": grouped.size(),
            "declarations": nunique(r, keys, "declaration_id"),
            "traders": known_nunique(r, keys, "trader_ref"),
            "scored": grouped["score"].count(),
            "score_mean": grouped["score"].mean(),
            "score_p10": quant[0.1],
            "score_median": quant[0.5],
            "score_p90": quant[0.9],
            "red_yellow": grouped["red_yellow"].sum(),
            "red_yellow_inspected": (r["red_yellow"] * r["inspected"]).groupby(
                [r[k] for k in keys], dropna=False, sort=False).sum(),
            "red_yellow_hits": (r["red_yellow"] * r["hit"]).groupby(
                [r[k] for k in keys], dropna=False, sort=False).sum(),
            "ry_inspected_declarations": r["declaration_id"].where(
                r["red_yellow"] * r["inspected"] == 1).groupby(
                [r[k] for k in keys], dropna=False, sort=False).nunique(),
            "ry_inspected_traders": known_nunique_where(
                r, keys, "trader_ref", r["red_yellow"] * r["inspected"]),
            "scored_declarations": r["declaration_id"].where(r["score"].notna()).groupby(
                [r[k] for k in keys], dropna=False, sort=False).nunique(),
            "scored_traders": known_nunique_where(
                r, keys, "trader_ref", r["score"].notna().astype("int64")),
            "unrecognised_outcomes": grouped["unrecognised"].sum(),
            "foreign_declarations": foreign_part[0],
            "foreign_traders": foreign_part[1],
            "foreign_scored_declarations": foreign_scored[0],
            "foreign_scored_traders": foreign_scored[1],
            "foreign_ry_declarations": foreign_ry[0],
            "foreign_ry_traders": foreign_ry[1],
            "foreign_data": grouped["foreign_data"].max(),
        }
    ).reset_index()  # fmt: skip
    # PSI over every (model, month) with scores whose baseline is publishable, all bins.
    psi_cells = m[m["scored"] > 0][["model_id", "month_index", "scored"]].merge(
        base_cell[base_cell["publishable"]].reset_index(), on="model_id"
    )
    grid = psi_cells.merge(pd.DataFrame({"score_bin": np.arange(SCORE_BINS, dtype=float)}),
                           how="cross")  # fmt: skip
    grid = grid.merge(month_bins.reset_index(), how="left", on=[*keys, "score_bin"])
    grid = grid.merge(base_bins.reset_index(), how="left", on=["model_id", "score_bin"])
    p = (grid["p_n"] / grid["scored"]).fillna(PSI_EPSILON)
    q = (grid["q_n"] / grid["base_scored"]).fillna(PSI_EPSILON)
    grid["psi"] = (p - q) * np.log(p / q)
    psi = grid.groupby(keys, sort=False)["psi"].sum().reset_index()
    m = join(m, baseline.reset_index(), "left", on=["model_id"])
    m = join(m, psi, "left", on=keys)
    m["red_yellow_share"] = div(m["red_yellow"], m["assessments"])
    shown = rate_shown(m["foreign_data"], m["ry_inspected_declarations"],
                       m["ry_inspected_traders"], min_cell) & rate_shown(
        m["foreign_data"], m["foreign_ry_declarations"], m["foreign_ry_traders"], min_cell
    )  # fmt: skip
    m["red_yellow_precision"] = div(m["red_yellow_hits"], m["red_yellow_inspected"]).where(shown)
    m["red_yellow_hits"] = m["red_yellow_hits"].where(shown)
    scores_shown = rate_shown(m["foreign_data"], m["scored_declarations"],
                              m["scored_traders"], min_cell) & rate_shown(
        m["foreign_data"], m["foreign_scored_declarations"], m["foreign_scored_traders"], min_cell
    )  # fmt: skip
    for col in ("score_mean", "score_p10", "score_median", "score_p90", "psi"):
        m[col] = m[col].where(scores_shown)
    m["month"] = month_label(m["month_index"])
    publishable = m["model_id"].map(base_cell["publishable"]).eq(True)  # no baseline: False
    m["baseline_month"] = month_label(m["base"]).where(publishable)
    return finish(
        m,
        [("model_id", STR), ("month", STR), ("assessments", INT), ("declarations", INT),
         ("traders", INT), ("scored", INT), ("score_mean", F64), ("score_p10", F64),
         ("score_median", F64), ("score_p90", F64), ("red_yellow_share", F64),
         ("red_yellow_inspected", INT), ("red_yellow_hits", INT),
         ("red_yellow_precision", F64), ("unrecognised_outcomes", INT),
         ("baseline_month", STR), ("psi", F64), ("foreign_declarations", INT),
         ("foreign_traders", INT), ("foreign_data", INT)],
        ["model_id", "month"],
    )  # fmt: skip
