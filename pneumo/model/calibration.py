"""Probability calibration: expected calibration error and temperature scaling.

:func:`expected_calibration_error` bins the predicted pneumonia probabilities
into equal-width bins and averages |accuracy - confidence| weighted by bin
size (the usual binary form: the fraction of positives against the mean
predicted probability per bin). :func:`fit_temperature` finds the temperature
``T`` minimising the negative log-likelihood of ``sigmoid(logit / T)`` by a
1-D golden-section search over ``log T`` (no scipy needed).

Applying a temperature changes every probability, so the decision threshold
would have to be re-derived with it; the app does not apply it yet (the card
only records it as :attr:`pneumo.model.card.ModelCard.calibration`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

_EPS = 1e-7


def logit(p: np.ndarray) -> np.ndarray:
    """``log(p / (1 - p))``, with ``p`` clipped away from 0 and 1."""
    q = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1.0 - _EPS)
    out: np.ndarray = np.log(q) - np.log1p(-q)
    return out


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function, numerically stable."""
    z = np.asarray(z, dtype=np.float64)
    out: np.ndarray = np.where(z >= 0, 1.0 / (1.0 + np.exp(-np.abs(z))),
                               np.exp(-np.abs(z)) / (1.0 + np.exp(-np.abs(z))))
    return out


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 15) -> float:
    """ECE of pneumonia probabilities ``p`` against 0/1 labels ``y`` over ``bins``
    equal-width bins on [0, 1] (the last bin includes 1)."""
    labels = np.asarray(y, dtype=np.float64).reshape(-1)
    probs = np.clip(np.asarray(p, dtype=np.float64).reshape(-1), 0.0, 1.0)
    if len(labels) != len(probs) or len(labels) == 0:
        raise ValueError(f"need as many labels as probabilities, got {len(labels)}, {len(probs)}")
    if bins < 1:
        raise ValueError("bins must be at least 1")
    index = np.minimum((probs * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            total += mask.sum() * abs(float(labels[mask].mean()) - float(probs[mask].mean()))
    return total / len(labels)


def negative_log_likelihood(y: np.ndarray, logits: np.ndarray, temperature: float = 1.0) -> float:
    """Mean binary cross-entropy of ``sigmoid(logits / temperature)``."""
    labels = np.asarray(y, dtype=np.float64).reshape(-1)
    z = np.asarray(logits, dtype=np.float64).reshape(-1) / float(temperature)
    # log(1 + exp(z)) - y z, stably
    return float(np.mean(np.logaddexp(0.0, z) - labels * z))


def fit_temperature(y: np.ndarray, logits: np.ndarray, low: float = 0.05,
                    high: float = 20.0, iterations: int = 80) -> float:
    """The temperature in [``low``, ``high``] minimising the NLL of
    ``sigmoid(logits / T)`` on labels ``y`` (golden-section search on log T)."""
    if not 0.0 < low < high:
        raise ValueError("need 0 < low < high")
    labels = np.asarray(y, dtype=np.float64).reshape(-1)
    z = np.asarray(logits, dtype=np.float64).reshape(-1)
    if len(labels) != len(z) or len(z) == 0:
        raise ValueError("need as many labels as logits")

    def loss(log_t: float) -> float:
        return negative_log_likelihood(labels, z, math.exp(log_t))

    a, b = math.log(low), math.log(high)
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = loss(c), loss(d)
    for _ in range(iterations):
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = loss(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = loss(d)
    return math.exp((a + b) / 2.0)


@dataclass(frozen=True)
class CalibrationReport:
    """Expected calibration error of a classifier, before and after a temperature
    fitted on validation (test figures are measured only, ``None`` without test)."""

    bins: int
    temperature: float
    ece_validation: float
    ece_validation_scaled: float
    ece_test: float | None = None
    ece_test_scaled: float | None = None
    fitted_on: str = "validation"
    applied: bool = False
    model: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as stored in the card."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CalibrationReport:
        """Inverse of :meth:`to_dict`."""
        def opt(key: str) -> float | None:
            value = data.get(key)
            return None if value is None else float(value)

        return cls(bins=int(data["bins"]), temperature=float(data["temperature"]),
                   ece_validation=float(data["ece_validation"]),
                   ece_validation_scaled=float(data["ece_validation_scaled"]),
                   ece_test=opt("ece_test"), ece_test_scaled=opt("ece_test_scaled"),
                   fitted_on=str(data.get("fitted_on", "validation")),
                   applied=bool(data.get("applied", False)),
                   model=None if data.get("model") is None else str(data["model"]))


def calibration_report(y_val: np.ndarray, p_val: np.ndarray, y_test: np.ndarray | None = None,
                       p_test: np.ndarray | None = None, bins: int = 15,
                       model: str | None = None) -> CalibrationReport:
    """ECE before and after a temperature fitted on validation (test only measured)."""
    temperature = fit_temperature(y_val, logit(p_val))
    ece_test = ece_test_scaled = None
    if y_test is not None and p_test is not None:
        ece_test = expected_calibration_error(y_test, p_test, bins)
        ece_test_scaled = expected_calibration_error(
            y_test, sigmoid(logit(p_test) / temperature), bins)
    return CalibrationReport(
        bins=bins,
        temperature=temperature,
        ece_validation=expected_calibration_error(y_val, p_val, bins),
        ece_validation_scaled=expected_calibration_error(
            y_val, sigmoid(logit(p_val) / temperature), bins),
        ece_test=ece_test,
        ece_test_scaled=ece_test_scaled,
        model=model,
    )
