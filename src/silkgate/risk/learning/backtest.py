"""Backtest: replay a time-ordered data set week by week with weekly retraining.

Each week the model trained on every outcome known so far scores the week's declarations; a fixed
share is inspected (model top-ups, of which a share is exploration) and only the inspected
declarations' outcomes become known. This shows whether the model stays healthy when it only
learns from what it chose to inspect, with and without exploration.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from silkgate.risk.learning.features import DEFAULT_HISTORY_KEYS, FeatureBuilder, HistoryTable
from silkgate.risk.learning.metrics import at_n, auc
from silkgate.risk.learning.training import BASE_PARAMS, TrainingError, labelled
from silkgate.risk.selectivity.schemas import Lane, ModelSelection
from silkgate.risk.selectivity.selection import Decision, top_up_batch

BACKTEST_PARAMS: dict[str, Any] = {"num_leaves": 15, "min_data_in_leaf": 20}


@dataclass
class BacktestOptions:
    """Inspection rate, exploration share and the fixed model set-up of a backtest."""

    rate: float = 10.0
    exploration: float = 0.10
    strategy: str = "random"
    warmup_weeks: int = 4
    rounds: int = 200
    params: dict[str, Any] = field(default_factory=lambda: dict(BACKTEST_PARAMS))
    history_alpha: float = 5.0
    seed: int = 7
    num_threads: int = 1
    max_weeks: int | None = None
    extra_fields: Sequence[str] = ()


class WeekResult(BaseModel):
    """One replayed week."""

    week: str
    rows: int
    positives: int
    inspected: int
    explored: int
    found: int
    precision: float | None
    recall: float | None
    revenue: float | None
    model_auc: float | None
    model_precision_at_rate: float | None
    known_labels: int


class BacktestReport(BaseModel):
    """All weeks of one run plus its settings and summary."""

    rate: float
    exploration: float
    strategy: str
    warmup_weeks: int
    weeks: list[WeekResult]
    mean_precision: float | None
    mean_recall: float | None
    mean_precision_last_quarter: float | None
    mean_auc: float | None
    seconds: float


def _mean(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def backtest(frame: pd.DataFrame, options: BacktestOptions | None = None) -> BacktestReport:
    """Replay ``frame`` (canonical, labelled) week by week; see the module docstring."""
    import lightgbm as lgb

    options = options or BacktestOptions()
    started = time.perf_counter()
    data = labelled(frame)
    dates = pd.to_datetime(data["date"])
    week_start = (dates - pd.to_timedelta(dates.dt.day_of_week, unit="D")).dt.normalize()
    weeks = sorted(week_start.unique())
    if len(weeks) <= options.warmup_weeks:
        raise TrainingError("the data does not span more weeks than the warm-up")
    warm = week_start < weeks[options.warmup_weeks]
    known = data[warm.to_numpy()].copy()
    params = dict(BASE_PARAMS)
    params.update(options.params)
    params.update({"seed": options.seed, "num_threads": options.num_threads})
    params.pop("metric", None)
    policy = ModelSelection(
        rates={Lane.RED: options.rate},
        exploration=options.exploration,
        exploration_strategy="uncertainty" if options.strategy == "uncertainty" else "random",
    )
    results: list[WeekResult] = []
    todo = weeks[options.warmup_weeks :]
    if options.max_weeks is not None:
        todo = todo[: options.max_weeks]
    revenue_col = "revenue" in data
    for week in todo:
        rows = data[(week_start == week).to_numpy()].reset_index(drop=True)
        y = rows["label"].to_numpy(dtype=float)
        builder = FeatureBuilder(False, 3, options.extra_fields).fit(known)
        prior = float(known["label"].mean()) if len(known) else 0.2
        empty = HistoryTable(DEFAULT_HISTORY_KEYS, options.history_alpha, prior)
        x_known = builder.matrix(known, empty, mode="expanding")
        history = HistoryTable.fit(known, DEFAULT_HISTORY_KEYS, options.history_alpha)
        y_known = known["label"].to_numpy(dtype=float)
        if y_known.min() == y_known.max():
            scores = np.full(len(rows), prior)
        else:
            booster = lgb.train(
                {**params, "monotone_constraints": builder.monotone_constraints(history)},
                lgb.Dataset(
                    x_known,
                    y_known,
                    feature_name=builder.feature_names(history),
                    categorical_feature=builder.categoricals,
                ),
                num_boost_round=options.rounds,
            )
            scores = np.asarray(booster.predict(builder.matrix(rows, history, mode="lookup")))
        decisions = [Decision(str(i)) for i in rows["declaration_id"]]
        top_up_batch(decisions, scores, policy, seed=options.seed)
        inspected = np.array([d.lane is Lane.RED for d in decisions])
        explored = np.array([d.source == "exploration" for d in decisions])
        found = int(y[inspected].sum())
        revenue = None
        if revenue_col:
            r = rows["revenue"].to_numpy(dtype=float)
            revenue = float(r[inspected].sum() / r.sum()) if r.sum() > 0 else None
        results.append(
            WeekResult(
                week=pd.Timestamp(week).date().isoformat(),
                rows=len(rows),
                positives=int(y.sum()),
                inspected=int(inspected.sum()),
                explored=int(explored.sum()),
                found=found,
                precision=found / int(inspected.sum()) if inspected.any() else None,
                recall=found / y.sum() if y.sum() > 0 else None,
                revenue=revenue,
                model_auc=auc(y, scores),
                model_precision_at_rate=at_n(y, scores, options.rate).precision,
                known_labels=len(known),
            )
        )
        known = pd.concat([known, rows[inspected]], ignore_index=True)
    precisions = [w.precision for w in results]
    quarter = max(1, len(results) // 4)
    return BacktestReport(
        rate=options.rate,
        exploration=options.exploration,
        strategy=options.strategy,
        warmup_weeks=options.warmup_weeks,
        weeks=results,
        mean_precision=_mean(precisions),
        mean_recall=_mean([w.recall for w in results]),
        mean_precision_last_quarter=_mean(precisions[-quarter:]),
        mean_auc=_mean([w.model_auc for w in results]),
        seconds=round(time.perf_counter() - started, 2),
    )
