"""Training: time-ordered split, hyper-parameter choice on the validation period, artifact.

The training rows get history features from strictly earlier dates only; the validation rows get
them from the training period's outcomes (the table stored with the model), so the validation
labels are used for nothing but early stopping, choosing among the candidates and reporting.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from silkgate.risk.fields import TRADER_FIELDS
from silkgate.risk.learning.baseline import PlainBaseline
from silkgate.risk.learning.comparison import compare_slices, never_seen
from silkgate.risk.learning.features import (
    DEFAULT_HISTORY_KEYS,
    FeatureBuilder,
    HistoryKey,
    HistoryTable,
)
from silkgate.risk.learning.metrics import evaluate_scores
from silkgate.risk.learning.scorer import RiskModel
from silkgate.risk.selectivity.schemas import DataSummary, EvalReport, ModelMetadata, SearchTrial

BASE_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "metric": "auc",
    "learning_rate": 0.05,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "max_cat_to_onehot": 4,
    "cat_smooth": 10.0,
    "min_data_per_group": 20,
    "verbosity": -1,
    "deterministic": True,
    "force_col_wise": True,
}

#: Candidates tried on the validation period. ``trader_categoricals`` decides whether raw
#: declarant/importer/exporter/carrier ids enter as categorical features (their history rates
#: are always in); on the KCS set raw ids overfit, which the validation period shows.
DEFAULT_GRID: tuple[dict[str, Any], ...] = tuple(
    {"num_leaves": leaves, "min_data_in_leaf": min_leaf, "trader_categoricals": traders}
    for leaves in (15, 63)
    for min_leaf in (20, 60)
    for traders in (False, True)
)


class TrainingError(ValueError):
    """Training data cannot produce a model (no labels, one class, empty period...)."""


@dataclass
class TrainOptions:
    """Knobs of :func:`train_model`; defaults are what ``silkgate risk train`` uses."""

    grid: Sequence[dict[str, Any]] = DEFAULT_GRID
    max_rounds: int = 1000
    early_stopping_rounds: int = 100
    valid_fraction: float = 0.2
    refit: bool = True
    history_alpha: float = 5.0
    history_keys: Sequence[HistoryKey] = DEFAULT_HISTORY_KEYS
    min_category_count: int = 3
    objective_ns: tuple[float, ...] = (5.0, 10.0)
    seed: int = 7
    #: One thread: on a shared 2-core machine OpenMP spin-waiting makes 2 threads 3-4x slower.
    num_threads: int = 1
    office: str | None = None
    mapping: str | None = None
    extra_fields: Sequence[str] = ()
    notes: list[str] = field(default_factory=list)
    #: train the plain-LightGBM baseline beside the model and compare them
    baseline: bool = True
    #: bootstrap resamples for the intervals of the comparison
    resamples: int = 1000


@dataclass
class TrainResult:
    """The chosen model and what was learnt on the way."""

    model: RiskModel
    report: EvalReport | None
    trials: list[SearchTrial]


def summarise(frame: pd.DataFrame, source: str, sha256: str) -> DataSummary:
    """Rows, positives and period of a canonical frame."""
    positives = 0
    if "label" in frame:
        positives = int(pd.to_numeric(frame["label"], errors="coerce").fillna(0).sum())
    dates = pd.to_datetime(frame["date"]) if len(frame) else pd.Series([], dtype="datetime64[ns]")
    return DataSummary(
        source=source,
        sha256=sha256,
        rows=len(frame),
        positives=positives,
        date_from=dates.min().date() if len(frame) else None,
        date_to=dates.max().date() if len(frame) else None,
    )


def labelled(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows with a known inspection outcome, sorted by date."""
    if "label" not in frame:
        raise TrainingError("the data has no label column (map one in the mapping's [label])")
    out = frame[pd.to_numeric(frame["label"], errors="coerce").notna()]
    return out.sort_values("date", kind="stable").reset_index(drop=True)


def time_split(frame: pd.DataFrame, valid_fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cut at a date so that about ``valid_fraction`` of rows (the latest) form the validation."""
    dates = pd.to_datetime(frame["date"])
    cutoff = dates.iloc[min(len(frame) - 1, int(len(frame) * (1 - valid_fraction)))]
    train = frame[dates < cutoff]
    valid = frame[dates >= cutoff]
    if train.empty or valid.empty:
        raise TrainingError("not enough distinct dates to hold out a validation period")
    return train.reset_index(drop=True), valid.reset_index(drop=True)


def _check_classes(frame: pd.DataFrame, what: str) -> None:
    y = frame["label"].to_numpy(dtype=float)
    if len(y) == 0 or y.min() == y.max():
        raise TrainingError(f"the {what} data needs both outcomes (discrepancy and none)")


def _objective(report: EvalReport, ns: Sequence[float]) -> float:
    values = []
    for n in ns:
        try:
            values.append(report.at_n(n).precision or 0.0)
        except KeyError:
            values.append(0.0)
    return float(np.mean(values)) if values else 0.0


def _lgb_params(candidate: dict[str, Any], options: TrainOptions) -> dict[str, Any]:
    params = dict(BASE_PARAMS)
    params.update({k: v for k, v in candidate.items() if k != "trader_categoricals"})
    params["seed"] = options.seed
    params["num_threads"] = options.num_threads
    return params


def _restrict(builder: FeatureBuilder, traders: bool) -> FeatureBuilder:
    """A copy of a builder fitted with trader categoricals, optionally without them."""
    state = builder.to_dict()
    if not traders:
        state["trader_categoricals"] = False
        state["categoricals"] = [c for c in state["categoricals"] if c not in TRADER_FIELDS]
        state["vocab"] = {k: v for k, v in state["vocab"].items() if k not in TRADER_FIELDS}
    return FeatureBuilder.from_dict(state)


def _columns(names: list[str], keep: list[str]) -> list[int]:
    pos = {n: i for i, n in enumerate(names)}
    return [pos[n] for n in keep]


def train_model(
    train: pd.DataFrame,
    valid: pd.DataFrame | None,
    train_summary: DataSummary,
    valid_summary: DataSummary | None = None,
    options: TrainOptions | None = None,
) -> TrainResult:
    """Choose hyper-parameters on the validation period and build the model artifact.

    With ``valid`` given, the model is trained on ``train`` only and the validation figures are
    reported for it. Without, the last ``valid_fraction`` of ``train`` (by date) is held out for
    the choice and, with ``refit``, the chosen set-up is then refitted on all of ``train``.
    """
    import lightgbm as lgb

    options = options or TrainOptions()
    started = time.perf_counter()
    data = labelled(train)
    _check_classes(data, "training")
    explicit_valid = valid is not None
    if valid is not None:
        fit_part, valid_part = data, labelled(valid)
    else:
        fit_part, valid_part = time_split(data, options.valid_fraction)
    _check_classes(fit_part, "training")
    _check_classes(valid_part, "validation")

    builder = FeatureBuilder(True, options.min_category_count, options.extra_fields).fit(fit_part)
    prior = float(fit_part["label"].mean())
    empty = HistoryTable(options.history_keys, options.history_alpha, prior)
    x_fit = builder.matrix(fit_part, empty, mode="expanding")
    history = HistoryTable.fit(fit_part, options.history_keys, options.history_alpha)
    x_valid = builder.matrix(valid_part, history, mode="lookup")
    all_names = builder.feature_names(history)
    y_fit = fit_part["label"].to_numpy(dtype=float)
    y_valid = valid_part["label"].to_numpy(dtype=float)
    revenue = valid_part["revenue"].to_numpy(dtype=float) if "revenue" in valid_part else None

    trials: list[SearchTrial] = []
    best: tuple[tuple[float, float], dict[str, Any], Any, np.ndarray, EvalReport] | None = None
    for candidate in options.grid:
        t0 = time.perf_counter()
        sub = _restrict(builder, bool(candidate.get("trader_categoricals", False)))
        names = sub.feature_names(history)
        cols = _columns(all_names, names)
        params = _lgb_params(candidate, options)
        params["monotone_constraints"] = sub.monotone_constraints(history)
        dtrain = lgb.Dataset(
            x_fit[:, cols],
            y_fit,
            feature_name=names,
            categorical_feature=sub.categoricals,
            free_raw_data=False,
        )
        dvalid = lgb.Dataset(x_valid[:, cols], y_valid, reference=dtrain)
        booster = lgb.train(
            params,
            dtrain,
            num_boost_round=options.max_rounds,
            valid_sets=[dvalid],
            callbacks=[lgb.early_stopping(options.early_stopping_rounds, verbose=False)],
        )
        iteration = booster.best_iteration or options.max_rounds
        scores = np.asarray(booster.predict(x_valid[:, cols], num_iteration=iteration))
        report = evaluate_scores(
            y_valid, scores, revenue, data=valid_summary.source if valid_summary else "held-out"
        )
        objective = _objective(report, options.objective_ns)
        trials.append(
            SearchTrial(
                params=dict(candidate),
                best_iteration=iteration,
                objective=round(objective, 6),
                auc=report.auc,
                precision_at={f"{a.n:g}": a.precision for a in report.at},
                seconds=round(time.perf_counter() - t0, 2),
            )
        )
        key = (round(objective, 3), report.auc or 0.0)
        if best is None or key > best[0]:
            best = (key, dict(candidate), booster, scores, report)
    assert best is not None, "the hyper-parameter grid is empty"
    _, chosen, booster, valid_scores, report = best
    iteration = booster.best_iteration or options.max_rounds
    baseline: PlainBaseline | None = None
    if options.baseline:
        baseline = PlainBaseline.fit_vocab(fit_part, options.extra_fields).fit(
            fit_part, valid_part, options.seed, options.num_threads, options.max_rounds
        )
        report = report.model_copy(
            update={
                "slices": compare_slices(
                    y_valid,
                    valid_scores,
                    baseline.score_frame(valid_part),
                    never_seen(history, valid_part),
                    revenue,
                    resamples=options.resamples,
                )
            }
        )
    final_builder = _restrict(builder, bool(chosen.get("trader_categoricals", False)))
    final_history = history
    fitted_on = train_summary
    notes = list(options.notes)
    if not explicit_valid and options.refit:
        final_builder = FeatureBuilder(
            bool(chosen.get("trader_categoricals", False)),
            options.min_category_count,
            options.extra_fields,
        ).fit(data)
        empty = HistoryTable(
            options.history_keys, options.history_alpha, float(data["label"].mean())
        )
        x_all = final_builder.matrix(data, empty, mode="expanding")
        final_history = HistoryTable.fit(data, options.history_keys, options.history_alpha)
        rounds = max(1, math.ceil(iteration * len(data) / max(1, len(fit_part))))
        refit_params = _lgb_params(chosen, options)
        refit_params["monotone_constraints"] = final_builder.monotone_constraints(final_history)
        booster = lgb.train(
            refit_params,
            lgb.Dataset(
                x_all,
                data["label"].to_numpy(dtype=float),
                feature_name=final_builder.feature_names(final_history),
                categorical_feature=final_builder.categoricals,
            ),
            num_boost_round=rounds,
        )
        iteration = rounds
        if baseline is not None and baseline.booster is not None:
            base_rounds = max(
                1, math.ceil(baseline.booster.num_trees() * len(data) / len(fit_part))
            )
            baseline = PlainBaseline.fit_vocab(data, options.extra_fields).fit(
                data, None, options.seed, options.num_threads, base_rounds
            )
        notes.append(
            f"hyper-parameters chosen on the held-out last {options.valid_fraction:.0%} of the "
            f"training period, then refitted on all of it for {rounds} rounds; the validation "
            "figures are those of the model before the refit"
        )
    created = datetime.now(UTC).replace(microsecond=0)
    digest = hashlib.sha256(
        (fitted_on.sha256 + json.dumps(chosen, sort_keys=True) + created.isoformat()).encode()
    ).hexdigest()[:8]
    params = _lgb_params(chosen, options)
    params["trader_categoricals"] = bool(chosen.get("trader_categoricals", False))
    params["history_alpha"] = options.history_alpha
    metadata = ModelMetadata(
        model_id=f"risk-{created:%Y%m%dT%H%M%S}-{digest}",
        created_at=created,
        office=options.office,
        mapping=options.mapping,
        lightgbm_version=lgb.__version__,
        features=final_builder.feature_names(final_history),
        categorical_features=final_builder.categoricals,
        params=params,
        best_iteration=iteration,
        training=fitted_on,
        validation=valid_summary
        if explicit_valid
        else summarise(valid_part, f"{train_summary.source} (held-out tail)", ""),
        validation_report=report,
        search=trials,
        history_policy="frozen: history tables hold the training period's outcomes only",
        notes=notes,
        train_seconds=round(time.perf_counter() - started, 2),
    )
    reference = np.quantile(valid_scores, np.linspace(0, 1, 1001)).tolist()
    model = RiskModel(booster, final_builder, final_history, metadata, reference, baseline)
    return TrainResult(model=model, report=report, trials=trials)
