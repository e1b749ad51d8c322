"""Model against the plain baseline, on all rows and on goods lines never seen in training.

On the KCS set most rows repeat an (HS6, net mass, invoice value) triple of the training period
with the same outcome, so figures on all rows mostly measure a lookup. The **never-seen** slice
keeps the rows whose triple does not occur in the training period: there only what generalises
counts. Differences come with a paired bootstrap interval (the same resampled rows score both
models; percentile interval), so an officer can tell a gain from noise.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from silkgate.risk.learning.features import DEFAULT_HISTORY_KEYS, HistoryTable, derived_columns
from silkgate.risk.learning.metrics import evaluate_scores
from silkgate.risk.selectivity.schemas import Difference, EvalReport, SliceComparison

GOODS_LINE = next(k for k in DEFAULT_HISTORY_KEYS if k.name == "goods_line")
COMPARED_NS: tuple[float, ...] = (5.0, 10.0)
RESAMPLES = 1000
CONFIDENCE = 0.95


def never_seen(history: HistoryTable, frame: pd.DataFrame, online: bool = False) -> np.ndarray:
    """Rows whose (HS6, net mass, value) triple is not in the training period's table — and,
    with ``online`` (where each row also sees the file's earlier outcomes), does not occur in
    the file on a strictly earlier date either.

    Rows missing one of the three count as never seen (there is no line to look up).
    """
    table = history.tables.get(GOODS_LINE.name, {})
    keys = HistoryTable.keys_of(frame, GOODS_LINE, derived_columns(frame))
    out = np.array([k is None or k not in table for k in keys], dtype=bool)
    if online and len(frame):
        t = pd.DataFrame({"k": keys, "d": pd.to_datetime(frame["date"]).to_numpy()})
        first = t.dropna(subset=["k"]).groupby("k")["d"].min()
        seen_before = (t["d"] > t["k"].map(first)).to_numpy(dtype=bool)
        out &= ~seen_before
    return out


class _Sorted:
    """Scores sorted once, so each bootstrap resample (row weights) costs O(rows)."""

    def __init__(self, labels: np.ndarray, scores: np.ndarray) -> None:
        order = np.argsort(scores, kind="mergesort")
        self.s = scores[order]
        self.y = labels[order]
        self.order = order
        _, self.group = np.unique(self.s, return_inverse=True)
        self.groups = int(self.group.max()) + 1 if len(self.s) else 0

    def figures(self, weights: np.ndarray, ns: Sequence[float]) -> list[float]:
        """AUC (ties half) and Precision@n (DATE: strictly above the numpy percentile) of the
        sample holding row i ``weights[i]`` times."""
        w = weights[self.order]
        pos = np.bincount(self.group, w * self.y, self.groups)
        neg = np.bincount(self.group, w * (1 - self.y), self.groups)
        n_pos, n_neg = pos.sum(), neg.sum()
        if n_pos > 0 and n_neg > 0:
            below = np.cumsum(neg) - neg
            auc_value = float((pos * (below + 0.5 * neg)).sum() / (n_pos * n_neg))
        else:
            auc_value = np.nan
        out = [auc_value]
        cw = np.cumsum(w)
        total = cw[-1] if len(cw) else 0.0
        hits_above = np.cumsum((w * self.y)[::-1])[::-1]
        count_above = np.cumsum(w[::-1])[::-1]
        for n in ns:
            if total <= 0:
                out.append(np.nan)
                continue
            rank = (100 - n) / 100 * (total - 1)
            lo = int(np.floor(rank))
            frac = rank - lo
            v_lo = float(self.s[int(np.searchsorted(cw, lo, side="right"))])
            hi_at = min(int(np.searchsorted(cw, lo + 1, side="right")), len(self.s) - 1)
            v_hi = float(self.s[hi_at])
            threshold = v_lo + frac * (v_hi - v_lo) if frac > 0 else v_lo
            first = int(np.searchsorted(self.s, threshold, side="right"))
            chosen = count_above[first] if first < len(self.s) else 0.0
            out.append(float(hits_above[first] / chosen) if chosen > 0 else np.nan)
        return out


def bootstrap_differences(
    labels: np.ndarray,
    model: np.ndarray,
    baseline: np.ndarray,
    ns: Sequence[float] = COMPARED_NS,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 7,
) -> list[Difference]:
    """AUC and Precision@n of both, their difference and its percentile bootstrap interval."""
    y = np.asarray(labels, dtype=float)
    a = _Sorted(y, np.asarray(model, dtype=float))
    b = _Sorted(y, np.asarray(baseline, dtype=float))
    names = ["auc", *(f"precision@{n:g}%" for n in ns)]
    ones = np.ones(len(y))
    point_a, point_b = a.figures(ones, ns), b.figures(ones, ns)
    rng = np.random.default_rng(seed)
    diffs = np.full((resamples, len(names)), np.nan)
    for r in range(resamples if len(y) else 0):
        weights = np.bincount(rng.integers(0, len(y), len(y)), minlength=len(y)).astype(float)
        diffs[r] = np.subtract(a.figures(weights, ns), b.figures(weights, ns))
    tail = (1 - confidence) / 2 * 100
    out = []
    for j, name in enumerate(names):
        col = diffs[:, j][np.isfinite(diffs[:, j])]
        va, vb = point_a[j], point_b[j]
        ok = bool(np.isfinite(va) and np.isfinite(vb))
        out.append(
            Difference(
                metric=name,
                model=float(va) if np.isfinite(va) else None,
                baseline=float(vb) if np.isfinite(vb) else None,
                difference=float(va - vb) if ok else None,
                low=float(np.percentile(col, tail)) if ok and len(col) else None,
                high=float(np.percentile(col, 100 - tail)) if ok and len(col) else None,
            )
        )
    return out


def compare_slices(
    labels: np.ndarray,
    scores: np.ndarray,
    baseline_scores: np.ndarray | None,
    unseen: np.ndarray | None,
    revenue: np.ndarray | None = None,
    history: str = "frozen",
    resamples: int = RESAMPLES,
) -> list[SliceComparison]:
    """The model (and baseline) on all rows and on the never-seen rows."""
    y = np.asarray(labels, dtype=float)
    slices = [("all", "all evaluated rows", np.ones(len(y), dtype=bool))]
    if unseen is not None:
        slices.append(
            (
                "never-seen",
                "rows whose (HS6, net mass, value) triple never occurs in the training period",
                unseen,
            )
        )
    out = []
    for name, description, mask in slices:
        rev = revenue[mask] if revenue is not None else None
        model_report = evaluate_scores(y[mask], scores[mask], rev, history=history)
        base_report: EvalReport | None = None
        diffs: list[Difference] = []
        if baseline_scores is not None:
            base_report = evaluate_scores(y[mask], baseline_scores[mask], rev, history="none")
            diffs = bootstrap_differences(
                y[mask], scores[mask], baseline_scores[mask], resamples=resamples
            )
        out.append(
            SliceComparison(
                name=name,
                description=description,
                rows=int(mask.sum()),
                positives=int(y[mask].sum()),
                model=model_report,
                baseline=base_report,
                differences=diffs,
                resamples=resamples if baseline_scores is not None else 0,
                confidence=CONFIDENCE,
            )
        )
    return out
