"""Helpers of the pandas versions of the analytics jobs (benchmark only): SQL's null rules
written once — a comparison with null is not true, equi-joins never match null keys, sums of
nothing are null, division by zero is null — and the result's Arrow types."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from silkgate.analytics.jobs.params import EARLIEST, LATEST

STR, INT, F64, BOOL = pa.string(), pa.int64(), pa.float64(), pa.bool_()


def unsupported(job: str, values: Mapping[str, Any], defaults: Mapping[str, Any]) -> None:
    """NotImplementedError when a parameter this version does not implement is not its default."""
    for name, default in defaults.items():
        if values.get(name) != default:
            raise NotImplementedError(f"pandas {job}: {name}={values.get(name)!r} not implemented")


def in_dates(col: pd.Series, values: Mapping[str, Any]) -> pd.Series:
    """``col BETWEEN {since} AND {until}`` (null: not between)."""
    since = np.datetime64(values.get("since") or EARLIEST, "D")
    until = np.datetime64(values.get("until") or LATEST, "D")
    return (col >= since) & (col <= until)


def hs_like(hs6: pd.Series, prefix: str | None) -> pd.Series:
    """``hs6 LIKE {hs} || '%'``: a null hs6 never matches, not even the empty prefix."""
    if not prefix:
        return hs6.notna()
    return hs6.str.startswith(prefix).fillna(False).astype(bool)


def foreign(owner: pd.Series, compute_country: str) -> pd.Series:
    """``CASE WHEN owner <> compute_country THEN 1 ELSE 0 END`` (null owner: 0)."""
    return (owner.notna() & (owner != compute_country)).astype("int64")


def div(a: pd.Series, b: pd.Series) -> pd.Series:
    """``a / nullif(b, 0)`` in double precision (also SQL's null for x / 0)."""
    b = b.astype("float64")
    return a.astype("float64") / b.where(b != 0)


def month_index(day: pd.Series) -> pd.Series:
    """``year * 12 + month`` of a date (a month that steps by one)."""
    return day.dt.year * 12 + day.dt.month


def month_label(index: pd.Series) -> pd.Series:
    """YYYY-MM of a month index, computed once per distinct month."""
    return _label(index, lambda i: f"{(i - 1) // 12:04d}-{(i - 1) % 12 + 1:02d}")


def _label(keys: pd.Series, make: Any) -> pd.Series:
    uniques = keys.dropna().unique()
    return keys.map({k: make(int(k)) for k in uniques}).astype("str")


def day_index(day: pd.Series) -> pd.Series:
    """Days since 1970-01-01."""
    return (day.dt.normalize() - pd.Timestamp(0)).dt.days


def day_label(index: pd.Series) -> pd.Series:
    return _label(index, lambda i: (pd.Timestamp(0) + pd.Timedelta(days=i)).strftime("%Y-%m-%d"))


def week_index(day: pd.Series) -> pd.Series:
    """Weeks since Monday 1970-01-05 (``floor((seconds - 345600) / 604800)``)."""
    return (day_index(day) - 4) // 7


def week_label(index: pd.Series) -> pd.Series:
    """ISO YYYY-Www of the week starting on that Monday."""

    def iso(i: int) -> str:
        year, week, _ = (pd.Timestamp("1970-01-05") + pd.Timedelta(weeks=i)).isocalendar()
        return f"{year}-W{week:02d}"

    return _label(index, iso)


def join(
    left: pd.DataFrame,
    right: pd.DataFrame,
    how: str,
    on: Sequence[str] | None = None,
    left_on: Sequence[str] | None = None,
    right_on: Sequence[str] | None = None,
) -> pd.DataFrame:
    """An SQL equi-join: a row with a null key matches nothing (pandas would match NaN to NaN);
    kept unmatched by a left/right/full join."""
    lk, rk = list(left_on or on or ()), list(right_on or on or ())
    lnull = left[lk].isna().any(axis=1)
    rnull = right[rk].isna().any(axis=1)
    kw: dict[str, Any] = {"on": lk} if on else {"left_on": lk, "right_on": rk}
    out = left[~lnull].merge(right[~rnull], how=how, **kw)
    extra = []
    if how in ("left", "outer") and lnull.any():
        extra.append(left[lnull])
    if how in ("right", "outer") and rnull.any():
        extra.append(right[rnull])
    return pd.concat([out, *extra], ignore_index=True) if extra else out


def sum_or_null(grouped: Any) -> Any:
    """SQL ``sum``: null when the group holds no non-null value."""
    return grouped.sum(min_count=1)


def latest_by_max(frame: pd.DataFrame, key: str, version: str) -> pd.DataFrame:
    """Rows whose ``version`` is the largest of their ``key`` (nulls grouped, as SQL does)."""
    top = frame.groupby(key, dropna=False, sort=False)[version].transform("max")
    return frame[frame[version] == top]


def latest_by_order(frame: pd.DataFrame, key: Sequence[str], order: Sequence[str]) -> pd.DataFrame:
    """The first row of each ``key`` ordered by ``order`` descending, nulls last."""
    ranked = frame.sort_values(list(order), ascending=False, na_position="last", kind="stable")
    return ranked.drop_duplicates(subset=list(key), keep="first")


def not_moved(
    latest: pd.DataFrame, marks: pd.DataFrame, key: Sequence[str], order: str
) -> pd.DataFrame:
    """Latest rows less those a supersession marker read beside them shows to be older than a
    version elsewhere (``lake.latest_sql``)."""
    if marks.empty:
        return latest
    moved = marks.groupby(list(key))[order].max().rename("_moved_to").reset_index()
    joined = latest.merge(moved, on=list(key), how="left")
    keep = joined["_moved_to"].isna() | (joined["_moved_to"] <= joined[order])
    return joined[keep.to_numpy()].drop(columns="_moved_to")


def finish(
    frame: pd.DataFrame, columns: Iterable[tuple[str, pa.DataType]], keys: Sequence[str]
) -> pa.Table:
    """The result as the SQL gives it: these columns and types, ordered by the job's keys
    ascending with nulls last."""
    cols = list(columns)
    frame = frame.sort_values(list(keys), na_position="last", kind="stable")
    arrays = []
    for name, t in cols:
        s = frame[name]
        if t == INT and s.dtype.kind == "f":
            s = s.astype("Int64")
        arrays.append(pa.array(s, type=t, from_pandas=True))
    return pa.Table.from_arrays(arrays, names=[n for n, _ in cols])


def nunique(frame: pd.DataFrame, by: list[str], col: str) -> pd.Series:
    """``count(DISTINCT col)`` per group (nulls not counted)."""
    return frame.groupby(by, dropna=False, sort=False)[col].nunique()


def known_nunique(frame: pd.DataFrame, by: list[str], col: str) -> pd.Series:
    """``CASE WHEN count(col) = count(*) THEN count(DISTINCT col) END`` per group: unknown
    (NaN) when a row of the group has no value (a declaration that was not read)."""
    grouped = frame.groupby(by, dropna=False, sort=False)[col]
    return grouped.nunique().where(grouped.count() == grouped.size())


def known_nunique_where(
    frame: pd.DataFrame, by: list[str], col: str, where: pd.Series
) -> pd.Series:
    """``known_nunique`` over the rows where ``where`` is 1 (``common.traders_of``):
    unknown when such a row has no value."""
    keys = [frame[k] for k in by]
    picked = frame[col].where(where == 1)
    grouped = picked.groupby(keys, dropna=False, sort=False)
    wanted = where.groupby(keys, dropna=False, sort=False).sum()
    return grouped.nunique().where(grouped.count() == wanted)


def rate_shown(
    foreign: pd.Series, inspected: pd.Series, traders: pd.Series, min_cell: int
) -> pd.Series:
    """``selectivity._rate_shown``: figures over inspections may be published."""
    return (
        (foreign == 0)
        | (inspected == 0)
        | ((inspected >= min_cell) & (traders >= min_cell)).fillna(False).astype(bool)
    )


def quantiles(grouped: Any, qs: list[float]) -> pd.DataFrame:
    """``percentile_cont(q)`` per group for each q (linear interpolation), a column per q."""
    got = grouped.quantile(qs)
    if got.empty:
        index = grouped.count().index
        return pd.DataFrame({q: pd.Series(np.nan, index=index, dtype="float64") for q in qs})
    return got.unstack()


def flag(mask: pd.Series) -> pd.Series:
    """A boolean condition as SQL's ``CASE WHEN … THEN 1 ELSE 0 END``."""
    return mask.fillna(False).astype(bool).astype("int64")
