"""clearance_times and equeue_use in pandas (benchmark only; the definitions are the SQL of
src/silkgate/analytics/jobs/clearance.py and equeue.py)."""

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
    day_index,
    day_label,
    div,
    finish,
    foreign,
    in_dates,
    join,
    known_nunique,
    known_nunique_where,
    month_index,
    month_label,
    nunique,
    quantiles,
    sum_or_null,
    week_index,
    week_label,
)

from silkgate.analytics.jobs.clearance import DEPARTURES, ENTRY_POINTS, LANES
from silkgate.codelists.crossings import load_crossings

Frames = Mapping[str, pd.DataFrame]
PERIODS = {
    "day": (day_index, day_label),
    "week": (week_index, week_label),
    "month": (month_index, month_label),
}

# ------------------------------------------------------------------------------- e-queue

SHOWED = ["arrived", "called", "in_checkpoint", "exited"]
ROUTE = ["crossing", "direction"]


def _queue_rows(frame: pd.DataFrame, values: Mapping[str, Any]) -> pd.DataFrame:
    keep = in_dates(frame["day"], values)
    if values.get("crossing"):
        keep &= frame["crossing_code"] == values["crossing"]
    return frame[keep]


def equeue_use(frames: Frames, values: dict[str, Any], cc: str, min_cell: int) -> pa.Table:
    index_of, label_of = PERIODS[values["period"]]
    b = _queue_rows(frames["bookings"], values)
    status = b["status"]
    outcome = np.select(
        [
            b["quota_class"] == "live",
            status == "cancelled",
            status == "expired",
            b["no_show_at"].notna() | status.isin(["no_show", "late"]),
            status.isin(SHOWED),
        ],
        ["walk_in", "cancelled", "expired", "no_show", "used"],
        "pending",
    )
    booked_one = outcome != "walk_in"
    rows = pd.DataFrame(
        {
            "crossing": b["crossing_code"],
            "direction": b["exit_country"] + "->" + b["entry_country"],
            "day": b["day"],
            "period": index_of(b["day"]),
            "organization": b["organization"].where(booked_one),
            "truck_ref": b["truck_ref"],
            "bookings": booked_one.astype("int64"),
            "cancelled": (outcome == "cancelled").astype("int64"),
            "expired": (outcome == "expired").astype("int64"),
            "no_shows": (outcome == "no_show").astype("int64"),
            "late": ((outcome == "no_show") & status.notna() & (status != "no_show")).astype(
                "int64"
            ),
            "used": (outcome == "used").astype("int64"),
            "pending": (outcome == "pending").astype("int64"),
            "reschedules": b["reschedules"].where(booked_one, 0),
            "walk_ins": (outcome == "walk_in").astype("int64"),
            "foreign_data": foreign(b["owner_country"], cc),
        }
    )
    by = [*ROUTE, "period"]
    grouped = rows.groupby(by, dropna=False, sort=False)
    counted = ["bookings", "cancelled", "expired", "no_shows", "late", "used", "pending",
               "walk_ins"]  # fmt: skip
    booked = grouped[counted].sum()
    booked["reschedules"] = grouped["reschedules"].sum()  # null reschedules: as 0 (coalesce)
    booked["organizations"] = nunique(rows, by, "organization")
    booked["trucks"] = nunique(rows, by, "truck_ref")
    booked["b_foreign"] = grouped["foreign_data"].max()
    booked = booked.reset_index()
    used_days = rows.groupby([*ROUTE, "day"], dropna=False, sort=False)["used"].sum()
    p = _queue_rows(frames["queue_day_plans"], values)
    plans = pd.DataFrame(
        {
            "crossing": p["crossing_code"],
            "direction": p["exit_country"] + "->" + p["entry_country"],
            "day": p["day"],
            "daily_cap": p["daily_cap"],
            "p_foreign": foreign(p["owner_country"], cc),
            "planned": True,
        }
    )
    days = join(plans, used_days.reset_index(), "outer", on=[*ROUTE, "day"])
    planned = days["planned"].fillna(False).astype(bool)
    days["used_on_plan"] = days["used"].fillna(0).where(planned, 0)
    days["unplanned"] = (~planned).astype("int64")
    days["p_foreign"] = days["p_foreign"].fillna(0)
    days["period"] = index_of(days["day"])
    dgrouped = days.groupby(by, dropna=False, sort=False)
    capped = pd.DataFrame(
        {
            "planned_cap": sum_or_null(dgrouped["daily_cap"]),
            "c_used_on_plan": dgrouped["used_on_plan"].sum(),
            "days_without_plan": dgrouped["unplanned"].sum(),
            "c_foreign": dgrouped["p_foreign"].max(),
        }
    ).reset_index()
    booked["in_booked"] = True
    out = join(booked, capped, "outer", on=by)
    out["no_show_rate"] = div(out["no_shows"], out["used"] + out["no_shows"])
    out["cap_utilization"] = div(out["c_used_on_plan"], out["planned_cap"])
    for col in [*counted, "reschedules", "organizations", "trucks", "days_without_plan"]:
        out[col] = out[col].fillna(0)
    out["foreign_data"] = np.maximum(out["b_foreign"].fillna(0), out["c_foreign"].fillna(0))
    out["period"] = label_of(out["period"])
    return finish(
        out,
        [("crossing", STR), ("direction", STR), ("period", STR), ("bookings", INT),
         ("organizations", INT), ("cancelled", INT), ("expired", INT), ("no_shows", INT),
         ("late", INT), ("used", INT), ("pending", INT), ("reschedules", INT),
         ("walk_ins", INT), ("trucks", INT), ("no_show_rate", F64), ("planned_cap", INT),
         ("cap_utilization", F64), ("days_without_plan", INT), ("foreign_data", INT)],
        ["crossing", "direction", "period"],
    )  # fmt: skip


# ------------------------------------------------------------------------------ clearance

POINTS = {
    "exit_gate": "exit_gate",
    "released": "release",
    "waiting_area": "waiting_area",
    "gate_in": "gate_in",
    "dc_start": "document_control_start",
    "dc_end": "document_control_end",
    "pi_start": "physical_inspection_start",
    "pi_end": "physical_inspection_end",
}
VISIT = ["crossing", "side", "truck_ref", "visit"]
RANK = {lane: i for i, lane in enumerate(LANES, start=1)}


def _hours(a: pd.Series, b: pd.Series) -> pd.Series:
    """Whole seconds from ``a`` to ``b`` in hours; null unless ``b`` is not before ``a``."""
    secs = (b.dt.floor("s") - a.dt.floor("s")).dt.total_seconds()
    return (secs / 3600).where(b >= a)


def _numbered(frames: Frames, values: Mapping[str, Any], cc: str) -> pd.DataFrame:
    e = frames["gate_events"]
    corrected = e["corrects"].dropna().unique()
    keep = ~e["event_id"].isin(corrected) & e["read_point"].notna()
    keep &= e["read_point"] != "neutral_zone"
    if values.get("crossing"):
        keep &= e["crossing_code"] == values["crossing"]
    ev = e[keep].drop(columns="crossing").rename(columns={"crossing_code": "crossing"})
    ev = ev.sort_values(["event_time", "record_time", "event_id"], na_position="last",
                        kind="stable")  # fmt: skip
    dep = ev["read_point"].isin(DEPARTURES).astype("int64")
    ends = ev["read_point"].isin(["release", "refusal"]).astype("int64")
    out = ev[["event_id", "crossing", "side", "read_point", "truck_ref", "event_time", "date"]]
    out = out.assign(
        visit=dep.groupby([ev["crossing"], ev["side"], ev["truck_ref"]], dropna=False).cumsum()
        - dep,
        trip=ends.groupby([ev["crossing"], ev["truck_ref"]], dropna=False).cumsum() - ends,
        foreign_data=foreign(ev["owner_country"], cc),
    )
    return out


def _visit_lanes(frames: Frames, n: pd.DataFrame, cc: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each visit's strictest lane and whether a lane (or its declaration) is foreign; and the
    declarations each visit carried, with their lane rank and trader (``carried``)."""
    lanes = frames["lanes_current"]
    top = lanes.groupby("declaration_id", dropna=False, sort=False)["version"].transform("max")
    current = lanes[lanes["version"] == top]
    decl = (
        pd.DataFrame(
            {
                "ref": current["declaration_id"],
                "lane_rank": current["final_lane"].map(RANK).fillna(0),
                "lane_foreign": foreign(current["owner_country"], cc),
            }
        )
        .groupby("ref", dropna=False, sort=False)
        .max()
        .reset_index()
    )
    lodged = frames["declarations"]
    lodged = pd.DataFrame(
        {
            "ref": lodged["declaration_id"],
            "trader_ref": lodged["trader_ref"],
            "lodged_foreign": foreign(lodged["owner_country"], cc),
        }
    )
    decl = join(decl, lodged, "left", on=["ref"])
    decl["lane_foreign"] = np.maximum(decl["lane_foreign"], decl["lodged_foreign"].fillna(0))
    refs = frames["gate_event_refs"]
    refs = refs[refs["ref_type"] == "declaration"][["event_id", "ref"]]
    named = join(n[[*VISIT, "event_id"]], refs, "inner", on=["event_id"])
    named = join(named, decl, "inner", on=["ref"])
    carried = named[[*VISIT, "ref", "lane_rank", "trader_ref"]].drop_duplicates()
    lanes_of = named.groupby(VISIT, sort=False)[["lane_rank", "lane_foreign"]].max()
    return lanes_of.reset_index(), carried


def _sides() -> pd.DataFrame:
    rows = [(c.code, a, b) for c in load_crossings() for a, b in (c.countries, c.countries[::-1])]
    return pd.DataFrame(rows, columns=["crossing", "side", "other"])


def _timed(frames: Frames, values: Mapping[str, Any], cc: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = _numbered(frames, values, cc)
    firsts = {
        name: n["event_time"].where(n["read_point"] == point) for name, point in POINTS.items()
    }
    n = n.assign(
        entering=n["read_point"].isin(ENTRY_POINTS).astype("int64"),
        refused=(n["read_point"] == "refusal").astype("int64"),
        **firsts,
    )
    grouped = n.groupby(VISIT, dropna=False, sort=False)
    v = pd.DataFrame(
        {
            "trip": grouped["trip"].min(),
            "arrival_day": grouped["date"].min(),
            "arrival": grouped["event_time"].min(),
            "entering": grouped["entering"].max(),
            "refused": grouped["refused"].max(),
            **{name: grouped[name].min() for name in POINTS},
            "foreign_data": grouped["foreign_data"].max(),
        }
    ).reset_index()
    v = join(v, _sides(), "left", on=["crossing", "side"])
    lanes_of, carried = _visit_lanes(frames, n, cc)
    v = join(v, lanes_of, "left", on=VISIT)
    entry = v["entering"] == 1
    other = v["other"].fillna("?")
    timed = pd.DataFrame(
        {
            "crossing": v["crossing"],
            "side": v["side"],
            "truck_ref": v["truck_ref"],
            "visit": v["visit"],
            "trip": v["trip"],
            "arrival_day": v["arrival_day"],
            "arrival": v["arrival"],
            "released": v["released"],
            "refused": v["refused"],
            "role": np.where(entry, "entry", "exit"),
            "direction": (other + "->" + v["side"]).where(entry, v["side"] + "->" + other),
            "departed_at": v["released"].where(entry, v["exit_gate"]),
            "queue": _hours(v["waiting_area"], v["gate_in"]),
            "document_control": _hours(v["dc_start"], v["dc_end"]),
            "inspection": _hours(v["pi_start"], v["pi_end"]),
            "arrival_to_departure": _hours(
                v["arrival"], v["released"].where(entry, v["exit_gate"])
            ),
            "lane_rank": v["lane_rank"].astype("float64").fillna(0),  # no lanes: all null
            "foreign_data": np.maximum(v["foreign_data"], v["lane_foreign"].fillna(0)),
        }
    )
    return timed, carried


def _trips(t: pd.DataFrame) -> pd.DataFrame:
    exit_, entry = t["role"] == "exit", t["role"] == "entry"
    t = t.assign(
        exit_side=t["side"].where(exit_),
        entry_side=t["side"].where(entry),
        entry_released=t["released"].where(entry),
    )
    by = ["crossing", "truck_ref", "trip"]
    grouped = t.groupby(by, dropna=False, sort=False)
    trips = pd.DataFrame(
        {
            "exit_side": grouped["exit_side"].min(),
            "entry_side": grouped["entry_side"].min(),
            "arrival_day": grouped["arrival_day"].min(),
            "arrival": grouped["arrival"].min(),
            "released": grouped["entry_released"].min(),
            "refused": grouped["refused"].max(),
            "lane_rank": grouped["lane_rank"].max(),
            "foreign_data": grouped["foreign_data"].max(),
            "sides": nunique(t, by, "side"),
            "exit_sides": nunique(t, by, "exit_side"),
            "entry_sides": nunique(t, by, "entry_side"),
        }
    ).reset_index()
    trips = trips[(trips["sides"] == 2) & (trips["exit_sides"] == 1) & (trips["entry_sides"] == 1)]
    return pd.DataFrame(
        {
            "crossing": trips["crossing"],
            "direction": trips["exit_side"] + "->" + trips["entry_side"],
            "side": "both",
            "arrival_day": trips["arrival_day"],
            "lane_rank": trips["lane_rank"],
            "truck_ref": trips["truck_ref"],
            "trip": trips["trip"],
            "foreign_data": trips["foreign_data"],
            "trs_interval": "arrival_to_release",
            "refused": trips["refused"],
            "open_passage": (trips["released"].isna() & (trips["refused"] == 0)).astype("int64"),
            "hours": _hours(trips["arrival"], trips["released"]),
        }
    )


SPAN = ["crossing", "direction", "side", "arrival_day", "lane_rank", "truck_ref", "foreign_data"]
CELL = ["crossing", "direction", "side", "period_index", "lane_rank", "trs_interval"]
ROW = ["crossing", "direction", "side", "period_index", "lane_rank"]
INTERVALS = ("queue", "document_control", "inspection", "arrival_to_departure")


def _declarations(
    t: pd.DataFrame,
    trips: pd.DataFrame,
    carried: pd.DataFrame,
    values: Mapping[str, Any],
    index_of: Any,
) -> pd.DataFrame:
    """Distinct declarations of a row's lane that its visits carried (rows with a lane), and
    their known traders, in all and per interval among the visits it was measured on
    (``d_<interval>``, ``t_<interval>``)."""
    keys = ["crossing", "direction", "side", "arrival_day", "lane_rank", "truck_ref"]
    per_side = t[[*keys, "visit", *INTERVALS]].assign(at_side=t["side"])
    visits = t[["crossing", "truck_ref", "trip", "side", "visit"]].rename(
        columns={"side": "at_side"}
    )
    both = join(trips[[*keys, "trip", "hours"]], visits, "inner",
                on=["crossing", "truck_ref", "trip"])  # fmt: skip
    both = both.drop(columns=["trip", "hours"]).assign(
        **dict.fromkeys(INTERVALS[:3], np.nan), arrival_to_departure=both["hours"]
    )
    rows = pd.concat([per_side, both], ignore_index=True)
    rows = rows[(rows["lane_rank"] > 0) & in_dates(rows["arrival_day"], values)]
    carried = carried.astype({"visit": "int64", "lane_rank": "float64"})  # typed when empty
    rows = join(
        rows, carried.rename(columns={"side": "at_side"}), "inner",
        on=["crossing", "at_side", "truck_ref", "visit", "lane_rank"],
    )  # fmt: skip
    rows = rows.assign(period_index=index_of(rows["arrival_day"]))
    counts = {
        "declarations": nunique(rows, ROW, "ref"),
        "traders": known_nunique(rows, ROW, "trader_ref"),
    }
    for interval in INTERVALS:
        measured = rows[interval].notna()
        rows[f"d_{interval}"] = rows["ref"].where(measured)
        counts[f"d_{interval}"] = nunique(rows, ROW, f"d_{interval}")
        counts[f"t_{interval}"] = known_nunique_where(
            rows, ROW, "trader_ref", measured.astype("int64")
        )
    return pd.DataFrame(counts).reset_index()


def clearance_times(frames: Frames, values: dict[str, Any], cc: str, min_cell: int) -> pa.Table:
    index_of, label_of = PERIODS[values["period"]]
    t, carried = _timed(frames, values, cc)
    open_ = (t["departed_at"].isna() & (t["refused"] == 0)).astype("int64")
    per_side = t[SPAN].assign(refused=t["refused"], open_passage=open_)
    trips = _trips(t)
    spans = [trips.drop(columns="trip")]
    for interval in INTERVALS:
        part = per_side.assign(trs_interval=interval, hours=t[interval])
        spans.append(part[t["role"] == "exit"] if interval == "queue" else part)
    s = pd.concat(spans, ignore_index=True)
    s = s[in_dates(s["arrival_day"], values)]
    total = s["trs_interval"].isin(["arrival_to_departure", "arrival_to_release"])
    s = s.assign(
        period_index=index_of(s["arrival_day"]),
        within=(s["hours"] <= values["target_hours"]).astype("float64").where(
            total & s["hours"].notna()
        ),
    )  # fmt: skip
    s = s.assign(measured_truck=s["truck_ref"].where(s["hours"].notna()))
    grouped = s.groupby(CELL, dropna=False, sort=False)
    quant = quantiles(grouped["hours"], [0.5, 0.9])
    c = pd.DataFrame(
        {
            "passages": grouped.size(),
            "trucks": nunique(s, CELL, "truck_ref"),
            "open_passages": grouped["open_passage"].sum(),
            "refused": grouped["refused"].sum(),
            "measured": grouped["hours"].count(),
            "measured_trucks": nunique(s, CELL, "measured_truck"),
            "mean_h": grouped["hours"].mean(),
            "median_h": quant[0.5],
            "p90_h": quant[0.9],
            "within_target_share": grouped["within"].mean(),
            "foreign_data": grouped["foreign_data"].max(),
        }
    ).reset_index()
    c["lane"] = c["lane_rank"].map({i: lane for lane, i in RANK.items()}).fillna("none")
    c = join(c, _declarations(t, trips, carried, values, index_of), "left", on=ROW)
    c["traders"] = c["traders"].where(c["declarations"].notna(), 0)
    c["declarations"] = c["declarations"].fillna(0)
    c["publishable"] = (c["foreign_data"] == 0) | (
        (c["passages"] >= min_cell)
        & (c["trucks"] >= min_cell)
        & (
            (c["declarations"] == 0)
            | ((c["declarations"] >= min_cell) & (c["traders"] >= min_cell))
        )
    )
    measured_decl = c["d_arrival_to_departure"]  # and arrival_to_release, on side 'both'
    measured_traders = c["t_arrival_to_departure"]
    for interval in INTERVALS[:3]:
        other = c["trs_interval"] != interval
        measured_decl = measured_decl.where(other, c[f"d_{interval}"])
        measured_traders = measured_traders.where(other, c[f"t_{interval}"])
    c["figures_shown"] = (c["foreign_data"] == 0) | (
        (c["measured"] >= min_cell)
        & (c["measured_trucks"] >= min_cell)
        & (
            (c["declarations"] == 0)
            | ((measured_decl >= min_cell) & (measured_traders >= min_cell))
        )
    )
    link = ["crossing", "direction", "side", "lane", "trs_interval", "period_index"]
    prior = c[[*link, "median_h", "publishable", "figures_shown"]].rename(
        columns={"median_h": "p_median", "publishable": "p_pub", "figures_shown": "p_shown"}
    )
    prior = prior.assign(period_index=prior["period_index"] + 1)
    c = join(c, prior, "left", on=link)
    shown = c["figures_shown"]
    for col in ("mean_h", "median_h", "p90_h", "within_target_share"):
        c[col] = c[col].where(shown)
    both = shown & c["p_pub"].fillna(False).astype(bool) & c["p_shown"].fillna(False).astype(bool)
    c["median_change_h"] = (c["median_h"] - c["p_median"]).where(both)
    c["period"] = label_of(c["period_index"])
    return finish(
        c,
        [("crossing", STR), ("direction", STR), ("side", STR), ("period", STR),
         ("lane", STR), ("trs_interval", STR), ("passages", INT), ("trucks", INT),
         ("declarations", INT), ("traders", INT), ("open_passages", INT), ("refused", INT), ("measured", INT), ("mean_h", F64),
         ("median_h", F64), ("p90_h", F64), ("within_target_share", F64),
         ("median_change_h", F64), ("foreign_data", INT)],
        ["crossing", "direction", "side", "period", "lane", "trs_interval"],
    )  # fmt: skip
