"""Out-of-distribution score: Mahalanobis distance on the model's embedding.

The float model's ``explain`` signature returns the 192-d pooled embedding of
an image. :func:`fit_ood` fits class means and a shared (pooled within-class)
covariance on the training side's embeddings and sets the threshold at the
``pass_rate`` quantile of the *validation* distances (never test). For a
model folder, :mod:`pneumo.model.ood_fit` feeds it the training films *and*
random variants of each (crops, borders, burned-in text, ...), so that a film
framed another way is not unusual.
:meth:`OodModel.distance` is the smallest Mahalanobis distance to a class
mean; above :attr:`OodModel.threshold` the image is unusual for the model.

Storage stays small: the covariance is kept as its top ``rank`` principal
directions plus one residual variance for the rest (probabilistic PCA), so
the distance still sees every direction but the card holds ``rank * d``
numbers, not ``d * d``; arrays are stored as base64 little-endian float32
(one line each in the card). The fitted model lives in the card's ``ood``
section (:attr:`pneumo.model.card.ModelCard.ood`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from pneumo.errors import ModelError
from pneumo.util.arrays import decode_floats, encode_floats

if TYPE_CHECKING:
    from pneumo.model.gradcam import Explainer

#: Format tag stored with the model, checked on load.
KIND = "mahalanobis-ppca-v1"
#: Default number of principal directions kept: two thirds of the 192-d
#: embedding. At 32 (the first default) the residual variance blurred
#: directions that told inverted films from real ones.
DEFAULT_RANK = 128
_SHRINK = 1e-3  # ridge on the covariance, relative to its mean eigenvalue


@dataclass(frozen=True, eq=False)
class OodModel:
    """Class means (k, d), principal directions (r, d), their variances (r,),
    the residual variance, the distance threshold and how it was set."""

    means: np.ndarray
    components: np.ndarray
    variances: np.ndarray
    residual_variance: float
    threshold: float
    pass_rate: float = 0.99
    fitted_on: dict[str, Any] | None = None
    measured: dict[str, Any] | None = None

    def __eq__(self, other: object) -> bool:
        """Equal when the stored forms are (arrays compare by value)."""
        return isinstance(other, OodModel) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    @property
    def dim(self) -> int:
        """Embedding size ``d``."""
        return int(self.means.shape[1])

    def distances(self, embeddings: np.ndarray) -> np.ndarray:
        """Distances (N,) of embeddings (N, d): the minimum over class means."""
        x = np.asarray(embeddings, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"expected embeddings of shape (N, {self.dim}), got {x.shape}")
        best = np.full(len(x), np.inf)
        for mean in self.means:
            centred = x - mean
            proj = centred @ self.components.T
            inside = np.sum(proj**2 / self.variances, axis=1)
            rest = np.maximum(np.sum(centred**2, axis=1) - np.sum(proj**2, axis=1), 0.0)
            best = np.minimum(best, inside + rest / self.residual_variance)
        out: np.ndarray = np.sqrt(best)
        return out

    def distance(self, embedding: np.ndarray) -> float:
        """Distance of one embedding (d,)."""
        return float(self.distances(np.asarray(embedding).reshape(1, -1))[0])

    def warning(self, distance: float) -> str:
        """The scan warning for a distance above the threshold."""
        return (f"unusual image for this model (out-of-distribution score {distance:.1f} "
                f"above {self.threshold:.1f}): result unreliable")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (float32 precision, which is plenty)."""
        return {
            "kind": KIND,
            "threshold": float(self.threshold),
            "pass_rate": float(self.pass_rate),
            "residual_variance": float(self.residual_variance),
            "means": encode_floats(self.means),
            "components": encode_floats(self.components),
            "variances": encode_floats(self.variances),
            "fitted_on": dict(self.fitted_on or {}),
            "measured": None if self.measured is None else dict(self.measured),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OodModel:
        """Inverse of :meth:`to_dict`; a malformed entry raises :class:`ModelError`."""
        try:
            if data.get("kind") != KIND:
                raise ValueError(f"unknown kind {data.get('kind')!r}")
            means = decode_floats(data["means"])
            components = decode_floats(data["components"])
            variances = decode_floats(data["variances"])
            model = cls(means=means, components=components, variances=variances,
                        residual_variance=float(data["residual_variance"]),
                        threshold=float(data["threshold"]),
                        pass_rate=float(data.get("pass_rate", 0.99)),
                        fitted_on=dict(data.get("fitted_on", {})),
                        measured=None if data.get("measured") is None
                        else dict(data["measured"]))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelError(f"model card: invalid 'ood' entry ({exc})") from None
        d = means.shape[1] if means.ndim == 2 else -1
        if (d < 1 or components.ndim != 2 or components.shape[1] != d
                or variances.shape != (components.shape[0],)
                or not (variances > 0).all() or model.residual_variance <= 0):
            raise ModelError("model card: 'ood' entry has inconsistent shapes or variances")
        return model


def fit_ood(embeddings: np.ndarray, labels: np.ndarray, val_embeddings: np.ndarray,
            pass_rate: float = 0.99, rank: int = DEFAULT_RANK) -> OodModel:
    """Fit class means and a shared covariance on ``embeddings`` (N, d) with 0/1
    ``labels``; threshold at the ``pass_rate`` quantile of the distances of
    ``val_embeddings`` (the validation side, never test)."""
    x = np.asarray(embeddings, dtype=np.float64)
    y = np.asarray(labels).reshape(-1)
    if x.ndim != 2 or len(x) != len(y) or len(x) < 2:
        raise ValueError(f"need (N, d) embeddings and N labels, got {x.shape} and {y.shape}")
    if not 0.0 < pass_rate < 1.0:
        raise ValueError("pass_rate must be between 0 and 1")
    classes = [c for c in np.unique(y) if np.sum(y == c) >= 1]
    means = np.stack([x[y == c].mean(axis=0) for c in classes])
    centred = np.concatenate([x[y == c] - m for c, m in zip(classes, means)])
    cov = centred.T @ centred / max(1, len(centred) - len(classes))
    values, vectors = np.linalg.eigh(cov)
    values, vectors = values[::-1], vectors[:, ::-1]
    floor = _SHRINK * max(float(values.mean()), 1e-12)
    values = np.maximum(values, 0.0) + floor
    r = int(min(max(1, rank), x.shape[1] - 1)) if x.shape[1] > 1 else 1
    residual = float(values[r:].mean()) if r < len(values) else floor
    model = OodModel(means=means, components=vectors[:, :r].T.copy(),
                     variances=values[:r].copy(), residual_variance=residual,
                     threshold=np.inf, pass_rate=pass_rate)
    val = model.distances(np.asarray(val_embeddings, dtype=np.float64))
    threshold = float(np.quantile(val, pass_rate))
    info = {"train": len(x), "validation": len(val), "rank": r,
            "classes": [int(c) for c in classes]}
    return OodModel(means=means, components=model.components, variances=model.variances,
                    residual_variance=residual, threshold=threshold, pass_rate=pass_rate,
                    fitted_on=info)


def embed(explainer: Explainer, inputs: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """Embeddings (N, d) of preprocessed inputs (N, S, S, 1)."""
    return np.stack([explainer.explain(x).embedding for x in inputs])
