"""Evaluate a model on a labelled folder (the logic behind ``pneumo evaluate``).

Evaluates a ``.tflite`` model through the scan itself
(:func:`pneumo.scanning.pipeline.scan`: the input gate, the classifier, the
out-of-distribution and population checks, exactly as a user's scan runs
them), so the result also says how many films were flagged and how many got a
wrong answer with no warning (:mod:`pneumo.evaluation.reliability`). A Keras
``.keras`` model is evaluated through a loader the CLI injects (Keras needs
TensorFlow, which this core package never imports), on the classifier alone.
By default the shipped model is evaluated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pneumo.data.dataset import labels_of, list_examples, load_model_inputs
from pneumo.errors import ModelNotFoundError, UsageError
from pneumo.evaluation.metrics import BinaryMetrics, compute_metrics
from pneumo.evaluation.reliability import Reliability, reliability_of
from pneumo.model.card import CARD_FILENAME, ModelCard

BatchPredictor = Callable[[np.ndarray], np.ndarray]
KerasLoader = Callable[[Path], BatchPredictor]


@dataclass(frozen=True)
class Evaluation:
    """Metrics of one model on one labelled folder (all classified films), and what
    the scan's checks did there (``None`` for a Keras model: classifier only)."""

    model: Path
    kind: str
    data: Path
    metrics: BinaryMetrics
    metrics_at_half: BinaryMetrics
    labels: np.ndarray
    probabilities: np.ndarray
    reliability: Reliability | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON form: the metric keys at the card's threshold, plus context."""
        return {
            **self.metrics.to_dict(),
            "model": str(self.model),
            "kind": self.kind,
            "data": str(self.data),
            "at_threshold_0.5": self.metrics_at_half.to_dict(),
            "reliability": None if self.reliability is None else self.reliability.to_dict(),
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
    if model.suffix == ".tflite":
        return _evaluate_scan(folder, model, threshold, workers)
    if model.suffix != ".keras":
        raise UsageError(f"{model}: expected a .tflite or .keras model file")
    if keras_loader is None:
        raise UsageError("evaluating a .keras model needs TensorFlow: "
                         "pip install 'pneumoscan[train]'")
    card = ModelCard.load(model.parent / CARD_FILENAME)
    examples = list_examples(folder, card.labels)
    inputs = load_model_inputs([e.path for e in examples], card.preprocessing, workers)
    probs = np.asarray(keras_loader(model)(inputs), dtype=np.float64).reshape(-1)
    y = labels_of(examples)
    t = card.threshold_for(model) if threshold is None else threshold
    return Evaluation(model, "keras", folder, compute_metrics(y, probs, t),
                      compute_metrics(y, probs, 0.5), y, probs)


def _evaluate_scan(folder: Path, model: Path, threshold: float | None,
                   workers: int) -> Evaluation:
    from pneumo.model.runner import ModelRunner
    from pneumo.scanning.pipeline import scan

    runner = ModelRunner(model)
    card = runner.card
    examples = list_examples(folder, card.labels)
    t = card.threshold_for(model) if threshold is None else threshold
    records = list(scan([e.path for e in examples], runner, workers=workers, threshold=t))
    truth = {e.path: e.label for e in examples}
    classified = [r for r in records if r.ok and r.probability is not None]
    y = np.array([truth[r.path] for r in classified], dtype=np.int32)
    probs = np.array([float(r.probability or 0.0) for r in classified])
    kind = "int8" if runner.is_quantised else "float"
    return Evaluation(model, kind, folder, compute_metrics(y, probs, t),
                      compute_metrics(y, probs, 0.5), y, probs,
                      reliability_of(records, truth, card.labels, t))
