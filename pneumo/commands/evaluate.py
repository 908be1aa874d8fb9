"""``pneumo evaluate DATA_DIR [--model FILE] [--json FILE|-]``: metrics of a
model on a labelled folder (:func:`pneumo.evaluation.evaluate.evaluate`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pneumo.errors import ModelNotFoundError
from pneumo.evaluation.evaluate import KerasLoader, default_model, evaluate


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
            from pneumo.util.atomic import write_text_atomic

            write_text_atomic(Path(args.json), json.dumps(result.to_dict(), indent=2) + "\n")
    if args.plots:
        from pneumo.evaluation import plots

        args.plots.mkdir(parents=True, exist_ok=True)
        plots.plot_roc(result.labels, result.probabilities, m, args.plots / "roc.png")
        plots.plot_confusion(m, args.plots / "confusion.png")
    return 0
