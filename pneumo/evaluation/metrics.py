"""Binary classification metrics in plain numpy.

scikit-learn would add about 200 MB and over a second of import to the core
(``bench/bench_dependencies.py``); the tests check these functions against it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class BinaryMetrics:
    """Metrics of pneumonia-vs-normal predictions at one threshold.

    Positive class is PNEUMONIA. ``auc`` is threshold-free.
    """

    n: int
    accuracy: float
    auc: float
    sensitivity: float
    specificity: float
    precision: float
    f1: float
    f2: float
    threshold: float
    tp: int
    fp: int
    tn: int
    fn: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form with the documented keys."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BinaryMetrics:
        """Inverse of :meth:`to_dict`."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else 0.0


def roc_auc(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U, ties counted as half)."""
    y = np.asarray(y_true).astype(bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_s, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, counts)
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def roc_curve(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False-positive rates, true-positive rates and thresholds (descending)."""
    y = np.asarray(y_true).astype(bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    thresholds = np.unique(s)[::-1]
    pos, neg = max(int(y.sum()), 1), max(int((~y).sum()), 1)
    tpr = np.array([((s >= t) & y).sum() / pos for t in thresholds])
    fpr = np.array([((s >= t) & ~y).sum() / neg for t in thresholds])
    return np.r_[0.0, fpr], np.r_[0.0, tpr], np.r_[np.inf, thresholds]


def compute_metrics(y_true: np.ndarray, probs: np.ndarray, threshold: float = 0.5) -> BinaryMetrics:
    """All metrics for labels ``y_true`` (1 = pneumonia) and probabilities."""
    y = np.asarray(y_true).astype(bool).ravel()
    p = np.asarray(probs, dtype=np.float64).ravel()
    if y.shape != p.shape:
        raise ValueError("labels and probabilities differ in length")
    pred = p >= threshold
    tp = int((pred & y).sum())
    fp = int((pred & ~y).sum())
    tn = int((~pred & ~y).sum())
    fn = int((~pred & y).sum())
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)

    def fbeta(beta: float) -> float:
        b2 = beta * beta
        return _ratio((1 + b2) * precision * recall, b2 * precision + recall)

    return BinaryMetrics(
        n=len(y),
        accuracy=_ratio(tp + tn, len(y)),
        auc=roc_auc(y, p),
        sensitivity=recall,
        specificity=_ratio(tn, tn + fp),
        precision=precision,
        f1=fbeta(1.0),
        f2=fbeta(2.0),
        threshold=float(threshold),
        tp=tp,
        fp=fp,
        tn=tn,
        fn=fn,
    )


def choose_threshold(y_true: np.ndarray, probs: np.ndarray, min_sensitivity: float = 0.95) -> float:
    """The threshold with the highest specificity whose sensitivity is at least
    ``min_sensitivity`` (ties broken towards the higher threshold)."""
    y = np.asarray(y_true).astype(bool).ravel()
    p = np.asarray(probs, dtype=np.float64).ravel()
    if not y.any() or y.all():
        return 0.5
    best_t, best_spec = 0.0, -1.0
    for t in np.unique(p):
        pred = p >= t
        sens = (pred & y).sum() / y.sum()
        if sens + 1e-12 < min_sensitivity:
            continue
        spec = (~pred & ~y).sum() / (~y).sum()
        if spec >= best_spec:
            best_t, best_spec = float(t), float(spec)
    return best_t
