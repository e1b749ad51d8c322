"""The standard analytics jobs written a second time as pandas dataframe code, for the
benchmark's comparison only (bench/analytics.py); never imported by ``src/``.

Same definitions as the jobs' SQL (src/silkgate/analytics/jobs/), vectorised with
groupby/merge/transform, so that after ``service.normalize`` and ``service.suppress`` a result
equals DuckDB's row for row. A parameter value a job here does not implement raises
NotImplementedError rather than answering something else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
from analytics_pandas_common import latest_by_max, latest_by_order, not_moved
from analytics_pandas_flow import clearance_times, equeue_use
from analytics_pandas_risk import lane_shares, model_drift
from analytics_pandas_trade import mirror_statistics, trade_flows, unit_values

from silkgate.analytics.datasets import DATASETS as ALL
from silkgate.analytics.lake import file_schema, moves_schema, order_column, record_key, split_moves

#: The datasets the standard jobs read.
DATASETS = (
    "goods_items",
    "declarations",
    "lanes",
    "inspections",
    "bookings",
    "queue_day_plans",
    "gate_events",
    "gate_event_refs",
)

JOBS: dict[str, Callable[..., pa.Table]] = {
    "trade_flows": trade_flows,
    "mirror_statistics": mirror_statistics,
    "unit_values": unit_values,
    "lane_shares": lane_shares,
    "model_drift": model_drift,
    "clearance_times": clearance_times,
    "equeue_use": equeue_use,
}


def load(files: Mapping[str, Sequence[Path]]) -> dict[str, pd.DataFrame]:
    """Each dataset's listed Parquet files as ``<dataset>_all``, its latest versions as
    ``<dataset>`` and, for lanes, ``<dataset>_current`` (the SQL views of ``lake.latest_sql``
    and ``lake.current_sql``)."""
    frames: dict[str, pd.DataFrame] = {}
    for name in DATASETS:
        ds = ALL[name]
        schema = file_schema(ds)
        data, moves = split_moves(files.get(name, ()))
        table = pads.dataset([str(p) for p in data], schema=schema, format="parquet").to_table()
        every = table.to_pandas(date_as_object=False)
        if ds.latest == "once":
            latest = every
        else:
            if ds.latest == "max_version":
                latest = latest_by_max(every, "declaration_id", "version")
            else:
                latest = latest_by_order(every, ds.key, (ds.cursor[0], "export_run"))
            marks = pads.dataset([str(p) for p in moves], schema=moves_schema(ds), format="parquet")
            moved = marks.to_table().to_pandas()
            current = not_moved(latest, moved, record_key(ds), order_column(ds))
            if ds.moves == "record":
                latest = current
            else:  # lanes: every row in <dataset>, the current ones in <dataset>_current
                frames[f"{name}_current"] = current.reset_index(drop=True)
        frames[f"{name}_all"] = every
        frames[name] = latest.reset_index(drop=True)
    return frames


def run(
    name: str,
    frames: Mapping[str, pd.DataFrame],
    values: dict[str, Any],
    compute_country: str,
    min_cell_size: int,
) -> pa.Table:
    """Job ``name`` with checked parameter ``values``: the columns its SQL returns."""
    if name not in JOBS:
        raise NotImplementedError(f"pandas: no version of job {name}")
    return JOBS[name](frames, values, compute_country, min_cell_size)
