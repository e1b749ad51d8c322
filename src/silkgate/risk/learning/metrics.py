"""Selection metrics as defined in DATE (Kim et al., KDD 2020).

At n% inspected, the selected declarations are those whose score is strictly above the
``(100 - n)``-th percentile of all scores (``numpy.percentile``, linear interpolation), so ties at
the threshold are left out and fewer than n% may be selected when scores tie:

* Precision@n = discrepancies among selected / selected
* Recall@n    = discrepancies among selected / all discrepancies
* Revenue@n   = revenue of selected / all revenue (where a revenue column exists)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from silkgate.risk.selectivity.schemas import AtN, EvalReport

DEFAULT_NS: tuple[float, ...] = (1, 2, 5, 10)


def at_n(
    labels: np.ndarray, scores: np.ndarray, n: float, revenue: np.ndarray | None = None
) -> AtN:
    """Precision, recall and revenue share when the top ``n`` percent are inspected."""
    y = np.asarray(labels, dtype=float)
    s = np.asarray(scores, dtype=float)
    if len(s) == 0:
        return AtN(n=n, threshold=float("nan"), selected=0, precision=None, recall=None)
    threshold = float(np.percentile(s, 100 - n))
    chosen = s > threshold
    selected = int(chosen.sum())
    hits = float(y[chosen].sum())
    total = float(y.sum())
    rev_share = None
    if revenue is not None:
        r = np.asarray(revenue, dtype=float)
        rev_total = float(r.sum())
        rev_share = float(r[chosen].sum()) / rev_total if rev_total > 0 else None
    return AtN(
        n=n,
        threshold=threshold,
        selected=selected,
        precision=hits / selected if selected else None,
        recall=hits / total if total > 0 else None,
        revenue=rev_share,
    )


def auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve (Mann-Whitney, ties counted half); ``None`` for one class."""
    y = np.asarray(labels, dtype=float) > 0.5
    s = np.asarray(scores, dtype=float)
    pos = int(y.sum())
    neg = len(y) - pos
    if pos == 0 or neg == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    sorted_s = s[order]
    ranks = np.empty(len(s), dtype=float)
    # average ranks over ties
    _, first, counts = np.unique(sorted_s, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def evaluate_scores(
    labels: np.ndarray,
    scores: np.ndarray,
    revenue: np.ndarray | None = None,
    ns: Sequence[float] = DEFAULT_NS,
    history: str = "frozen",
    data: str | None = None,
) -> EvalReport:
    """Full report: AUC and the figures at each n."""
    y = np.asarray(labels, dtype=float)
    return EvalReport(
        rows=len(y),
        positives=int(y.sum()),
        auc=auc(y, scores),
        at=[at_n(y, scores, n, revenue) for n in ns],
        history=history,
        data=data,
    )
