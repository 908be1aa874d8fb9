"""Evaluate a model on a labelled folder (the logic behind ``pneumo evaluate``).

Evaluates a ``.tflite`` model through the same runner the app uses, or a Keras
``.keras`` model through a loader the CLI injects (Keras needs TensorFlow, which
this core package never imports). By default the shipped model is evaluated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pneumo.data.dataset import labels_of, list_examples, load_model_inputs
from pneumo.errors import ModelNotFoundError, UsageError
from pneumo.evaluation.metrics import BinaryMetrics, compute_metrics
from pneumo.model.card import CARD_FILENAME, ModelCard

BatchPredictor = Callable[[np.ndarray], np.ndarray]
KerasLoader = Callable[[Path], BatchPredictor]


@dataclass(frozen=True)
class Evaluation:
    """Metrics of one model on one labelled folder."""

    model: Path
    kind: str
    data: Path
    metrics: BinaryMetrics
    metrics_at_half: BinaryMetrics
    labels: np.ndarray
    probabilities: np.ndarray

    def to_dict(self) -> dict[str, object]:
        """JSON form: the metric keys at the card's threshold, plus context."""
        return {
            **self.metrics.to_dict(),
            "model": str(self.model),
            "kind": self.kind,
            "data": str(self.data),
            "at_threshold_0.5": self.metrics_at_half.to_dict(),
        }


def default_model() -> Path:
    """The shipped model: ``assets/model.tflite`` (or ``$PNEUMO_MODEL``), else
    the Keras ``assets/model.keras``."""
    from pneumo.model.locate import assets_dir, default_model_path

    try:
        return default_model_path()
    except ModelNotFoundError:
        keras_model = assets_dir() / "model.keras"
        if keras_model.is_file():
            return keras_model
        raise


def _tflite_predictor(model: Path) -> tuple[BatchPredictor, ModelCard, str]:
    from pneumo.model.runner import ModelRunner

    runner = ModelRunner(model)
    return runner.predict_batch, runner.card, "int8" if runner.is_quantised else "float"


def evaluate(
    data: Path,
    model: Path,
    *,
    keras_loader: KerasLoader | None = None,
    threshold: float | None = None,
    workers: int = 2,
) -> Evaluation:
    """Evaluate ``model`` on the labelled folder ``data`` (``data/test`` if it
    has one)."""
    folder = data / "test" if (data / "test").is_dir() else data
    if model.suffix == ".keras":
        if keras_loader is None:
            raise UsageError("evaluating a .keras model needs TensorFlow: "
                             "pip install 'pneumoscan[train]'")
        card = ModelCard.load(model.parent / CARD_FILENAME)
        predict_batch, kind = keras_loader(model), "keras"
    elif model.suffix == ".tflite":
        predict_batch, card, kind = _tflite_predictor(model)
    else:
        raise UsageError(f"{model}: expected a .tflite or .keras model file")
    examples = list_examples(folder, card.labels)
    inputs = load_model_inputs([e.path for e in examples], card.preprocessing, workers)
    probs = np.asarray(predict_batch(inputs), dtype=np.float64).reshape(-1)
    y = labels_of(examples)
    t = card.threshold_for(model) if threshold is None else threshold
    return Evaluation(model, kind, folder, compute_metrics(y, probs, t),
                      compute_metrics(y, probs, 0.5), y, probs)
