"""Metrics against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pneumo.evaluation.metrics import choose_threshold, compute_metrics, roc_auc


def test_metrics_match_hand_computed_values() -> None:
    # 4 positives, 4 negatives; at 0.5: TP=3 (0.9, 0.8, 0.6), FN=1 (0.3),
    # FP=1 (0.7), TN=3 (0.1, 0.2, 0.4)
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.6, 0.3, 0.7, 0.1, 0.2, 0.4])
    m = compute_metrics(y, p, 0.5)
    assert (m.tp, m.fp, m.tn, m.fn, m.n) == (3, 1, 3, 1, 8)
    assert m.accuracy == pytest.approx(6 / 8)
    assert m.sensitivity == pytest.approx(3 / 4)
    assert m.specificity == pytest.approx(3 / 4)
    assert m.precision == pytest.approx(3 / 4)
    assert m.f1 == pytest.approx(0.75)
    assert m.f2 == pytest.approx(0.75)
    # pairs (pos, neg) ranked correctly: 0.9>all 4, 0.8>4, 0.6>3 (not 0.7), 0.3>2
    assert m.auc == pytest.approx((4 + 4 + 3 + 2) / 16)
    assert m.to_dict()["threshold"] == 0.5


def test_fbeta_weights_recall() -> None:
    y = np.array([1, 1, 1, 1, 0, 0])
    p = np.array([0.9, 0.9, 0.1, 0.1, 0.1, 0.1])  # precision 1, recall 0.5
    m = compute_metrics(y, p, 0.5)
    assert m.f1 == pytest.approx(2 * 1 * 0.5 / 1.5)
    assert m.f2 == pytest.approx(5 * 1 * 0.5 / (4 * 1 + 0.5))


def test_auc_counts_ties_as_half_and_handles_one_class() -> None:
    assert roc_auc(np.array([1, 0]), np.array([0.5, 0.5])) == pytest.approx(0.5)
    assert roc_auc(np.array([1, 0, 1]), np.array([0.9, 0.1, 0.8])) == pytest.approx(1.0)
    assert math.isnan(roc_auc(np.array([1, 1]), np.array([0.2, 0.3])))


def test_threshold_rule_keeps_sensitivity_and_maximises_specificity() -> None:
    y = np.array([1] * 20 + [0] * 10)
    p = np.r_[np.linspace(0.3, 1.0, 20), np.linspace(0.0, 0.5, 10)]
    t = choose_threshold(y, p, min_sensitivity=0.95)
    m = compute_metrics(y, p, t)
    assert m.sensitivity >= 0.95
    # any higher candidate threshold loses the sensitivity target
    higher = [c for c in np.unique(p) if c > t]
    assert all(compute_metrics(y, p, c).sensitivity < 0.95 for c in higher)
