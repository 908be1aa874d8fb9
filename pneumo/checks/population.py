"""The population check: does a film look like the children the model learned from?

A logistic model on features the scan already has: the float model's 192-d
pooled embedding (the ``explain`` signature the out-of-distribution score
runs anyway) and, optionally, a coarse thumbnail of the preprocessed model
input. Its output, the *population score*, is the probability that the film is
not of the training population (the fit weighs both sides equally). It is
fitted with outlier exposure: Kermany training films against adult films
(the NIH training split), both seen under random crops, display curves,
borders and burned-in text (:mod:`pneumo.data.augment`), so that what tells
them apart is the anatomy, not one hospital's equipment. Its threshold is
fixed on validation patients (:mod:`pneumo.checks.population_fit`).

The fitted model is a typed section of the model card (``population``); the
check costs a dot product per film.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from pneumo.errors import ModelError
from pneumo.util.arrays import decode_floats, encode_floats

#: Format tag stored with the model, checked on load.
KIND = "population-logistic-v1"
#: Feature sets: the embedding alone, or with a thumbnail of the model input.
FEATURES = ("embedding", "embedding+thumbnail")


@dataclass(frozen=True, eq=False)
class PopulationModel:
    """Standardisation (``mean``, ``scale``), logistic ``weights`` and ``bias``,
    the threshold on the score, and where they came from.

    ``thumbnail`` is the side of the model-input thumbnail appended to the
    embedding (0: the embedding alone).
    """

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    threshold: float
    thumbnail: int = 0
    fitted_on: Mapping[str, Any] = field(default_factory=dict)
    measured: Mapping[str, Any] = field(default_factory=dict)

    def __eq__(self, other: object) -> bool:
        """Equal when the stored forms are (arrays compare by value)."""
        return isinstance(other, PopulationModel) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    @property
    def features(self) -> str:
        """Which of :data:`FEATURES` the model reads."""
        return FEATURES[1] if self.thumbnail else FEATURES[0]

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Population scores (N,) in ``[0, 1]`` of feature rows (N, F)."""
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.weights):
            raise ValueError(f"expected features of shape (N, {len(self.weights)}), "
                             f"got {x.shape}")
        logits = ((x - self.mean) / self.scale) @ self.weights + self.bias
        out: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(logits, -60.0, 60.0)))
        return out

    def score(self, embedding: np.ndarray, model_input: np.ndarray | None = None) -> float:
        """The population score of one film from its embedding (d,) and, when the
        model uses a thumbnail, its preprocessed model input (S, S, 1)."""
        row = feature_rows(np.asarray(embedding).reshape(1, -1),
                           None if model_input is None else np.asarray(model_input)[None],
                           self.thumbnail)
        return float(self.scores(row)[0])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (arrays as base64 float32)."""
        return {
            "kind": KIND,
            "features": self.features,
            "thumbnail": int(self.thumbnail),
            "threshold": float(self.threshold),
            "bias": float(self.bias),
            "mean": encode_floats(self.mean),
            "scale": encode_floats(self.scale),
            "weights": encode_floats(self.weights),
            "fitted_on": dict(self.fitted_on),
            "measured": dict(self.measured),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PopulationModel:
        """Inverse of :meth:`to_dict`; a malformed entry raises :class:`ModelError`."""
        try:
            if data.get("kind") != KIND:
                raise ValueError(f"unknown kind {data.get('kind')!r}")
            model = cls(mean=decode_floats(data["mean"]), scale=decode_floats(data["scale"]),
                        weights=decode_floats(data["weights"]), bias=float(data["bias"]),
                        threshold=float(data["threshold"]),
                        thumbnail=int(data.get("thumbnail", 0)),
                        fitted_on=dict(data.get("fitted_on") or {}),
                        measured=dict(data.get("measured") or {}))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelError(f"model card: invalid 'population' entry ({exc})") from None
        n = len(model.weights)
        if (model.weights.ndim != 1 or model.mean.shape != (n,) or model.scale.shape != (n,)
                or not (model.scale > 0).all() or not 0.0 <= model.threshold <= 1.0
                or model.thumbnail < 0):
            raise ModelError("model card: 'population' entry has inconsistent shapes or values")
        return model


def thumbnails(model_inputs: np.ndarray, side: int) -> np.ndarray:
    """Area-averaged ``side`` x ``side`` thumbnails (N, side*side) of model inputs (N, S, S, 1)."""
    x = np.asarray(model_inputs, dtype=np.float32)
    return np.stack([cv2.resize(img[:, :, 0], (side, side), interpolation=cv2.INTER_AREA)
                     .reshape(-1) for img in x]) if len(x) else np.zeros((0, side * side))


def feature_rows(embeddings: np.ndarray, model_inputs: np.ndarray | None,
                 thumbnail: int) -> np.ndarray:
    """The feature rows (N, F) the model reads: embeddings, plus thumbnails if asked."""
    emb = np.asarray(embeddings, dtype=np.float64)
    if not thumbnail:
        return emb
    if model_inputs is None:
        raise ValueError("this population model also needs the model input")
    return np.hstack([emb, thumbnails(model_inputs, thumbnail)])


def fit_logistic(x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None,
                 l2: float = 10.0, iterations: int = 50) -> tuple[np.ndarray, np.ndarray,
                                                                  np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method on standardised ``x``.

    Returns ``(mean, scale, weights, bias)``; each class's total weight is made
    equal (balanced), so the score does not depend on how many of each were seen.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if x.ndim != 2 or len(x) != len(y) or set(np.unique(y)) != {0.0, 1.0}:
        raise ValueError("need (N, F) features and 0/1 labels of both classes")
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
    w = np.where(y == 1, w / w[y == 1].sum(), w / w[y == 0].sum()) * len(y) / 2.0
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    ridge = l2 * np.eye(z.shape[1])
    ridge[-1, -1] = 0.0  # the bias is not shrunk
    beta = np.zeros(z.shape[1])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ beta, -60.0, 60.0)))
        gradient = z.T @ (w * (p - y)) + ridge @ beta
        hessian = (z * (w * p * (1.0 - p))[:, None]).T @ z + ridge
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if float(np.abs(step).max()) < 1e-7:
            break
    return mean, scale, beta[:-1].copy(), float(beta[-1])
