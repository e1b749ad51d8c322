"""The plain-LightGBM baseline every model is compared with: the file's own columns, no history.

It sees what one declaration says — office, transport, countries, HS chapter/heading/subheading,
the mapping's extra fields as categories; log value, log net mass, log unit value and the tax
rate as numbers — and nothing about the past (no history rates, no context statistics). It is
trained on the same rows as the model, with the same early stopping, and stored in the model
artifact (``baseline.txt``) so ``risk evaluate`` can always show both side by side.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from silkgate.risk.learning.features import (
    BASE_CATEGORICALS,
    _num_array,
    _text_array,
    derived_columns,
)

if TYPE_CHECKING:
    import lightgbm as lgb

BASELINE_FILE = "baseline.txt"
PLAIN_CATEGORICALS: tuple[str, ...] = (*BASE_CATEGORICALS, "hs4", "hs6")
PLAIN_NUMERICS: tuple[str, ...] = ("log_value", "log_net_mass", "log_unit_value", "tax_rate")
#: LightGBM's defaults (learning rate 0.1, 31 leaves, 20 rows per leaf) plus bagging
PLAIN_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "metric": "auc",
    "learning_rate": 0.1,
    "num_leaves": 31,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "verbosity": -1,
    "deterministic": True,
    "force_col_wise": True,
}


class PlainBaseline:
    """Vocabularies and booster of the baseline."""

    def __init__(
        self, vocab: Mapping[str, Sequence[str]], booster: lgb.Booster | None = None
    ) -> None:
        self.vocab = {k: list(v) for k, v in vocab.items()}
        self._index = {k: pd.Index(v, dtype=object) for k, v in self.vocab.items()}
        self.booster = booster

    @classmethod
    def fit_vocab(cls, frame: pd.DataFrame, extra_fields: Sequence[str] = ()) -> PlainBaseline:
        """Categories seen at least 3 times in the training frame (no labels read)."""
        derived = derived_columns(frame)
        vocab: dict[str, list[str]] = {}
        for name in (*PLAIN_CATEGORICALS, *extra_fields):
            counts = pd.Series(_text_array(frame, derived, name), dtype=object).value_counts()
            kept = [str(v) for v in counts[counts >= 3].index]
            if len(kept) >= 2:
                vocab[name] = kept
        return cls(vocab)

    @property
    def feature_names(self) -> list[str]:
        """Column order of :meth:`matrix`."""
        return [*self.vocab, *PLAIN_NUMERICS]

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """Feature matrix of a canonical frame."""
        derived = derived_columns(frame)
        cols = []
        for name, index in self._index.items():
            codes = index.get_indexer(_text_array(frame, derived, name))
            cols.append(np.where(codes >= 0, codes, np.nan).astype(float))
        value = _num_array(frame, "value")
        mass = _num_array(frame, "net_mass")
        with np.errstate(divide="ignore", invalid="ignore"):
            cols.append(np.where(value >= 0, np.log1p(np.abs(value)), np.nan))
            cols.append(np.where(mass >= 0, np.log1p(np.abs(mass)), np.nan))
            cols.append(np.where((value > 0) & (mass > 0), np.log(value / mass), np.nan))
        cols.append(_num_array(frame, "tax_rate"))
        return np.column_stack(cols).astype(float, copy=False)

    def fit(
        self,
        train: pd.DataFrame,
        valid: pd.DataFrame | None,
        seed: int = 7,
        num_threads: int = 1,
        max_rounds: int = 1000,
        early_stopping_rounds: int = 100,
    ) -> PlainBaseline:
        """Train on ``train`` with early stopping on ``valid`` (as the model's search does);
        without ``valid``, for exactly ``max_rounds`` rounds (a refit)."""
        import lightgbm as lgb

        params = {**PLAIN_PARAMS, "seed": seed, "num_threads": num_threads}
        dtrain = lgb.Dataset(
            self.matrix(train),
            train["label"].to_numpy(dtype=float),
            feature_name=self.feature_names,
            categorical_feature=list(self.vocab),
            free_raw_data=False,
        )
        if valid is None:
            self.booster = lgb.train(params, dtrain, num_boost_round=max_rounds)
            return self
        dvalid = lgb.Dataset(
            self.matrix(valid), valid["label"].to_numpy(dtype=float), reference=dtrain
        )
        booster = lgb.train(
            params,
            dtrain,
            num_boost_round=max_rounds,
            valid_sets=[dvalid],
            callbacks=[lgb.early_stopping(early_stopping_rounds, verbose=False)],
        )
        best = booster.best_iteration or max_rounds
        self.booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
        return self

    def score_frame(self, frame: pd.DataFrame) -> np.ndarray:
        """Baseline scores of every row."""
        if self.booster is None:
            raise ValueError("the baseline is not trained")
        if frame.empty:
            return np.zeros(0)
        return np.asarray(self.booster.predict(self.matrix(frame)), dtype=float)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able vocabularies (the booster is saved on its own)."""
        return {"vocab": self.vocab}

    def save(self, folder: Path) -> None:
        """Write ``baseline.txt`` into an artifact folder."""
        if self.booster is not None:
            self.booster.save_model(str(folder / BASELINE_FILE))

    @classmethod
    def load(cls, folder: Path, state: Mapping[str, Any]) -> PlainBaseline | None:
        """The baseline of an artifact folder, ``None`` where it has none."""
        import lightgbm as lgb

        path = folder / BASELINE_FILE
        if not path.is_file():
            return None
        return cls(state["vocab"], lgb.Booster(model_file=str(path)))
