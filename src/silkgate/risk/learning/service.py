"""Risk operations the CLI (and later the API) call: train, evaluate, backtest, list, profiles.

Functions take paths and plain values and return pydantic objects, so the command line, the API
and tests share the same behaviour; none of them needs the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from silkgate.risk import paths
from silkgate.risk.learning.datacheck import require_both_outcomes
from silkgate.risk.learning.datasets import (
    CANONICAL_COLUMNS,
    ColumnMapping,
    LabelSpec,
    MappingError,
    file_sha256,
    load_mapping,
    read_table,
)
from silkgate.risk.selectivity.profiles import load_profile, profile_to_toml
from silkgate.risk.selectivity.schemas import EvalReport, ModelMetadata, SelectivityProfile


class ModelSummary(BaseModel):
    """One line of ``silkgate risk models``."""

    model_id: str
    created_at: str
    office: str | None
    training_rows: int
    training_period: str
    auc: float | None
    precision_at_5: float | None
    precision_at_10: float | None
    path: str


def identity_mapping(data: str | Path) -> ColumnMapping:
    """A mapping for files whose columns already carry canonical names (``label``, ``revenue``)."""
    path = Path(data)
    if path.suffix.lower() in (".parquet", ".pq"):
        header = list(pd.read_parquet(path).columns)
    else:
        header = list(pd.read_csv(path, nrows=0).columns)
    columns = {c: c for c in header if c in CANONICAL_COLUMNS}
    if "declaration_id" not in columns or "date" not in columns:
        raise MappingError(
            f"{path.name}: give --mapping (columns are not canonical names; have {header})"
        )
    return ColumnMapping(
        name="identity",
        columns=columns,
        label=LabelSpec(column="label") if "label" in header else None,
        revenue="revenue" if "revenue" in header else None,
    )


def resolve_mapping(mapping: str | Path | None, data: str | Path) -> ColumnMapping:
    """A mapping by path or shipped name; without one, the file must use canonical names."""
    if mapping is None:
        return identity_mapping(data)
    return load_mapping(mapping)


def read_data(
    data: str | Path, mapping: str | Path | None, labels_required: bool = False
) -> tuple[pd.DataFrame, ColumnMapping]:
    """Canonical frame of a data file and the mapping used (every value checked)."""
    cmap = resolve_mapping(mapping, data)
    return read_table(data, cmap, labels_required), cmap


def resolve_model(ref: str | Path, artifact_dir: str | Path | None = None) -> Path:
    """A model directory from a path, a model id under the artifact dir, or ``latest``."""
    folder = Path(artifact_dir) if artifact_dir is not None else paths.artifact_dir()
    candidate = Path(ref)
    if candidate.is_dir():
        return candidate
    if str(ref) == "latest":
        models = list_models(folder)
        if not models:
            raise FileNotFoundError(f"no models in {folder}")
        return Path(models[0].path)
    if (folder / str(ref)).is_dir():
        return folder / str(ref)
    raise FileNotFoundError(f"no model {ref!r} (looked for a directory and under {folder})")


def train(
    data: str | Path,
    mapping: str | Path | None = None,
    valid: str | Path | None = None,
    artifact_dir: str | Path | None = None,
    valid_fraction: float = 0.2,
    refit: bool = True,
    office: str | None = None,
    grid: Sequence[dict[str, Any]] | None = None,
    num_threads: int = 1,
) -> tuple[ModelMetadata, Path]:
    """Train on a labelled file (hyper-parameters chosen on ``valid`` or the held-out tail)."""
    from silkgate.risk.learning.training import TrainOptions, summarise, train_model

    frame, cmap = read_data(data, mapping, labels_required=True)
    if office is not None:
        frame = frame[frame["office"] == office].reset_index(drop=True)
    require_both_outcomes(frame["label"], Path(data).name, "training")
    train_summary = summarise(frame, str(data), file_sha256(data))
    valid_frame = None
    valid_summary = None
    if valid is not None:
        valid_frame = read_table(valid, cmap, labels_required=True)
        if office is not None:
            valid_frame = valid_frame[valid_frame["office"] == office].reset_index(drop=True)
        require_both_outcomes(valid_frame["label"], Path(valid).name, "validation")
        valid_summary = summarise(valid_frame, str(valid), file_sha256(valid))
    options = TrainOptions(
        valid_fraction=valid_fraction,
        refit=refit,
        office=office,
        mapping=cmap.name,
        extra_fields=cmap.extra_fields,
        num_threads=num_threads,
    )
    if grid is not None:
        options.grid = list(grid)
    result = train_model(frame, valid_frame, train_summary, valid_summary, options)
    folder = result.model.save(artifact_dir if artifact_dir is not None else paths.artifact_dir())
    return result.model.metadata, folder


def evaluate(
    model: str | Path,
    data: str | Path,
    mapping: str | Path | None = None,
    artifact_dir: str | Path | None = None,
    history: str = "frozen",
    resamples: int = 1000,
) -> EvalReport:
    """DATE metrics of a model on a labelled file, on all rows and on the never-seen goods
    lines, beside the plain baseline stored with the model (bootstrap intervals of the gap).

    ``frozen``: history features from the model's stored table only. ``online``: each row also
    sees the outcomes of the file's rows from strictly earlier dates, as a deployed model whose
    history is refreshed daily (without retraining) would.
    """
    from silkgate.risk.learning.comparison import compare_slices, never_seen
    from silkgate.risk.learning.metrics import evaluate_scores
    from silkgate.risk.learning.scorer import RiskModel
    from silkgate.risk.learning.training import labelled

    rm = RiskModel.load(resolve_model(model, artifact_dir))
    if mapping is None and rm.metadata.mapping not in (None, "identity", "custom"):
        try:
            cmap = load_mapping(rm.metadata.mapping)
        except MappingError:
            cmap = resolve_mapping(None, data)
    else:
        cmap = resolve_mapping(mapping, data)
    frame = labelled(read_table(data, cmap, labels_required=True))
    require_both_outcomes(frame["label"], Path(data).name, "evaluation")
    scores = rm.score_frame(frame, history=history)
    revenue = frame["revenue"].to_numpy(dtype=float) if "revenue" in frame else None
    y = frame["label"].to_numpy(dtype=float)
    report = evaluate_scores(y, scores, revenue, history=history, data=str(data))
    baseline = rm.baseline.score_frame(frame) if rm.baseline is not None else None
    unseen = never_seen(rm.history, frame, online=history == "online")
    slices = compare_slices(y, scores, baseline, unseen, revenue, history, resamples)
    return report.model_copy(update={"slices": slices})


def explain_declarations(
    model: str | Path,
    data: str | Path,
    ids: Sequence[str],
    mapping: str | Path | None = None,
    artifact_dir: str | Path | None = None,
    top: int = 5,
) -> list[dict[str, Any]]:
    """Score and plain-language reasons for the given declaration ids of a file, in the order
    asked (an id asked twice is shown once)."""
    from silkgate.risk.learning.datasets import frame_to_records
    from silkgate.risk.learning.scorer import RiskModel

    rm = RiskModel.load(resolve_model(model, artifact_dir))
    frame, cmap = read_data(data, mapping)
    order = list(dict.fromkeys(str(i) for i in ids))  # as asked, each once
    wanted = frame[frame["declaration_id"].isin(order)]
    missing = [i for i in order if i not in set(wanted["declaration_id"])]
    if missing:
        raise KeyError(f"declarations not in {Path(data).name}: {', '.join(missing)}")
    rank = {i: n for n, i in enumerate(order)}
    wanted = wanted.iloc[np.argsort([rank[i] for i in wanted["declaration_id"]], kind="stable")]
    out = []
    for rec in frame_to_records(wanted, cmap.extra_fields):
        score, reasons = rm.explain(rec, top)
        out.append(
            {
                "declaration_id": rec.declaration_id,
                "score": score,
                "model_id": rm.model_id,
                "reasons": [r.model_dump() for r in reasons],
            }
        )
    return out


def list_models(artifact_dir: str | Path | None = None) -> list[ModelSummary]:
    """Model artifacts in a directory, newest first."""
    folder = Path(artifact_dir) if artifact_dir is not None else paths.artifact_dir()
    out: list[ModelSummary] = []
    if not folder.is_dir():
        return out
    for meta_path in folder.glob("*/metadata.json"):
        try:
            meta = ModelMetadata.model_validate_json(meta_path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        rep = meta.validation_report

        def prec(n: float, rep: EvalReport | None = rep) -> float | None:
            if rep is None:
                return None
            try:
                return rep.at_n(n).precision
            except KeyError:
                return None

        out.append(
            ModelSummary(
                model_id=meta.model_id,
                created_at=meta.created_at.isoformat(),
                office=meta.office,
                training_rows=meta.training.rows,
                training_period=f"{meta.training.date_from} .. {meta.training.date_to}",
                auc=rep.auc if rep else None,
                precision_at_5=prec(5),
                precision_at_10=prec(10),
                path=str(meta_path.parent),
            )
        )
    out.sort(key=lambda m: (m.created_at, m.model_id), reverse=True)
    return out


def run_backtest(
    data: Sequence[str | Path],
    mapping: str | Path | None = None,
    rate: float = 10.0,
    explorations: Sequence[float] = (0.1, 0.0),
    warmup_weeks: int = 4,
    max_weeks: int | None = None,
    strategy: str = "random",
) -> list[Any]:
    """Backtest reports, one per exploration share, over the concatenation of ``data`` files."""
    from silkgate.risk.learning.backtest import BacktestOptions, backtest

    frames = []
    cmap: ColumnMapping | None = None
    for item in data:
        frame, cmap = read_data(item, mapping, labels_required=True)
        frames.append(frame)
    if cmap is None:
        raise MappingError("no data files given")
    frame = pd.concat(frames, ignore_index=True).sort_values("date", kind="stable")
    reports = []
    for eps in explorations:
        options = BacktestOptions(
            rate=rate,
            exploration=eps,
            strategy=strategy,
            warmup_weeks=warmup_weeks,
            max_weeks=max_weeks,
            extra_fields=cmap.extra_fields,
        )
        reports.append(backtest(frame, options))
    return reports


def validate_profile(path: str | Path) -> SelectivityProfile:
    """Load and validate a profile file (raises ``ProfileError`` listing every problem)."""
    return load_profile(path)


def export_profile(path: str | Path) -> str:
    """The canonical TOML of a profile file (validated)."""
    return profile_to_toml(load_profile(path))


def compute_profile_bands(
    profile: SelectivityProfile, data: str | Path, mapping: str | Path | None = None
) -> SelectivityProfile:
    """A copy of ``profile`` whose history bands are recomputed from a file (manual ones kept)."""
    from silkgate.risk.selectivity.value_controls import compute_bands

    frame, _ = read_data(data, mapping)
    vc = profile.value_controls
    manual = [b for b in vc.bands if b.source == "manual"]
    computed = compute_bands(frame, vc)
    new_vc = vc.model_copy(update={"bands": manual + computed})
    return profile.model_copy(update={"value_controls": new_vc})


def assess_file(
    profile: SelectivityProfile,
    data: str | Path,
    mapping: str | Path | None = None,
    model: str | Path | None = None,
    artifact_dir: str | Path | None = None,
    batch_by_day: bool = True,
) -> pd.DataFrame:
    """Lanes for every declaration of a file: one batch per day (exact daily rates)."""
    from silkgate.risk.learning.datasets import frame_to_records
    from silkgate.risk.learning.scorer import RiskModel
    from silkgate.risk.selectivity.engine import RiskEngine

    frame, cmap = read_data(data, mapping)
    rm = RiskModel.load(resolve_model(model, artifact_dir)) if model is not None else None
    engine = RiskEngine(profile, rm)
    rows = []
    groups = frame.groupby(frame["date"].dt.date, sort=True) if batch_by_day else [(None, frame)]
    for _, day in groups:
        records = frame_to_records(day, cmap.extra_fields)
        for a in engine.assess_batch(records):
            rows.append(
                {
                    "declaration_id": a.declaration_id,
                    "lane": a.lane.value,
                    "source": a.source,
                    "score": a.score,
                    "fired": ";".join(f.name for f in a.fired if f.selected),
                    "reasons": " | ".join(a.reasons),
                }
            )
    return pd.DataFrame(rows)
