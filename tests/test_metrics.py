"""Metrics against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pneumo.evaluation.metrics import choose_threshold, compute_metrics, roc_auc, roc_curve


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


# -- cross-checked against scikit-learn (a test dependency only: it would cost the
# core about 200 MB and over a second of import; see bench/bench_dependencies.py) --
def _cases() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(12)
    cases = []
    for n, decimals in ((7, 1), (40, 2), (300, 3), (1000, 8)):
        y = rng.integers(0, 2, n)
        y[:2] = (0, 1)  # both classes present
        scores = np.clip(rng.normal(0.35 + 0.3 * y, 0.25), 0, 1).round(decimals)  # with ties
        cases.append((y, scores))
    cases.append((np.array([1, 0, 1, 0]), np.array([0.5, 0.5, 0.5, 0.5])))  # all tied
    cases.append((np.array([0, 0, 1, 1]), np.array([0.9, 0.8, 0.2, 0.1])))  # all wrong
    return cases


@pytest.mark.parametrize(("y", "scores"), _cases())
def test_auc_and_roc_curve_match_scikit_learn(y: np.ndarray, scores: np.ndarray) -> None:
    skm = pytest.importorskip("sklearn.metrics")
    assert roc_auc(y, scores) == pytest.approx(skm.roc_auc_score(y, scores), abs=1e-12)
    fpr, tpr, thresholds = roc_curve(y, scores)
    sk_fpr, sk_tpr, sk_thresholds = skm.roc_curve(y, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr, atol=1e-12)
    np.testing.assert_allclose(tpr, sk_tpr, atol=1e-12)
    np.testing.assert_array_equal(thresholds[1:], sk_thresholds[1:])
    assert np.isinf(thresholds[0]) and np.isinf(sk_thresholds[0])
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))  # trapezoids
    assert area == pytest.approx(roc_auc(y, scores), abs=1e-12)


@pytest.mark.parametrize(("y", "scores"), _cases())
@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.8])
def test_threshold_metrics_match_scikit_learn(y: np.ndarray, scores: np.ndarray,
                                              threshold: float) -> None:
    skm = pytest.importorskip("sklearn.metrics")
    m = compute_metrics(y, scores, threshold)
    pred = scores >= threshold
    tn, fp, fn, tp = skm.confusion_matrix(y, pred, labels=[0, 1]).ravel()
    assert (m.tp, m.fp, m.tn, m.fn) == (tp, fp, tn, fn)
    assert m.accuracy == pytest.approx(skm.accuracy_score(y, pred))
    assert m.sensitivity == pytest.approx(skm.recall_score(y, pred, zero_division=0))
    assert m.specificity == pytest.approx(
        skm.recall_score(y, pred, pos_label=0, zero_division=0))
    assert m.precision == pytest.approx(skm.precision_score(y, pred, zero_division=0))
    assert m.f1 == pytest.approx(skm.f1_score(y, pred, zero_division=0))
    assert m.f2 == pytest.approx(skm.fbeta_score(y, pred, beta=2.0, zero_division=0))
