"""A trained risk model as a versioned artifact: score, explain, save and load.

Artifact layout (one directory per model id)::

    <artifact_dir>/<model_id>/
        model.txt           LightGBM booster (text format)
        preprocessing.json  feature builder state (vocabularies, medians) and history settings
        history.parquet     past inspection counts per key (the history features' memory)
        context.parquet     label-free statistics per commodity group and trader
        baseline.txt        plain-LightGBM baseline on the same rows (no history), for comparisons
        metadata.json       ModelMetadata: features, params, data digests, metrics, time
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from silkgate.risk.fields import DeclarationRecord
from silkgate.risk.learning.baseline import PlainBaseline
from silkgate.risk.learning.explain import explain_contributions
from silkgate.risk.learning.features import CONTEXT_FILE, FeatureBuilder, HistoryTable
from silkgate.risk.selectivity.schemas import Contribution, ModelMetadata

if TYPE_CHECKING:
    import lightgbm as lgb

MODEL_FILE = "model.txt"
PREPROCESSING_FILE = "preprocessing.json"
HISTORY_FILE = "history.parquet"
METADATA_FILE = "metadata.json"
#: Bumped whenever the preprocessing state changes shape; older artifacts must be retrained.
ARTIFACT_FORMAT = 2


class ArtifactError(ValueError):
    """A model directory is missing or incomplete."""


def _fields_of(declaration: DeclarationRecord | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(declaration, DeclarationRecord):
        return declaration.as_fields()
    return DeclarationRecord.from_mapping(declaration).as_fields()


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class RiskModel:
    """Booster + feature builder + history table + metadata, scored as one unit."""

    def __init__(
        self,
        booster: lgb.Booster,
        builder: FeatureBuilder,
        history: HistoryTable,
        metadata: ModelMetadata,
        score_reference: list[float] | None = None,
        baseline: PlainBaseline | None = None,
    ) -> None:
        self.booster = booster
        self.builder = builder
        self.history = history
        self.metadata = metadata
        self.score_reference = score_reference or []
        #: the plain-LightGBM baseline trained on the same rows, for comparisons
        self.baseline = baseline
        self.feature_names = builder.feature_names(history)
        self._iteration = metadata.best_iteration or None

    @property
    def model_id(self) -> str:
        """The artifact's id (also its directory name)."""
        return self.metadata.model_id

    # scoring
    def matrix(self, frame: pd.DataFrame, history: str = "frozen") -> np.ndarray:
        """Features for a canonical frame; ``history`` is ``frozen`` or ``online``."""
        if history == "online":
            return self.builder.matrix(frame, self.history, mode="expanding")
        return self.builder.matrix(frame, self.history, mode="lookup")

    def score_frame(self, frame: pd.DataFrame, history: str = "frozen") -> np.ndarray:
        """Risk score (probability of a discrepancy) for every row of a canonical frame."""
        if frame.empty:
            return np.zeros(0)
        x = self.matrix(frame, history)
        return np.asarray(self.booster.predict(x, num_iteration=self._iteration), dtype=float)

    def row(self, declaration: DeclarationRecord | Mapping[str, Any]) -> np.ndarray:
        """Feature vector (1 x F) of one declaration."""
        return self.builder.row(_fields_of(declaration), self.history)

    def score(self, declaration: DeclarationRecord | Mapping[str, Any]) -> float:
        """Risk score of one declaration (the in-process, one-at-a-time path)."""
        raw = self.booster.predict(
            self.row(declaration), num_iteration=self._iteration, raw_score=True, num_threads=1
        )
        return float(_sigmoid(np.asarray(raw, dtype=float))[0])

    def contributions(self, declaration: DeclarationRecord | Mapping[str, Any]) -> np.ndarray:
        """Per-feature contributions in log-odds (last entry: the base value), via pred_contrib."""
        out = self.booster.predict(
            self.row(declaration), num_iteration=self._iteration, pred_contrib=True, num_threads=1
        )
        return np.asarray(out, dtype=float)[0]

    def explain(
        self, declaration: DeclarationRecord | Mapping[str, Any], top: int = 5
    ) -> tuple[float, list[Contribution]]:
        """Score and the ``top`` feature contributions in words an officer can read."""
        fields = _fields_of(declaration)
        x = self.builder.row(fields, self.history)
        contrib = np.asarray(
            self.booster.predict(
                x, num_iteration=self._iteration, pred_contrib=True, num_threads=1
            ),
            dtype=float,
        )[0]
        score = float(_sigmoid(np.array([contrib.sum()]))[0])
        return score, explain_contributions(self, fields, x[0], contrib, top)

    def explain_many(
        self, declarations: Sequence[DeclarationRecord], top: int = 5
    ) -> list[tuple[float, list[Contribution]]]:
        """:meth:`explain` for many declarations with one feature matrix and one
        ``pred_contrib`` call (the assessor's batch path; same results, far fewer calls)."""
        from silkgate.risk.learning.datasets import records_to_frame

        if not declarations:
            return []
        x = self.matrix(records_to_frame(declarations, self.builder.extra_fields))
        contrib = np.asarray(
            self.booster.predict(
                x, num_iteration=self._iteration, pred_contrib=True, num_threads=1
            ),
            dtype=float,
        )
        scores = _sigmoid(contrib.sum(axis=1))
        return [
            (float(scores[i]), explain_contributions(self, rec.as_fields(), x[i], contrib[i], top))
            for i, rec in enumerate(declarations)
        ]

    def threshold_for_rate(self, share: float) -> float:
        """Score above which about ``share`` (0..1) of declarations fall, from reference scores."""
        if share <= 0:
            return math.inf
        if not self.score_reference:
            return 0.5
        q = float(np.clip(1.0 - share, 0.0, 1.0))
        ref = np.asarray(self.score_reference, dtype=float)
        return float(np.quantile(ref, q))

    # persistence
    def save(self, artifact_dir: str | Path) -> Path:
        """Write the artifact to ``<artifact_dir>/<model_id>/`` and return that path."""
        folder = Path(artifact_dir) / self.model_id
        folder.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(folder / MODEL_FILE), num_iteration=self._iteration)
        pre = {
            "format": ARTIFACT_FORMAT,
            "builder": self.builder.to_dict(),
            "history": self.history.config(),
            "score_reference": self.score_reference,
            "baseline": self.baseline.to_dict() if self.baseline is not None else None,
        }
        if self.baseline is not None:
            self.baseline.save(folder)
        (folder / PREPROCESSING_FILE).write_text(json.dumps(pre), encoding="utf-8")
        self.history.save(folder / HISTORY_FILE)
        (folder / METADATA_FILE).write_text(
            self.metadata.model_dump_json(indent=2), encoding="utf-8"
        )
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> RiskModel:
        """Read an artifact directory written by :meth:`save`."""
        import lightgbm as lgb

        folder = Path(folder)
        for name in (MODEL_FILE, PREPROCESSING_FILE, HISTORY_FILE, CONTEXT_FILE, METADATA_FILE):
            if not (folder / name).is_file():
                raise ArtifactError(f"{folder} is not a model artifact (no {name})")
        metadata = ModelMetadata.model_validate_json(
            (folder / METADATA_FILE).read_text(encoding="utf-8")
        )
        pre = json.loads((folder / PREPROCESSING_FILE).read_text(encoding="utf-8"))
        if pre.get("format") != ARTIFACT_FORMAT:
            raise ArtifactError(
                f"{folder} was written in artifact format {pre.get('format')!r}; this version "
                f"reads format {ARTIFACT_FORMAT}: retrain the model"
            )
        builder = FeatureBuilder.from_dict(pre["builder"])
        history = HistoryTable.load(folder / HISTORY_FILE, pre["history"])
        booster = lgb.Booster(model_file=str(folder / MODEL_FILE))
        baseline = (
            PlainBaseline.load(folder, pre["baseline"]) if pre.get("baseline") is not None else None
        )
        model = cls(booster, builder, history, metadata, pre.get("score_reference"), baseline)
        model._iteration = None  # the saved booster holds exactly the chosen iterations
        if model.feature_names != list(booster.feature_name()):
            raise ArtifactError(f"{folder}: feature list does not match the booster")
        return model
