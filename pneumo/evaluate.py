"""``pneumo evaluate DATA_DIR [--model FILE] [--json FILE|-]``.

Evaluates a ``.tflite`` model through the same runner the app uses, or a Keras
``.keras`` model through a loader the CLI injects (Keras needs TensorFlow, which
this core package never imports). By default the shipped model is evaluated.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pneumo.dataset import labels_of, list_examples, load_model_inputs
from pneumo.errors import ModelNotFoundError, UsageError
from pneumo.metrics import BinaryMetrics, compute_metrics
from pneumo.modelcard import CARD_FILENAME, ModelCard

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
    from pneumo.paths import assets_dir, default_model_path

    try:
        return default_model_path()
    except ModelNotFoundError:
        keras_model = assets_dir() / "model.keras"
        if keras_model.is_file():
            return keras_model
        raise


def _tflite_predictor(model: Path) -> tuple[BatchPredictor, ModelCard, str]:
    from pneumo.runner import ModelRunner

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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``pneumo evaluate``."""
    p = argparse.ArgumentParser(prog="pneumo evaluate", description=(
        "Evaluate a model on a folder of NORMAL/ and PNEUMONIA/ images "
        "(or a data set root with test/)."))
    p.add_argument("data_dir", type=Path)
    p.add_argument("--model", type=Path, default=None,
                   help="a .tflite or .keras model (default: the shipped model)")
    p.add_argument("--json", default=None, metavar="FILE|-", help="write metrics as JSON")
    p.add_argument("--threshold", type=float, default=None, help="override the card's threshold")
    p.add_argument("--plots", type=Path, default=None, metavar="DIR",
                   help="write ROC and confusion-matrix PNGs (needs matplotlib)")
    p.add_argument("--workers", type=int, default=2)
    return p


def main(argv: list[str], keras_loader: KerasLoader | None = None) -> int:
    """Run ``pneumo evaluate``; returns the exit code."""
    args = build_parser().parse_args(argv)
    model = args.model or default_model()
    if not model.is_file():
        raise ModelNotFoundError(f"{model}: model file not found")
    result = evaluate(args.data_dir, model, keras_loader=keras_loader,
                      threshold=args.threshold, workers=args.workers)
    m = result.metrics
    if args.json == "-":
        json.dump(result.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(f"{result.model} ({result.kind}) on {result.data}: n={m.n}")
        for at in (result.metrics, result.metrics_at_half):
            print(f"  threshold {at.threshold:.4f}: accuracy {at.accuracy:.4f}  AUC {at.auc:.4f}  "
                  f"sensitivity {at.sensitivity:.4f}  specificity {at.specificity:.4f}  "
                  f"precision {at.precision:.4f}  F1 {at.f1:.4f}  "
                  f"TP {at.tp} FP {at.fp} TN {at.tn} FN {at.fn}")
        if args.json:
            from pneumo.atomic import write_text_atomic

            write_text_atomic(Path(args.json), json.dumps(result.to_dict(), indent=2) + "\n")
    if args.plots:
        from pneumo import plots

        args.plots.mkdir(parents=True, exist_ok=True)
        plots.plot_roc(result.labels, result.probabilities, m, args.plots / "roc.png")
        plots.plot_confusion(m, args.plots / "confusion.png")
    return 0
