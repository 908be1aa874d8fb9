"""How a model's validation AUC holds up when the film's display curve changes.

``python bench/bench_display_curves.py DATA_DIR [--model FILE] [--split val|test]``

Sites differ in exposure, processing and the VOI LUT or window a DICOM carries
far more than children's lungs differ. This applies a family of increasing
intensity curves to every loaded image (before the shared preprocessing, as a
different scanner would) and prints, per curve, ROC AUC, sensitivity and
specificity at the model's threshold. ``--split val`` (the default) is the
patient-level validation split of the card's training run, on which model
choices are made; ``--split test`` is for reporting only.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from pneumo.data.dataset import card_training_split, labels_of, list_examples
from pneumo.evaluation.metrics import compute_metrics
from pneumo.films.imaging import load_image
from pneumo.model.card import CARD_FILENAME, ModelCard
from pneumo.model.preprocess import preprocess

Curve = Callable[[np.ndarray], np.ndarray]

CURVES: dict[str, Curve] = {
    "identity": lambda x: x,
    "gamma 0.7 (brighter)": lambda x: x ** 0.7,
    "gamma 1.4 (darker)": lambda x: x ** 1.4,
    "flat (0.15 + 0.7x)": lambda x: 0.15 + 0.7 * x,
    "window (x - 0.1) / 0.8": lambda x: np.clip((x - 0.1) / 0.8, 0.0, 1.0),
}


def _predictor(model: Path) -> tuple[Callable[[np.ndarray], np.ndarray], ModelCard]:
    if model.suffix == ".keras":
        from train.predict import load_keras_predictor

        return load_keras_predictor(model), ModelCard.load(model.parent / CARD_FILENAME)
    from pneumo.model.runner import ModelRunner

    runner = ModelRunner(model)
    return runner.predict_batch, runner.card


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--model", type=Path, default=Path("assets/model.tflite"))
    parser.add_argument("--split", choices=["val", "test"], default="val")
    args = parser.parse_args(argv)

    predict, card = _predictor(args.model)
    if args.split == "val":
        examples = card_training_split(args.data_dir, card)[1]
    else:
        examples = list_examples(args.data_dir / "test", card.labels)
    with ThreadPoolExecutor(max_workers=2) as pool:
        pixels = list(pool.map(lambda e: load_image(e.path).pixels, examples))
    y = labels_of(examples)
    threshold = card.threshold_for(args.model)
    spec = card.preprocessing
    print(f"{args.model} ({spec.contrast} contrast) on {args.split}, "
          f"n={len(y)}, threshold {threshold:.3f}\n")
    print("| display curve | AUC | sensitivity | specificity |")
    print("|---|---|---|---|")
    aucs = []
    for name, curve in CURVES.items():
        x = np.stack([preprocess(curve(p).astype(np.float32), spec) for p in pixels])
        m = compute_metrics(y, np.asarray(predict(x), np.float64).reshape(-1), threshold)
        aucs.append(m.auc)
        print(f"| {name} | {m.auc:.4f} | {m.sensitivity:.4f} | {m.specificity:.4f} |")
    print(f"| **mean** | **{np.mean(aucs):.4f}** | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
